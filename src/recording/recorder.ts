/**
 * Records one session: every frame both ways exactly as forwarded, in hash-chained blocks
 * written asynchronously, sealed and indexed at close.
 *
 * Hot path: `frames()` only appends a reference to the block being filled. A block is cut
 * when it holds `blockSize` bytes or `flushMs` after its first event, then packed and queued;
 * one writer loop compresses, chains, frames and writes queued blocks in order, rotating
 * segments at `segmentSize`. `ready` is false while more than `maxBuffer` bytes wait, which
 * pauses the relay; any write error sets `failure`, which ends the session (fail closed).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Direction, FrameObserver, SessionInfo, SessionSummary } from '../engine/types.js';
import { JitError } from '../errors.js';
import {
  DIR_CLIENT,
  DIR_SERVER,
  FORMAT_VERSION,
  Kind,
  RECORD_OVERHEAD,
  ZERO_HASH,
  compress,
  BlockBuilder,
  frameRecordPieces,
  packPayload,
  segmentPath,
  type Codec,
  type KindByte,
  type RecordingHeader,
  type SealInfo,
  type SealPayload,
  type SegmentPayload,
} from './format.js';
import { writeIndex, type RecordingIndex } from './index-file.js';
import type { Signer } from './seal.js';
import { jitgateVersion } from './version.js';

/** The parts of a FileHandle the recorder uses (tests substitute failing ones). */
export interface SegmentFile {
  writev(buffers: Buffer[]): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export interface RecorderOptions {
  dir: string;
  session: SessionInfo;
  instance: string;
  signer: Signer | null;
  codec?: Codec;
  /** Bytes per segment file before rotating to the next. */
  segmentSize?: number;
  /** Raw event bytes per block. */
  blockSize?: number;
  /** A block is written at most this long after its first event. */
  flushMs?: number;
  /** Bytes queued beyond which `ready` turns false. */
  maxBuffer?: number;
  /** Opens a new segment file (exclusive create). */
  openSegment?: (file: string) => Promise<SegmentFile>;
  onError?: (err: Error) => void;
}

export const RECORDER_DEFAULTS = {
  codec: 'none' as Codec,
  segmentSize: 256 * 1024 * 1024,
  blockSize: 256 * 1024,
  flushMs: 100,
  maxBuffer: 8 * 1024 * 1024,
};

const defaultOpen = async (file: string): Promise<SegmentFile> => fs.open(file, 'wx', 0o640);

type Queued = { kind: 'block'; pieces: Buffer[]; raw: number } | { kind: 'seal'; summary: SessionSummary; t: number };

export class Recorder implements FrameObserver {
  private readonly opts: Required<Omit<RecorderOptions, 'signer' | 'onError'>> & Pick<RecorderOptions, 'signer' | 'onError'>;
  private readonly t0 = performance.now();
  private block = new BlockBuilder();
  private timer: NodeJS.Timeout | null = null;
  private nextIndex = 1;
  private queue: Queued[] = [];
  private writing: Promise<void> | null = null;
  private pending = 0;
  private readyCallbacks: (() => void)[] = [];
  private closed = false;
  private closing: Promise<void> | null = null;
  private file: SegmentFile | null = null;
  private segment = 1;
  private segmentBytes = 0;
  private segmentBlocks = 0;
  private totalBytes = 0;
  private records = 0;
  private prev: Buffer = ZERO_HASH;
  private index: RecordingIndex;
  failure?: Error;

  private constructor(opts: RecorderOptions) {
    this.opts = { ...RECORDER_DEFAULTS, openSegment: defaultOpen, ...opts } as Recorder['opts'];
    const s = opts.session;
    this.index = {
      v: 1,
      id: s.id,
      status: 'live',
      sub: s.grant.sub,
      target: s.targetName,
      role: s.grant.role,
      protocol: s.protocol,
      upstreamUser: s.upstreamUser,
      instance: opts.instance,
      remoteAddress: s.remoteAddress,
      startedAt: s.startedAt.toISOString(),
      codec: this.opts.codec,
      host: os.hostname(),
      pid: process.pid,
    };
  }

  /** Creates the first segment and writes the header before any traffic flows; throws JitError('recording_failed'). */
  static async open(opts: RecorderOptions): Promise<Recorder> {
    const r = new Recorder(opts);
    try {
      await fs.mkdir(opts.dir, { recursive: true, mode: 0o750 });
      const header: RecordingHeader = {
        k: 'header',
        i: 0,
        v: FORMAT_VERSION,
        id: r.index.id,
        sub: r.index.sub,
        target: r.index.target,
        role: r.index.role,
        protocol: r.index.protocol,
        upstreamUser: r.index.upstreamUser,
        instance: r.index.instance,
        remoteAddress: r.index.remoteAddress,
        startedAt: r.index.startedAt,
        recordingStartedAt: new Date().toISOString(),
        jitgate: jitgateVersion(),
        codec: r.opts.codec,
      };
      r.file = await r.opts.openSegment(segmentPath(opts.dir, r.index.id, 1));
      await r.writeRecords(r.chain(Kind.Header, [packPayload(header)]));
      await writeIndex(opts.dir, r.index);
    } catch (e) {
      await r.file?.close().catch(() => undefined);
      throw new JitError('recording_failed', 'session recording could not be started', { cause: e });
    }
    return r;
  }

  get id(): string {
    return this.index.id;
  }

  get ready(): boolean {
    return this.pending <= this.opts.maxBuffer && !this.failure;
  }

  onReady(cb: () => void): void {
    if (this.pending <= this.opts.maxBuffer || this.failure) queueMicrotask(cb);
    else this.readyCallbacks.push(cb);
  }

  frames(from: Direction, bytes: Buffer): void {
    if (this.closed || this.failure) return;
    this.block.add(this.now(), from === 'client' ? DIR_CLIENT : DIR_SERVER, bytes);
    this.pending += bytes.length;
    if (this.block.bytes >= this.opts.blockSize) this.cutBlock();
    else this.timer ??= setTimeout(() => this.cutBlock(), this.opts.flushMs);
  }

  redacted(from: Direction, what: string): void {
    if (this.closed || this.failure) return;
    this.block.addRedaction(this.now(), from === 'client' ? DIR_CLIENT : DIR_SERVER, what);
    this.timer ??= setTimeout(() => this.cutBlock(), this.opts.flushMs);
  }

  close(summary: SessionSummary): Promise<void> {
    this.closing ??= this.finish(summary);
    return this.closing;
  }

  private now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  private cutBlock(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.block.count === 0 || this.failure) return;
    const raw = this.block.bytes;
    this.queue.push({ kind: 'block', pieces: this.block.finish(this.nextIndex++), raw });
    this.kick();
  }

  private kick(): void {
    this.writing ??= this.writeLoop().finally(() => {
      this.writing = null;
      if (this.queue.length > 0 && !this.failure) this.kick();
    });
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const batch = this.queue.splice(0);
        const codec = this.opts.codec;
        const bodies = await Promise.all(
          batch.map(async (q) =>
            q.kind !== 'block' ? null : codec === 'none' ? q.pieces : [await compress(codec, Buffer.concat(q.pieces))],
          ),
        );
        let out: Buffer[] = [];
        let size = this.segmentBytes;
        let blocksHere = this.segmentBlocks;
        for (let n = 0; n < batch.length; n++) {
          const q = batch[n]!;
          const body = q.kind === 'block' ? bodies[n]! : [this.sealBody(q.summary, q.t)];
          const recordSize = body.reduce((sum, b) => sum + b.length, RECORD_OVERHEAD + 1);
          if (q.kind === 'block' && blocksHere > 0 && size + recordSize > this.opts.segmentSize) {
            await this.writeRecords(out);
            out = [];
            await this.rotate();
            size = this.segmentBytes;
            blocksHere = 0;
          }
          out.push(...this.chain(q.kind === 'block' ? Kind.Block : Kind.Seal, body));
          size += recordSize;
          blocksHere++;
          this.segmentBlocks = blocksHere;
        }
        await this.writeRecords(out);
        for (const q of batch) if (q.kind === 'block') this.pending -= q.raw;
        this.wakeIfReady();
      }
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private sealBody(summary: SessionSummary, t: number): Buffer {
    const info: SealInfo = {
      id: this.index.id,
      i: this.nextIndex,
      segments: this.segment,
      endedAt: summary.endedAt.toISOString(),
      reason: summary.reason,
      bytesFromClient: summary.bytesFromClient,
      bytesFromServer: summary.bytesFromServer,
      statements: summary.statements,
      t,
    };
    const p = packPayload(info);
    const signer = this.opts.signer;
    const seal: SealPayload = {
      k: 'seal',
      i: this.nextIndex,
      p,
      sig: signer ? signer.sign(Buffer.concat([this.prev, p])) : null,
      kid: signer?.kid ?? null,
      alg: signer?.alg ?? null,
    };
    return packPayload(seal);
  }

  /** Frames `body` onto the chain. */
  private chain(kind: KindByte, pieces: Buffer[]): Buffer[] {
    const { buffers, hash } = frameRecordPieces(this.prev, kind, pieces);
    this.prev = hash;
    this.records++;
    return buffers;
  }

  private async writeRecords(out: Buffer[]): Promise<void> {
    if (out.length === 0) return;
    const file = this.file!;
    let bufs = out;
    let left = bufs.reduce((s, b) => s + b.length, 0);
    this.segmentBytes += left;
    this.totalBytes += left;
    for (;;) {
      const { bytesWritten } = await file.writev(bufs);
      left -= bytesWritten;
      if (left <= 0) return;
      if (bytesWritten <= 0) throw new Error('recording write made no progress');
      bufs = [Buffer.concat(bufs).subarray(bytesWritten)];
    }
  }

  private async rotate(): Promise<void> {
    const old = this.file!;
    this.file = null;
    await old.close();
    this.segment++;
    this.segmentBytes = 0;
    this.segmentBlocks = 0;
    this.file = await this.opts.openSegment(segmentPath(this.opts.dir, this.index.id, this.segment));
    const seg: SegmentPayload = { k: 'segment', id: this.index.id, seg: this.segment, codec: this.opts.codec };
    await this.writeRecords(this.chain(Kind.Segment, [packPayload(seg)]));
  }

  private wakeIfReady(): void {
    if (this.readyCallbacks.length === 0) return;
    if (!this.failure && this.pending > this.opts.maxBuffer / 2) return;
    const cbs = this.readyCallbacks;
    this.readyCallbacks = [];
    for (const cb of cbs) cb();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.queue = [];
    this.block = new BlockBuilder();
    this.opts.onError?.(err);
    // Paused pumps run once more, see `failure` and end the session.
    this.wakeIfReady();
  }

  private async finish(summary: SessionSummary): Promise<void> {
    this.cutBlock();
    this.closed = true;
    if (!this.failure) {
      this.queue.push({ kind: 'seal', summary, t: this.now() });
      this.kick();
    }
    while (this.writing) await this.writing;
    let syncError: Error | undefined;
    if (this.file && !this.failure) await this.file.datasync().catch((e: Error) => (syncError = e));
    await this.file?.close().catch(() => undefined);
    this.file = null;
    if (syncError) this.fail(syncError);
    const idx: RecordingIndex = {
      ...this.index,
      status: this.failure ? 'failed' : 'closed',
      endedAt: summary.endedAt.toISOString(),
      reason: summary.reason,
      bytesFromClient: summary.bytesFromClient,
      bytesFromServer: summary.bytesFromServer,
      statements: summary.statements,
      segments: this.segment,
      records: this.records,
      recordingBytes: this.totalBytes,
      sealed: !this.failure,
      lastHash: this.prev.toString('hex'),
      ...(this.failure ? { error: (this.failure as NodeJS.ErrnoException).code ?? this.failure.message } : {}),
    };
    await writeIndex(this.opts.dir, idx).catch((e: Error) => this.opts.onError?.(e));
  }
}
