/** Decoders for messages a backend (server) sends, §55.7. `buf[start,end)` is the whole message. */
import { Reader, MessageError } from './reader.js';

export interface FieldDescription {
  name: string;
  tableOid: number;
  attnum: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

export function decodeRowDescription(buf: Buffer, start: number, end: number): FieldDescription[] {
  const r = new Reader(buf, start + 5, end);
  const n = r.int16();
  if (n < 0) throw new MessageError('negative field count');
  const fields: FieldDescription[] = new Array(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOid: r.uint32(),
      attnum: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeModifier: r.int32(),
      format: r.int16(),
    };
  }
  r.done();
  return fields;
}

/** DataRow cells as views into the message (null for SQL NULL). */
export function decodeDataRow(buf: Buffer, start: number, end: number): (Buffer | null)[] {
  const r = new Reader(buf, start + 5, end);
  const n = r.int16();
  if (n < 0) throw new MessageError('negative column count');
  const cells: (Buffer | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len < -1) throw new MessageError('invalid value length');
    cells[i] = len === -1 ? null : r.bytes(len);
  }
  r.done();
  return cells;
}

/** ErrorResponse / NoticeResponse: field code → value, in wire order. */
export function decodeErrorFields(buf: Buffer, start: number, end: number): Map<number, string> {
  const r = new Reader(buf, start + 5, end);
  const fields = new Map<number, string>();
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    fields.set(code, r.cstring());
  }
  r.done();
  return fields;
}

export interface NotificationResponse {
  processId: number;
  channel: string;
  payload: string;
}

export function decodeNotificationResponse(buf: Buffer, start: number, end: number): NotificationResponse {
  const r = new Reader(buf, start + 5, end);
  const processId = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  r.done();
  return { processId, channel, payload };
}

export function decodeCommandComplete(buf: Buffer, start: number, end: number): string {
  const r = new Reader(buf, start + 5, end);
  const tag = r.cstring();
  r.done();
  return tag;
}

export function decodeParameterStatus(buf: Buffer, start: number, end: number): { name: string; value: string } {
  const r = new Reader(buf, start + 5, end);
  const name = r.cstring();
  const value = r.cstring();
  r.done();
  return { name, value };
}

export function decodeBackendKeyData(buf: Buffer, start: number, end: number): { processId: number; secretKey: Buffer } {
  const r = new Reader(buf, start + 5, end);
  const processId = r.int32();
  const secretKey = Buffer.from(r.rest());
  // Protocol 3.0 keys are 4 bytes; 3.2 allows up to 256 (the bound CancelRequest enforces).
  if (secretKey.length < 4 || secretKey.length > 256) throw new MessageError('bad BackendKeyData key length');
  return { processId, secretKey };
}

/** Payload sizes of the Authentication requests whose payload has a fixed size. */
const authPayloadSize: Record<number, number> = { 0: 0, 2: 0, 3: 0, 5: 4, 7: 0, 9: 0 };

/** Authentication request: the code and its payload (salt, SASL mechanisms or data). */
export function decodeAuthentication(buf: Buffer, start: number, end: number): { code: number; data: Buffer } {
  const r = new Reader(buf, start + 5, end);
  const code = r.int32();
  const data = r.rest();
  const size = authPayloadSize[code];
  if (size !== undefined && data.length !== size) throw new MessageError(`bad payload size for authentication request ${code}`);
  return { code, data };
}

/** SASL mechanism list of AuthenticationSASL: NUL-terminated names ending with an empty one. */
export function decodeSaslMechanisms(data: Buffer): string[] {
  const r = new Reader(data, 0, data.length);
  const out: string[] = [];
  for (;;) {
    const m = r.cstring();
    if (m === '') {
      r.done();
      return out;
    }
    out.push(m);
  }
}

/** CopyInResponse / CopyOutResponse / CopyBothResponse: overall format and per-column formats. */
export function decodeCopyResponse(buf: Buffer, start: number, end: number): { format: number; columnFormats: number[] } {
  const r = new Reader(buf, start + 5, end);
  const format = r.byte();
  const n = r.int16();
  if (n < 0) throw new MessageError('negative column count');
  const columnFormats: number[] = [];
  for (let i = 0; i < n; i++) columnFormats.push(r.int16());
  r.done();
  return { format, columnFormats };
}

/** ReadyForQuery: transaction status 'I', 'T' or 'E'. */
export function decodeReadyForQuery(buf: Buffer, start: number, end: number): number {
  const r = new Reader(buf, start + 5, end);
  const s = r.byte();
  r.done();
  return s;
}
