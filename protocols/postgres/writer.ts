/** Builds one message into an exact-size buffer: measure, then write. */
export class MessageBuilder {
  private parts: (Buffer | number)[] = [];
  private size = 0;
  private kinds: number[] = [];

  int8(v: number): this {
    this.parts.push(v);
    this.kinds.push(1);
    this.size += 1;
    return this;
  }
  int16(v: number): this {
    this.parts.push(v);
    this.kinds.push(2);
    this.size += 2;
    return this;
  }
  int32(v: number): this {
    this.parts.push(v);
    this.kinds.push(4);
    this.size += 4;
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    this.kinds.push(0);
    this.size += b.length;
    return this;
  }
  /** String followed by NUL. Strings must not contain NUL (it would end them early on the wire). */
  cstring(s: string): this {
    const b = Buffer.from(s.includes('\0') ? s.replaceAll('\0', '') : s, 'utf8');
    this.bytes(b);
    return this.int8(0);
  }

  /** Typed message: type byte, Int32 length (counting itself), body. */
  build(type: number): Buffer {
    const out = Buffer.allocUnsafe(this.size + 5);
    out[0] = type;
    out.writeInt32BE(this.size + 4, 1);
    this.writeBody(out, 5);
    return out;
  }

  /** Untyped startup-phase message: Int32 length then body. */
  buildUntyped(): Buffer {
    const out = Buffer.allocUnsafe(this.size + 4);
    out.writeInt32BE(this.size + 4, 0);
    this.writeBody(out, 4);
    return out;
  }

  private writeBody(out: Buffer, pos: number): void {
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i]!;
      switch (this.kinds[i]) {
        case 0:
          (p as Buffer).copy(out, pos);
          pos += (p as Buffer).length;
          break;
        case 1:
          out.writeUInt8((p as number) & 0xff, pos);
          pos += 1;
          break;
        case 2:
          out.writeInt16BE(p as number, pos);
          pos += 2;
          break;
        case 4:
          out.writeInt32BE(p as number, pos);
          pos += 4;
          break;
      }
    }
  }
}
