/**
 * Masking of the server messages that carry values outside DataRow: ErrorResponse and
 * NoticeResponse fields, NotificationResponse payloads, FunctionCallResponse results and
 * COPY … TO STDOUT rows. Each returns null when the message passes unchanged.
 */
import {
  Backend,
  decodeDataRow,
  decodeErrorFields,
  decodeNotificationResponse,
  encode,
  ErrorField,
  MessageError,
} from '../../../protocols/postgres/index.js';
import type { MaskingHook, ResultMasker } from '../../engine/types.js';
import { JitError } from '../../errors.js';
import type { CellMasker } from '../../masking/masking.js';

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

const ARENA = 64 * 1024;

/**
 * Rewrites DataRows: cells are walked as offsets, only columns the masker marks active are
 * looked at, and a changed row is written once into an append-only arena, so consecutive
 * rewritten rows are one contiguous range (the relay forwards them as one run). Written
 * bytes are never overwritten: a full arena is replaced, not reused.
 */
export class DataRowMasker {
  private arena = Buffer.allocUnsafe(0);
  private used = 0;
  // Scratch for the changed cells of one row (reused).
  private readonly at: number[] = [];
  private readonly oldLen: number[] = [];
  private readonly out: (Buffer | null)[] = [];
  /** Where the last rewritten row is. */
  buf: Buffer = this.arena;
  start = 0;
  end = 0;

  /** True when `buf[start, end)` (a whole DataRow) was rewritten into this.buf/start/end. */
  rewrite(masker: ResultMasker, buf: Buffer, start: number, end: number): boolean {
    const m = masker as Partial<CellMasker>;
    if (!m.maskAt || !m.active) return this.rewriteCells(masker, buf, start, end);
    const active = m.active;
    if (end - start < 7) throw new MessageError('message truncated');
    const n = ((buf[start + 5]! << 24) >> 16) | buf[start + 6]!;
    if (n < 0) throw new MessageError('negative column count');
    if (n > active.length) throw new JitError('masking_failed', 'a row has more columns than its description');
    let changed = 0;
    let grow = 0;
    let pos = start + 7;
    for (let i = 0; i < n; i++) {
      if (pos + 4 > end) throw new MessageError('message truncated');
      const len = (buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!;
      if (len < -1 || pos + 4 + len > end) throw new MessageError(len < -1 ? 'invalid value length' : 'message truncated');
      if (len >= 0 && active[i] === 1) {
        const o = m.maskAt(i, buf, pos + 4, pos + 4 + len);
        if (o !== undefined) {
          this.at[changed] = pos;
          this.oldLen[changed] = len;
          this.out[changed] = o;
          changed++;
          grow += (o === null ? 0 : o.length) - len;
        }
      }
      pos += len > 0 ? 4 + len : 4;
    }
    if (pos !== end) throw new MessageError('message has trailing bytes');
    if (changed === 0) return false;

    const size = end - start + grow;
    if (this.arena.length - this.used < size) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA, size));
      this.used = 0;
    }
    const a = this.arena;
    const o0 = this.used;
    a[o0] = Backend.DataRow;
    putInt32(a, o0 + 1, size - 1);
    let w = o0 + 5;
    let from = start + 5; // copy column count and untouched cells as runs
    for (let k = 0; k < changed; k++) {
      const cellAt = this.at[k]!;
      w += copyRange(buf, from, cellAt, a, w);
      const v = this.out[k]!;
      this.out[k] = null;
      if (v === null) {
        putInt32(a, w, -1);
        w += 4;
      } else {
        putInt32(a, w, v.length);
        w += 4 + copyRange(v, 0, v.length, a, w + 4);
      }
      from = cellAt + 4 + this.oldLen[k]!;
    }
    w += copyRange(buf, from, end, a, w);
    this.used = w;
    this.buf = a;
    this.start = o0;
    this.end = w;
    return true;
  }

  /** Any other ResultMasker: cells as Buffer views. */
  private rewriteCells(masker: ResultMasker, buf: Buffer, start: number, end: number): boolean {
    const cells = decodeDataRow(buf, start, end);
    let changed = false;
    for (let i = 0; i < cells.length; i++) {
      const v = cells[i]!;
      const out = masker.mask(i, v);
      if (out !== v) {
        cells[i] = out;
        changed = true;
      }
    }
    if (!changed) return false;
    this.buf = encode.DataRow(cells);
    this.start = 0;
    this.end = this.buf.length;
    return true;
  }
}

/** Copies src[from, to) to dst at `at`; small runs byte by byte (cheaper than a native call). */
function copyRange(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from;
  if (n > 48) return src.copy(dst, at, from, to);
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  return n;
}

function putInt32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
