/** Encoders for the messages jitgate itself originates, named as in §55.7. */
import { MessageBuilder } from './writer.js';
import { Auth, Backend, ErrorField, Frontend, StartupCode } from './codes.js';

// ---- backend messages jitgate sends to clients ----

export function AuthenticationOk(): Buffer {
  return new MessageBuilder().int32(Auth.Ok).build(Backend.Authentication);
}

export function AuthenticationCleartextPassword(): Buffer {
  return new MessageBuilder().int32(Auth.CleartextPassword).build(Backend.Authentication);
}

export function ParameterStatus(name: string, value: string): Buffer {
  return new MessageBuilder().cstring(name).cstring(value).build(Backend.ParameterStatus);
}

export function BackendKeyData(processId: number, secretKey: Buffer): Buffer {
  return new MessageBuilder().int32(processId).bytes(secretKey).build(Backend.BackendKeyData);
}

export function ReadyForQuery(status: 'I' | 'T' | 'E' = 'I'): Buffer {
  return new MessageBuilder().int8(status.charCodeAt(0)).build(Backend.ReadyForQuery);
}

/** Sent when the client asked for a newer minor version or unknown `_pq_.` options (§55.2.1). */
export function NegotiateProtocolVersion(newestMinor: number, unrecognized: string[]): Buffer {
  const b = new MessageBuilder().int32(newestMinor).int32(unrecognized.length);
  for (const o of unrecognized) b.cstring(o);
  return b.build(Backend.NegotiateProtocolVersion);
}

export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function errorLike(type: number, f: ErrorFields): Buffer {
  const b = new MessageBuilder()
    .int8(ErrorField.Severity)
    .cstring(f.severity)
    .int8(ErrorField.SeverityNonLocalized)
    .cstring(f.severity)
    .int8(ErrorField.Code)
    .cstring(f.code)
    .int8(ErrorField.Message)
    .cstring(f.message);
  if (f.detail) b.int8(ErrorField.Detail).cstring(f.detail);
  if (f.hint) b.int8(ErrorField.Hint).cstring(f.hint);
  return b.int8(0).build(type);
}

export function ErrorResponse(f: ErrorFields): Buffer {
  return errorLike(Backend.ErrorResponse, f);
}

export function NoticeResponse(f: ErrorFields): Buffer {
  return errorLike(Backend.NoticeResponse, f);
}

/** Re-encodes ErrorResponse/NoticeResponse fields in their original order. */
export function encodeErrorFields(type: number, fields: Map<number, string>): Buffer {
  const b = new MessageBuilder();
  for (const [code, value] of fields) b.int8(code).cstring(value);
  return b.int8(0).build(type);
}

export function NotificationResponse(processId: number, channel: string, payload: string): Buffer {
  return new MessageBuilder().int32(processId).cstring(channel).cstring(payload).build(Backend.NotificationResponse);
}

/** Builds a DataRow from cells in one allocation (null = SQL NULL). */
export function DataRow(cells: readonly (Buffer | null)[]): Buffer {
  let size = 4 + 2;
  for (const c of cells) size += 4 + (c ? c.length : 0);
  const out = Buffer.allocUnsafe(size + 1);
  out[0] = Backend.DataRow;
  out.writeInt32BE(size, 1);
  out.writeInt16BE(cells.length, 5);
  let pos = 7;
  for (const c of cells) {
    if (c === null) {
      out.writeInt32BE(-1, pos);
      pos += 4;
    } else {
      out.writeInt32BE(c.length, pos);
      c.copy(out, pos + 4);
      pos += 4 + c.length;
    }
  }
  return out;
}

// ---- frontend messages jitgate sends upstream ----

export function StartupMessage(params: Iterable<[string, string]>, minor = 0): Buffer {
  const b = new MessageBuilder().int32((3 << 16) | minor);
  for (const [k, v] of params) b.cstring(k).cstring(v);
  return b.int8(0).buildUntyped();
}

export function SSLRequest(): Buffer {
  return new MessageBuilder().int32(StartupCode.SSLRequest).buildUntyped();
}

export function CancelRequest(processId: number, secretKey: Buffer): Buffer {
  return new MessageBuilder().int32(StartupCode.CancelRequest).int32(processId).bytes(secretKey).buildUntyped();
}

export function SASLInitialResponse(mechanism: string, data: Buffer): Buffer {
  return new MessageBuilder().cstring(mechanism).int32(data.length).bytes(data).build(Frontend.PasswordMessage);
}

export function SASLResponse(data: Buffer): Buffer {
  return new MessageBuilder().bytes(data).build(Frontend.PasswordMessage);
}

export function PasswordMessage(password: string): Buffer {
  return new MessageBuilder().cstring(password).build(Frontend.PasswordMessage);
}

export function Terminate(): Buffer {
  return new MessageBuilder().build(Frontend.Terminate);
}
