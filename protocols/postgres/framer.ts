/**
 * Cursor-based framing of a PostgreSQL byte stream (Protocol §55.2 "Message Flow",
 * §55.7 "Message Formats"). Complete messages are handed out as views into the chunk
 * they arrived in; only a message that spans chunks is copied, once, into a buffer of
 * its exact size. Lengths are checked before any allocation.
 */

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Called for each whole message: `buf[start, end)` is the entire message including its
 * type byte (typed phase) and length. `type` is 0 for untyped startup-phase messages.
 * Returning `false` stops framing after this message: `push` then returns how many bytes
 * of the chunk it consumed, and the caller pushes the rest later.
 */
export type MessageHandler = (type: number, buf: Buffer, start: number, end: number) => void | boolean;

export class Framer {
  /** Untyped messages (StartupMessage, SSLRequest, CancelRequest…) until set to false. */
  startup: boolean;
  /** Largest accepted message, in bytes including the header. Lower it before authentication. */
  maxLength: number;

  private readonly header = Buffer.allocUnsafe(5);
  private headerFilled = 0;
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Declared size of the partial message; its buffer may still be smaller. */
  private partialTotal = 0;
  private stopped = false;

  constructor(opts: { startup?: boolean; maxLength: number }) {
    this.startup = opts.startup ?? false;
    this.maxLength = opts.maxLength;
  }

  /** Bytes of an incomplete message held back from the last push. */
  get buffered(): number {
    return this.partial ? this.partialFilled : this.headerFilled;
  }

  /** Frames `chunk`; returns the bytes consumed (all of them unless a handler returned false). */
  push(chunk: Buffer, onMessage: MessageHandler): number {
    let pos = 0;
    const len = chunk.length;
    if (this.headerFilled > 0 || this.partial) {
      pos = this.continuePartial(chunk, onMessage);
      if (pos < 0) return len;
      if (this.stopped) {
        this.stopped = false;
        return pos;
      }
    }
    while (pos < len) {
      // Re-read each time: a handler may end the startup phase mid-chunk.
      const headerSize = this.startup ? 4 : 5;
      if (len - pos < headerSize) {
        chunk.copy(this.header, 0, pos, len);
        this.headerFilled = len - pos;
        return len;
      }
      const total = this.messageSize(chunk, pos);
      if (len - pos >= total) {
        const go = onMessage(this.startup ? 0 : chunk[pos]!, chunk, pos, pos + total);
        pos += total;
        if (go === false) return pos;
      } else {
        const msg = Buffer.allocUnsafe(initialCapacity(total, len - pos));
        chunk.copy(msg, 0, pos, len);
        this.partial = msg;
        this.partialTotal = total;
        this.partialFilled = len - pos;
        return len;
      }
    }
    return len;
  }

  /** Completes a message begun in an earlier chunk. Returns the next unread position, or -1 when the chunk was used up. */
  private continuePartial(chunk: Buffer, onMessage: MessageHandler): number {
    let pos = 0;
    if (!this.partial) {
      const headerSize = this.startup ? 4 : 5;
      const need = headerSize - this.headerFilled;
      const take = Math.min(need, chunk.length);
      chunk.copy(this.header, this.headerFilled, 0, take);
      this.headerFilled += take;
      pos = take;
      if (this.headerFilled < headerSize) return -1;
      const total = this.messageSize(this.header, 0);
      this.partial = Buffer.allocUnsafe(initialCapacity(total, headerSize + chunk.length - pos));
      this.partialTotal = total;
      this.header.copy(this.partial, 0, 0, headerSize);
      this.partialFilled = headerSize;
      this.headerFilled = 0;
    }
    const total = this.partialTotal;
    const take = Math.min(total - this.partialFilled, chunk.length - pos);
    let msg = this.partial;
    if (this.partialFilled + take > msg.length) {
      // Grow geometrically: memory follows the bytes received, not the length a peer declared.
      const grown = Buffer.allocUnsafe(Math.min(total, Math.max(this.partialFilled + take, msg.length * 2)));
      msg.copy(grown, 0, 0, this.partialFilled);
      this.partial = msg = grown;
    }
    chunk.copy(msg, this.partialFilled, pos, pos + take);
    this.partialFilled += take;
    pos += take;
    if (this.partialFilled < total) return -1;
    this.partial = null;
    this.partialFilled = 0;
    this.stopped = onMessage(this.startup ? 0 : msg[0]!, msg, 0, total) === false;
    return pos;
  }

  private messageSize(buf: Buffer, pos: number): number {
    const declared = buf.readInt32BE(this.startup ? pos : pos + 1);
    if (declared < 4) throw new FrameError(`invalid message length ${declared}`);
    const total = this.startup ? declared : declared + 1;
    if (total > this.maxLength) {
      throw new FrameError(`message of ${total} bytes exceeds the limit of ${this.maxLength}`);
    }
    return total;
  }
}

/** A spanning message's first buffer: whole when small, else what has arrived (at least 64 KiB). */
function initialCapacity(total: number, received: number): number {
  return total <= 1 << 16 ? total : Math.min(total, Math.max(1 << 16, received));
}
