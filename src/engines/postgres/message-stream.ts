/**
 * Pull-style reading of whole messages during login (client handshake, upstream
 * authentication). Not for the relay's hot path, which frames in push style.
 */
import type { Duplex } from 'node:stream';
import { Framer, FrameError } from '../../../protocols/postgres/index.js';

export interface Message {
  type: number;
  buf: Buffer;
  start: number;
  end: number;
}

export class MessageStream {
  readonly framer: Framer;
  private queue: Message[] = [];
  /** Bytes behind a startup-phase packet, framed once the reader asks for the next message. */
  private stash: Buffer | null = null;
  private waiter: { resolve: (m: Message) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private ended = false;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new Error('connection closed'));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    readonly socket: Duplex,
    framer: Framer,
  ) {
    this.framer = framer;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    socket.resume();
  }

  /** True once bytes failed to frame, even while whole messages from before them are still queued. */
  malformed = false;

  /** Whole messages not yet read plus bytes of a partial one. */
  get pendingBytes(): number {
    return this.queue.reduce((n, m) => n + (m.end - m.start), 0) + this.framer.buffered + (this.stash?.length ?? 0);
  }

  private push(chunk: Buffer): void {
    if (this.stash) {
      chunk = Buffer.concat([this.stash, chunk]);
      this.stash = null;
    }
    try {
      const used = this.framer.push(chunk, (type, buf, start, end) => {
        this.queue.push({ type, buf, start, end });
        // In the startup phase the reader decides how the next bytes are framed (TLS, typed
        // messages): stop after each packet and keep the rest until it asks.
        return this.framer.startup ? false : undefined;
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
    if (this.failure || this.ended) return;
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

  next(): Promise<Message> {
    // A reader that comes back after a detach (a login that timed out while it waited) must not wait forever.
    if (this.ended) return Promise.reject(new Error('message stream detached'));
    if (this.queue.length === 0 && this.stash && !this.malformed) this.push(Buffer.alloc(0));
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Stops listening; returns the messages read but not consumed. */
  detach(): Message[] {
    this.ended = true;
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
      w.reject(new Error('message stream detached'));
    }
    return rest;
  }
}

export function isFrameError(e: unknown): e is FrameError {
  return e instanceof FrameError;
}
