/** Decoders for messages a frontend (client) sends, §55.7. `buf[start,end)` is the whole message. */
import { Reader, MessageError } from './reader.js';
import { StartupCode } from './codes.js';

export type StartupPacket =
  | { kind: 'StartupMessage'; major: number; minor: number; params: Map<string, string> }
  | { kind: 'SSLRequest' }
  | { kind: 'GSSENCRequest' }
  | { kind: 'CancelRequest'; processId: number; secretKey: Buffer }
  | { kind: 'Unknown'; code: number };

/** Untyped startup-phase message: Int32 length, Int32 code/version, body. */
export function decodeStartupPacket(buf: Buffer, start: number, end: number): StartupPacket {
  const r = new Reader(buf, start + 4, end);
  const code = r.int32();
  switch (code) {
    case StartupCode.SSLRequest:
      r.done();
      return { kind: 'SSLRequest' };
    case StartupCode.GSSENCRequest:
      r.done();
      return { kind: 'GSSENCRequest' };
    case StartupCode.CancelRequest: {
      const processId = r.int32();
      // Protocol 3.2 allows secret keys of up to 256 bytes; 3.0 uses 4.
      const secretKey = r.rest();
      if (secretKey.length < 4 || secretKey.length > 256) throw new MessageError('bad CancelRequest key length');
      return { kind: 'CancelRequest', processId, secretKey };
    }
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) return { kind: 'Unknown', code };
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    const value = r.cstring();
    if (params.has(name)) throw new MessageError(`duplicate startup parameter "${name}"`);
    params.set(name, value);
  }
  r.done();
  return { kind: 'StartupMessage', major, minor, params };
}

/** PasswordMessage: the password as a NUL-terminated string. */
export function decodePasswordMessage(buf: Buffer, start: number, end: number): string {
  const r = new Reader(buf, start + 5, end);
  const s = r.cstring();
  r.done();
  return s;
}

/** Query: the SQL text. */
export function decodeQuery(buf: Buffer, start: number, end: number): string {
  const r = new Reader(buf, start + 5, end);
  const sql = r.cstring();
  r.done();
  return sql;
}

export interface ParseMessage {
  statement: string;
  query: string;
  paramTypes: number[];
}

export function decodeParse(buf: Buffer, start: number, end: number): ParseMessage {
  const r = new Reader(buf, start + 5, end);
  const statement = r.cstring();
  const query = r.cstring();
  const n = r.int16();
  if (n < 0) throw new MessageError('negative parameter count');
  const paramTypes: number[] = [];
  for (let i = 0; i < n; i++) paramTypes.push(r.uint32());
  r.done();
  return { statement, query, paramTypes };
}

export interface BindMessage {
  portal: string;
  statement: string;
  paramFormats: number[];
  /** null for SQL NULL. Views into the message buffer. */
  params: (Buffer | null)[];
  resultFormats: number[];
}

export function decodeBind(buf: Buffer, start: number, end: number): BindMessage {
  const r = new Reader(buf, start + 5, end);
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = readInt16Array(r);
  const nParams = r.int16();
  if (nParams < 0) throw new MessageError('negative parameter count');
  const params: (Buffer | null)[] = [];
  for (let i = 0; i < nParams; i++) {
    const len = r.int32();
    params.push(len === -1 ? null : r.bytes(len));
  }
  const resultFormats = readInt16Array(r);
  r.done();
  return { portal, statement, paramFormats, params, resultFormats };
}

function readInt16Array(r: Reader): number[] {
  const n = r.int16();
  if (n < 0) throw new MessageError('negative count');
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.int16());
  return out;
}

export interface ExecuteMessage {
  portal: string;
  maxRows: number;
}

export function decodeExecute(buf: Buffer, start: number, end: number): ExecuteMessage {
  const r = new Reader(buf, start + 5, end);
  const portal = r.cstring();
  const maxRows = r.int32();
  r.done();
  return { portal, maxRows };
}

/** Describe and Close share a layout: 'S' (statement) or 'P' (portal), then a name. */
export interface TargetMessage {
  target: 'statement' | 'portal';
  name: string;
}

export function decodeDescribeOrClose(buf: Buffer, start: number, end: number): TargetMessage {
  const r = new Reader(buf, start + 5, end);
  const t = r.byte();
  if (t !== 0x53 && t !== 0x50) throw new MessageError('Describe/Close target must be S or P');
  const name = r.cstring();
  r.done();
  return { target: t === 0x53 ? 'statement' : 'portal', name };
}
