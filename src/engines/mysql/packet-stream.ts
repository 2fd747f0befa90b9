/**
 * Pull-style reading of whole packets during login (the client's handshake, the upstream's
 * authentication). It frames one packet per read: what follows may have to be read through
 * TLS, so the rest of a chunk is kept unframed until the reader asks. Not the relay's hot path.
 */
import type { Duplex } from 'node:stream';
import { PacketFramer, payloadOf } from '../../../protocols/mysql/index.js';
import type { PendingPacket } from '../../engine/pump.js';

export interface Packet extends PendingPacket {
  /** Sequence id (PendingPacket.type for the relay's handler). */
  type: number;
  payload: Buffer;
}

export class PacketStream {
  private queue: Packet[] = [];
  private stash: Buffer | null = null;
  private waiter: { resolve: (p: Packet) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private detached = false;
  /** Set once bytes failed to frame (a length above the framer's limit). */
  malformed = false;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new Error('connection closed'));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    readonly socket: Duplex,
    readonly framer: PacketFramer,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    socket.resume();
  }

  /** Whole packets not yet read plus unframed bytes. */
  get pendingBytes(): number {
    return this.queue.reduce((n, p) => n + (p.end - p.start), 0) + this.framer.buffered + (this.stash?.length ?? 0);
  }

  private push(chunk: Buffer, all = false): void {
    if (this.stash) {
      chunk = this.stash.length ? Buffer.concat([this.stash, chunk]) : chunk;
      this.stash = null;
    }
    try {
      const used = this.framer.push(chunk, (seq, buf, start, end) => {
        this.queue.push({ type: seq, buf, start, end, payload: payloadOf(buf, start, end) });
        return all ? undefined : false;
      });
      if (used < chunk.length) this.stash = chunk.subarray(used);
    } catch (e) {
      this.malformed = true;
      this.fail(e as Error);
      return;
    }
    this.deliver();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.deliver();
  }

  private deliver(): void {
    if (!this.waiter) return;
    const w = this.waiter;
    const p = this.queue.shift();
    if (p) {
      this.waiter = null;
      w.resolve(p);
    } else if (this.failure) {
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  next(): Promise<Packet> {
    // A reader that comes back after a detach (a login that timed out while it waited) must not wait forever.
    if (this.detached) return Promise.reject(new Error('packet stream detached'));
    if (this.queue.length === 0 && this.stash && !this.malformed) this.push(Buffer.alloc(0));
    const p = this.queue.shift();
    if (p) return Promise.resolve(p);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops listening; returns the bytes read but not framed (none when a whole packet is still queued: null). */
  detachRaw(): Buffer | null {
    if (this.queue.length) return null;
    const rest = this.stash;
    this.stash = null;
    this.detach();
    return rest ?? Buffer.alloc(0);
  }

  /** Stops listening; frames what is left and returns every packet read but not consumed. */
  detach(): Packet[] {
    if (this.stash && !this.malformed) this.push(Buffer.alloc(0), true);
    this.detached = true;
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = this.queue;
    this.queue = [];
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(new Error('packet stream detached'));
    }
    return rest;
  }
}
