/**
 * Masking of the server messages that carry values outside DataRow: ErrorResponse and
 * NoticeResponse fields, NotificationResponse payloads, FunctionCallResponse results and
 * COPY … TO STDOUT rows. Each returns null when the message passes unchanged.
 */
import {
  Backend,
  decodeErrorFields,
  decodeNotificationResponse,
  encode,
  ErrorField,
} from '../../../protocols/postgres/index.js';
import type { MaskingHook } from '../../engine/types.js';

/** Fields that can quote values (names of schema/table/column/constraint cannot). */
const VALUE_FIELDS = new Set<number>([
  ErrorField.Message,
  ErrorField.Detail,
  ErrorField.Hint,
  ErrorField.Where,
  ErrorField.InternalQuery,
]);

export function maskErrorLike(hook: MaskingHook, type: number, buf: Buffer, start: number, end: number): Buffer | null {
  const fields = decodeErrorFields(buf, start, end);
  let changed = false;
  for (const [code, value] of fields) {
    if (!VALUE_FIELDS.has(code)) continue;
    const m = hook.maskText(value);
    if (m !== value) {
      fields.set(code, m);
      changed = true;
    }
  }
  return changed ? encode.encodeErrorFields(type, fields) : null;
}

export function maskNotification(hook: MaskingHook, buf: Buffer, start: number, end: number): Buffer | null {
  const n = decodeNotificationResponse(buf, start, end);
  const payload = hook.maskText(n.payload);
  return payload === n.payload ? null : encode.NotificationResponse(n.processId, n.channel, payload);
}

/** FunctionCallResponse: Int32 length (-1 NULL) + value; masked as text through the detectors. */
export function maskFunctionResult(hook: MaskingHook, buf: Buffer, start: number, end: number): Buffer | null {
  const len = buf.readInt32BE(start + 5);
  if (len < 0) return null;
  const v = buf.toString('latin1', start + 9, start + 9 + len);
  const m = hook.maskText(v);
  if (m === v) return null;
  const body = Buffer.from(m, 'latin1');
  const out = Buffer.allocUnsafe(9 + body.length);
  out[0] = Backend.FunctionCallResponse;
  out.writeInt32BE(8 + body.length, 1);
  out.writeInt32BE(body.length, 5);
  body.copy(out, 9);
  return out;
}

/** A CopyData message with a new payload. */
export function copyData(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = Backend.CopyData;
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}
