/**
 * A bounds-checked cursor over one packet payload, reading the basic data types of the MySQL protocol
 * (§ Basic Data Types: int<n> little-endian, int<lenenc>, string<lenenc>, string<NUL>, string<EOF>).
 * Every read past `end` throws ProtocolError; byte results are views, never copies.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** First byte of a length-encoded integer announcing NULL (a NULL column in a text row). */
export const LENENC_NULL = 0xfb;

export class PayloadReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    if (start < 0 || end > buf.length || start > end) throw new ProtocolError('payload bounds outside the buffer');
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (!(n >= 0) || this.pos + n > this.end) throw new ProtocolError('packet truncated');
  }

  int1(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int2(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  int3(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  int4(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  int8(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * int<lenenc>: < 0xFB itself; 0xFC + int<2>; 0xFD + int<3>; 0xFE + int<8>. Returns null for 0xFB (NULL in a
   * row); 0xFF is invalid (it starts an ERR_Packet). Values above Number.MAX_SAFE_INTEGER throw.
   */
  lenencInt(): number | null {
    const first = this.int1();
    if (first < 0xfb) return first;
    switch (first) {
      case 0xfb:
        return null;
      case 0xfc:
        return this.int2();
      case 0xfd:
        return this.int3();
      case 0xfe: {
        const v = this.int8();
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('length-encoded integer too large');
        return Number(v);
      }
      default:
        throw new ProtocolError('invalid length-encoded integer (0xFF)');
    }
  }

  /** A length-encoded integer that must not be NULL. */
  lenencIntNotNull(): number {
    const v = this.lenencInt();
    if (v === null) throw new ProtocolError('unexpected NULL length-encoded integer');
    return v;
  }

  /** string<lenenc> as a view; null for 0xFB. */
  lenencBytes(): Buffer | null {
    const n = this.lenencInt();
    return n === null ? null : this.bytes(n);
  }

  lenencString(): string {
    const n = this.lenencIntNotNull();
    return this.bytes(n).toString('utf8');
  }

  /** string<NUL> as a view, without its NUL. */
  nulBytes(): Buffer {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw new ProtocolError('unterminated string');
    const b = this.buf.subarray(this.pos, nul);
    this.pos = nul + 1;
    return b;
  }

  nulString(): string {
    return this.nulBytes().toString('utf8');
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** string<EOF>: everything left, as a view. */
  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** Throws unless every byte was read. */
  done(): void {
    if (this.pos !== this.end) throw new ProtocolError('trailing bytes in packet');
  }
}
