/**
 * Cursor-based framing of a MySQL byte stream (§ MySQL Packets: int<3> payload_length, int<1> sequence_id,
 * payload). Physical packets are handed out one by one, as views into the chunk they arrived in; only a packet
 * spanning chunks is copied, once, into its own buffer. Lengths are checked before any allocation.
 *
 * A payload of exactly 0xFFFFFF bytes continues in the next packet (§ Sending More Than 16Mb): the framer does
 * not join those; PayloadAssembler does, for the callers that need a whole logical payload.
 */

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Largest payload of one physical packet; a payload of exactly this length continues in the next packet. */
export const MAX_PAYLOAD = 0xffffff;
export const HEADER_LENGTH = 4;

/**
 * Called for each whole physical packet: `buf[start, end)` is the packet including its 4-byte header.
 * Returning `false` stops framing after this packet: `push` then returns how many bytes of the chunk it
 * consumed, and the caller pushes the rest later.
 */
export type PacketHandler = (seq: number, buf: Buffer, start: number, end: number) => void | boolean;

export class PacketFramer {
  /** Largest accepted payload length; a larger declared length throws FrameError at once. */
  maxLength: number;

  private readonly header = Buffer.allocUnsafe(HEADER_LENGTH);
  private headerFilled = 0;
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Declared size (header included) of the partial packet; its buffer may still be smaller. */
  private partialTotal = 0;
  private stopped = false;

  constructor(opts: { maxLength: number }) {
    this.maxLength = opts.maxLength;
  }

  /** Bytes of an incomplete packet held back from the last push. */
  get buffered(): number {
    return this.partial ? this.partialFilled : this.headerFilled;
  }

  /** Frames `chunk`; returns the bytes consumed (all of them unless a handler returned false). */
  push(chunk: Buffer, onPacket: PacketHandler): number {
    let pos = 0;
    const len = chunk.length;
    if (this.headerFilled > 0 || this.partial) {
      pos = this.continuePartial(chunk, onPacket);
      if (pos < 0) return len;
      if (this.stopped) {
        this.stopped = false;
        return pos;
      }
    }
    while (pos < len) {
      if (len - pos < HEADER_LENGTH) {
        chunk.copy(this.header, 0, pos, len);
        this.headerFilled = len - pos;
        return len;
      }
      const total = this.packetSize(chunk, pos);
      if (len - pos >= total) {
        const go = onPacket(chunk[pos + 3]!, chunk, pos, pos + total);
        pos += total;
        if (go === false) return pos;
      } else {
        const packet = Buffer.allocUnsafe(initialCapacity(total, len - pos));
        chunk.copy(packet, 0, pos, len);
        this.partial = packet;
        this.partialTotal = total;
        this.partialFilled = len - pos;
        return len;
      }
    }
    return len;
  }

  /** Completes a packet begun in an earlier chunk. Returns the next unread position, or -1 when the chunk was used up. */
  private continuePartial(chunk: Buffer, onPacket: PacketHandler): number {
    let pos = 0;
    if (!this.partial) {
      const take = Math.min(HEADER_LENGTH - this.headerFilled, chunk.length);
      chunk.copy(this.header, this.headerFilled, 0, take);
      this.headerFilled += take;
      pos = take;
      if (this.headerFilled < HEADER_LENGTH) return -1;
      const total = this.packetSize(this.header, 0);
      this.partial = Buffer.allocUnsafe(initialCapacity(total, HEADER_LENGTH + chunk.length - pos));
      this.partialTotal = total;
      this.header.copy(this.partial, 0, 0, HEADER_LENGTH);
      this.partialFilled = HEADER_LENGTH;
      this.headerFilled = 0;
    }
    const total = this.partialTotal;
    const take = Math.min(total - this.partialFilled, chunk.length - pos);
    let packet = this.partial;
    if (this.partialFilled + take > packet.length) {
      // Grow geometrically: memory follows the bytes received, not the length a peer declared.
      const grown = Buffer.allocUnsafe(Math.min(total, Math.max(this.partialFilled + take, packet.length * 2)));
      packet.copy(grown, 0, 0, this.partialFilled);
      this.partial = packet = grown;
    }
    chunk.copy(packet, this.partialFilled, pos, pos + take);
    this.partialFilled += take;
    pos += take;
    if (this.partialFilled < total) return -1;
    this.partial = null;
    this.partialFilled = 0;
    this.stopped = onPacket(packet[3]!, packet, 0, total) === false;
    return pos;
  }

  /** Whole packet size (header included) from the header at `pos`. */
  private packetSize(buf: Buffer, pos: number): number {
    const payloadLength = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
    if (payloadLength > this.maxLength) {
      throw new FrameError(`packet of ${payloadLength} bytes exceeds the limit of ${this.maxLength}`);
    }
    return payloadLength + HEADER_LENGTH;
  }
}

/** A spanning packet's first buffer: whole when small, else what has arrived (at least 64 KiB). */
function initialCapacity(total: number, received: number): number {
  return total <= 1 << 16 ? total : Math.min(total, Math.max(1 << 16, received));
}

/** The payload of the physical packet `buf[start, end)` (as handed to a PacketHandler), as a view. */
export function payloadOf(buf: Buffer, start: number, end: number): Buffer {
  return buf.subarray(start + HEADER_LENGTH, end);
}

/** Physical packets a logical payload of `payloadLength` bytes takes (§ Sending More Than 16Mb). */
export function packetCount(payloadLength: number): number {
  return Math.floor(payloadLength / MAX_PAYLOAD) + 1;
}

/** The sequence id that follows a logical payload of `payloadLength` bytes sent with sequence id `seq`. */
export function nextSeq(seq: number, payloadLength: number): number {
  return (seq + packetCount(payloadLength)) & 0xff;
}

/**
 * Frames one logical payload as physical packets starting at sequence id `seq`: pieces of 0xFFFFFF bytes,
 * then the remainder, which is an empty packet when the length is an exact multiple of 0xFFFFFF.
 */
export function packet(seq: number, payload: Buffer): Buffer {
  const count = packetCount(payload.length);
  const out = Buffer.allocUnsafe(payload.length + count * HEADER_LENGTH);
  writePackets(out, 0, seq, payload);
  return out;
}

/** Several logical payloads back to back, sequence ids running on from `seq`. */
export function packets(seq: number, payloads: Buffer[]): Buffer {
  let size = 0;
  for (const p of payloads) size += p.length + packetCount(p.length) * HEADER_LENGTH;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of payloads) {
    at = writePackets(out, at, seq, p);
    seq = nextSeq(seq, p.length);
  }
  return out;
}

function writePackets(out: Buffer, at: number, seq: number, payload: Buffer): number {
  let from = 0;
  for (;;) {
    const n = Math.min(MAX_PAYLOAD, payload.length - from);
    out[at] = n & 0xff;
    out[at + 1] = (n >>> 8) & 0xff;
    out[at + 2] = n >>> 16;
    out[at + 3] = seq & 0xff;
    payload.copy(out, at + HEADER_LENGTH, from, from + n);
    at += HEADER_LENGTH + n;
    from += n;
    seq++;
    if (n < MAX_PAYLOAD) return at;
  }
}

/**
 * Joins the payloads of consecutive physical packets into one logical payload. A payload shorter than
 * 0xFFFFFF ends it; a single-packet payload is returned as is (no copy).
 */
export class PayloadAssembler {
  private parts: Buffer[] = [];
  private size = 0;

  /** @param maxLength largest logical payload accepted; beyond it `add` throws FrameError. */
  constructor(public maxLength: number) {}

  /** Bytes held for an unfinished logical payload. */
  get pending(): number {
    return this.size;
  }

  /** Adds one physical packet's payload (copied when it is a continued piece); returns the whole payload once it ends. */
  add(payload: Buffer): Buffer | null {
    if (this.size + payload.length > this.maxLength) {
      throw new FrameError(`payload of more than ${this.maxLength} bytes`);
    }
    if (payload.length === MAX_PAYLOAD) {
      this.parts.push(Buffer.from(payload));
      this.size += payload.length;
      return null;
    }
    if (this.parts.length === 0) return payload;
    this.parts.push(payload);
    const whole = Buffer.concat(this.parts, this.size + payload.length);
    this.parts = [];
    this.size = 0;
    return whole;
  }
}
