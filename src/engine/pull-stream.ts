/**
 * Pull-style reading of whole messages during login (a client's handshake, an upstream's
 * authentication), for both engines. When `pauseAfterEach()` says so, it frames one message
 * per read and keeps the rest of the chunk unframed until the reader asks: what follows may
 * have to be read through TLS or framed differently. Not the relay's hot path.
 */
import type { Duplex } from 'node:stream';
import type { Framing, PendingPacket } from './pump.js';

export class PullStream<M extends PendingPacket> {
  private queue: M[] = [];
  /** Bytes behind a message not framed yet (see pauseAfterEach). */
  private stash: Buffer | null = null;
  private waiter: { resolve: (m: M) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private detached = false;
  /** True once bytes failed to frame, even while whole messages from before them are still queued. */
  malformed = false;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new Error('connection closed'));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    readonly socket: Duplex,
    private readonly framing: Framing & { readonly buffered: number },
    private readonly make: (kind: number, buf: Buffer, start: number, end: number) => M,
    private readonly pauseAfterEach: () => boolean,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    socket.resume();
  }

  /** Whole messages not yet read plus bytes of unframed or partial ones. */
  get pendingBytes(): number {
    return this.queue.reduce((n, m) => n + (m.end - m.start), 0) + this.framing.buffered + (this.stash?.length ?? 0);
  }

  private push(chunk: Buffer, all = false): void {
    if (this.stash) {
      chunk = chunk.length ? Buffer.concat([this.stash, chunk]) : this.stash;
      this.stash = null;
    }
    try {
      const used = this.framing.push(chunk, (kind, buf, start, end) => {
        this.queue.push(this.make(kind, buf, start, end));
        return !all && this.pauseAfterEach() ? false : undefined;
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
    const m = this.queue.shift();
    if (m) {
      this.waiter = null;
      w.resolve(m);
    } else if (this.failure) {
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  next(): Promise<M> {
    // A reader that comes back after a detach (a login that timed out while it waited) must not wait forever.
    if (this.detached) return Promise.reject(new Error('stream detached'));
    if (this.queue.length === 0 && this.stash && !this.malformed) this.push(Buffer.alloc(0));
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops listening; returns the bytes read but not framed (null when a whole message is still queued). */
  detachRaw(): Buffer | null {
    if (this.queue.length) return null;
    const rest = this.stash;
    this.stash = null;
    this.detach();
    return rest ?? Buffer.alloc(0);
  }

  /** Stops listening; frames what is left and returns every message read but not consumed. */
  detach(): M[] {
    if (!this.detached && this.stash && !this.malformed) this.push(Buffer.alloc(0), true);
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
      w.reject(new Error('stream detached'));
    }
    return rest;
  }
}
