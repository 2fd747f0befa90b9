/** Builds one packet payload in a growing buffer (§ Basic Data Types, the inverse of PayloadReader). */
import { ProtocolError } from './reader.js';

/** Bytes int<lenenc> takes for `n` (§ Length-Encoded Integer Type). */
export function lenencIntLength(n: number): number {
  if (n < 0xfb) return 1;
  if (n < 0x10000) return 3;
  if (n < 0x1000000) return 4;
  return 9;
}

export class PayloadWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialCapacity = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.len;
  }

  /** Makes room for `n` more bytes; returns where they go. Read `this.buf` only after calling it (it may be replaced). */
  private reserve(n: number): number {
    const at = this.len;
    if (at + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(at + n, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.len = at + n;
    return at;
  }

  int1(v: number): this {
    const at = this.reserve(1);
    this.buf[at] = v & 0xff;
    return this;
  }

  int2(v: number): this {
    const at = this.reserve(2);
    this.buf.writeUInt16LE(v & 0xffff, at);
    return this;
  }

  int3(v: number): this {
    const at = this.reserve(3);
    this.buf.writeUIntLE(v & 0xffffff, at, 3);
    return this;
  }

  int4(v: number): this {
    const at = this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }

  int8(v: bigint | number): this {
    const at = this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), at);
    return this;
  }

  lenencInt(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new ProtocolError(`cannot length-encode ${n}`);
    if (n < 0xfb) return this.int1(n);
    if (n < 0x10000) return this.int1(0xfc).int2(n);
    if (n < 0x1000000) return this.int1(0xfd).int3(n);
    return this.int1(0xfe).int8(n);
  }

  /** string<lenenc>; null writes 0xFB (NULL in a text row). */
  lenencBytes(b: Buffer | null): this {
    if (b === null) return this.int1(0xfb);
    return this.lenencInt(b.length).bytes(b);
  }

  lenencString(s: string): this {
    return this.lenencBytes(Buffer.from(s, 'utf8'));
  }

  /** string<NUL>. A NUL inside would end the string early on the wire, so it is refused. */
  nulString(s: string): this {
    if (s.includes('\0')) throw new ProtocolError('NUL inside a NUL-terminated string');
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.reserve(n + 1);
    this.buf.write(s, at, n, 'utf8');
    this.buf[at + n] = 0;
    return this;
  }

  /** string<EOF> (or any raw bytes). */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.reserve(n);
    this.buf.write(s, at, n, 'utf8');
    return this;
  }

  bytes(b: Buffer): this {
    const at = this.reserve(b.length);
    b.copy(this.buf, at);
    return this;
  }

  zeros(n: number): this {
    const at = this.reserve(n);
    this.buf.fill(0, at, at + n);
    return this;
  }

  /** The payload: a view of the written bytes. The writer must not be used afterwards. */
  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
