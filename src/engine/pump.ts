/**
 * One direction of a relay: reads a socket, frames it, lets a handler pass or rewrite each
 * message into a BatchWriter, writes once per read. Backpressure: stops reading while the
 * destination or an observer (the recording) is full, or while asynchronous work runs.
 * Protocol-neutral: the PostgreSQL and MySQL relays each bring their framer and handler.
 */
import type { Duplex } from 'node:stream';
import { BatchWriter } from './batch-writer.js';
import { JitError } from '../errors.js';
import type { Direction, FrameObserver } from './types.js';

/** Called per whole message: `kind` is the type byte (PostgreSQL) or sequence id (MySQL). Return false to pause. */
export type PacketHandler = (kind: number, buf: Buffer, start: number, end: number) => void | boolean;

/** A cursor framer: frames `chunk`, calls `onPacket` per whole message, returns the bytes consumed. */
export interface Framing {
  push(chunk: Buffer, onPacket: PacketHandler): number;
}

/** A message read during login but not yet handled. */
export interface PendingPacket {
  type: number;
  buf: Buffer;
  start: number;
  end: number;
}

/** Reads one socket, frames it, lets `handle` pass/rewrite each message into `out`. */
export class Pump {
  private stash: Buffer | null = null;
  private waiting = 0; // reasons not to read: 1 destination full, 2 observer full, 4 async work
  private finished = false;
  /** Time of the last read, for limits.idleTimeout. */
  lastRead = Date.now();
  readonly out: BatchWriter;
  onEnd: (why: string, err?: unknown) => void = () => undefined;

  constructor(
    readonly name: Direction,
    private readonly source: Duplex,
    private readonly dest: Duplex,
    private readonly framer: Framing,
    private readonly observers: readonly FrameObserver[],
    private readonly handle: PacketHandler,
  ) {
    this.out = new BatchWriter(dest, name, observers);
  }

  start(pending: PendingPacket[]): void {
    this.source.on('data', (chunk: Buffer) => this.onData(chunk));
    this.source.on('end', () => this.end(`${this.name} closed the connection`));
    this.source.on('close', () => this.end(`${this.name} connection closed`));
    this.source.on('error', (e) => this.end(`${this.name} connection failed`, e));
    this.dest.on('drain', () => this.unblock(1));
    try {
      for (const m of pending) {
        if (this.handle(m.type, m.buf, m.start, m.end) === false) {
          throw new Error('asynchronous work during login is not supported');
        }
      }
      pending.length = 0;
      this.flush();
    } catch (e) {
      this.end('invalid message', e);
      return;
    }
    this.source.resume();
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.waiting !== 0 || this.stash) {
      // A read that raced with pause(): keep order by queueing behind the stash.
      this.stash = this.stash ? Buffer.concat([this.stash, chunk]) : chunk;
      this.source.pause();
      return;
    }
    this.process(chunk);
  }

  private process(chunk: Buffer): void {
    this.lastRead = Date.now();
    let consumed: number;
    try {
      consumed = this.framer.push(chunk, this.handle);
    } catch (e) {
      this.flush();
      this.end('invalid message', e);
      return;
    }
    if (consumed < chunk.length) this.stash = chunk.subarray(consumed);
    this.flush();
  }

  private flush(): void {
    // Fail closed: nothing is forwarded once an observer (the recording) has failed.
    for (const o of this.observers) {
      if (o.failure) {
        this.out.discard();
        this.end('recording failed', new JitError('recording_failed', 'session recording failed: the session ends'));
        return;
      }
    }
    if (!this.out.flush()) this.block(1);
    for (const o of this.observers) {
      if (!o.ready) {
        this.block(2);
        o.onReady(() => this.unblock(2));
      }
    }
  }

  block(reason: number): void {
    if (this.waiting === 0) this.source.pause();
    this.waiting |= reason;
  }

  unblock(reason: number): void {
    if (!(this.waiting & reason)) return;
    this.waiting &= ~reason;
    if (this.waiting !== 0 || this.finished) return;
    const s = this.stash;
    this.stash = null;
    if (s) this.process(s);
    if (this.waiting === 0 && !this.stash && !this.finished) this.source.resume();
  }

  /** Runs async work (e.g. resolving masking rules); reading resumes after it. */
  await(p: Promise<unknown>): void {
    this.block(4);
    p.then(
      () => this.unblock(4),
      (e) => this.end('internal error', e),
    );
  }

  end(why: string, err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.onEnd(why, err);
  }
}
