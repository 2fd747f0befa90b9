/**
 * Collects what one read of a socket produced for the other side — untouched messages
 * as views merged into contiguous runs of the chunk they came in, rewritten ones as new
 * buffers — and writes it in one corked batch. Observers (recording) see exactly the
 * bytes written, in order.
 */
import type { Duplex } from 'node:stream';
import type { Direction, FrameObserver } from './types.js';

export class BatchWriter {
  private pieces: Buffer[] = [];
  private runBuf: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;
  bytes = 0;

  constructor(
    private readonly dest: Duplex,
    private readonly from: Direction,
    private readonly observers: readonly FrameObserver[],
  ) {}

  /** Forwards `buf[start, end)` unchanged. */
  pass(buf: Buffer, start: number, end: number): void {
    if (buf === this.runBuf && start === this.runEnd) {
      this.runEnd = end;
      return;
    }
    this.closeRun();
    this.runBuf = buf;
    this.runStart = start;
    this.runEnd = end;
  }

  /** Forwards a buffer jitgate built (a rewritten or injected message). */
  emit(b: Buffer): void {
    this.closeRun();
    this.pieces.push(b);
  }

  private closeRun(): void {
    if (this.runBuf) {
      this.pieces.push(
        this.runStart === 0 && this.runEnd === this.runBuf.length
          ? this.runBuf
          : this.runBuf.subarray(this.runStart, this.runEnd),
      );
      this.runBuf = null;
    }
  }

  get empty(): boolean {
    return this.pieces.length === 0 && this.runBuf === null;
  }

  /** Drops what was collected without writing it. */
  discard(): void {
    this.pieces = [];
    this.runBuf = null;
  }

  /** Writes what was collected. Returns false when the destination asks to wait for 'drain'. */
  flush(): boolean {
    this.closeRun();
    const pieces = this.pieces;
    if (pieces.length === 0) return true;
    this.pieces = [];
    for (const o of this.observers) for (const p of pieces) o.frames(this.from, p);
    if (pieces.length === 1) {
      this.bytes += pieces[0]!.length;
      return this.dest.write(pieces[0]!);
    }
    this.dest.cork();
    for (const p of pieces) {
      this.bytes += p.length;
      this.dest.write(p);
    }
    this.dest.uncork();
    return !this.dest.writableNeedDrain;
  }
}
