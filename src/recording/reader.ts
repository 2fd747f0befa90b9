/**
 * Reads a recording back, checking the hash chain record by record: for `verify`, `replay`
 * and `replay --follow` (which polls the same reader while the session is live). Reading
 * stops at the first record that does not check out and says where it is.
 */
import fs from 'node:fs/promises';
import {
  HASH_SIZE,
  Kind,
  RECORD_OVERHEAD,
  ZERO_HASH,
  chainHash,
  decompressSync,
  isCodec,
  segmentPath,
  splitRecords,
  unpackPayload,
  type BlockPayload,
  type Codec,
  type Event,
  type RawRecord,
  type RecordingHeader,
  type SealInfo,
  type SealPayload,
  type SegmentPayload,
} from './format.js';
import type { SealVerifier } from './seal.js';

export type SealStatus = 'valid' | 'unsigned' | 'unknown-key';

export type Decoded =
  | { kind: 'header'; header: RecordingHeader }
  | { kind: 'segment'; seg: number }
  | { kind: 'block'; i: number; events: Event[] }
  | { kind: 'seal'; info: SealInfo; signature: SealStatus; kid: string | null };

export interface Problem {
  /** The first bad block (0 = header), or null for a segment-level problem. */
  block: number | null;
  segment: number;
  offset: number;
  message: string;
  /** The last record is incomplete and nothing follows it: a cut, or a crash mid-write. */
  incompleteTail?: boolean;
}

const CHUNK = 4 * 1024 * 1024;

export class RecordingReader {
  header?: RecordingHeader;
  seal?: { info: SealInfo; signature: SealStatus; kid: string | null };
  problem?: Problem;
  /** Blocks read and checked so far. */
  blocks = 0;
  /** Bytes of the segment files read so far. */
  bytesRead = 0;
  segment = 1;

  private file: fs.FileHandle | null = null;
  private fileOffset = 0;
  private tail: Buffer = Buffer.alloc(0);
  private prev: Buffer = ZERO_HASH;
  private expect = 0;
  private atSegmentStart = true;
  private codec: Codec = 'none';

  constructor(
    readonly dir: string,
    readonly id: string,
    private readonly verifier?: SealVerifier,
  ) {}

  get done(): boolean {
    return !!this.seal || !!this.problem;
  }

  /** Bytes of an incomplete record at the end of what was read. */
  get pendingBytes(): number {
    return this.tail.length;
  }

  /** Reads and checks what is on disk now (about `CHUNK` bytes at most per call). Empty: nothing new. */
  async poll(): Promise<Decoded[]> {
    const out: Decoded[] = [];
    while (!this.done) {
      if (!this.file) {
        try {
          this.file = await fs.open(segmentPath(this.dir, this.id, this.segment), 'r');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.segment === 1) {
            throw new Error(`no recording file for session ${this.id}`);
          }
          throw e;
        }
        this.fileOffset = 0;
      }
      const need = this.tail.length >= 4 ? RECORD_OVERHEAD + this.tail.readUInt32BE(0) - this.tail.length : 0;
      const buf = Buffer.allocUnsafe(Math.max(CHUNK, need));
      const { bytesRead } = await this.file.read(buf, 0, buf.length, this.fileOffset);
      if (bytesRead === 0) {
        if (await this.segmentExists(this.segment + 1)) {
          if (this.tail.length > 0) {
            this.fail(this.expect, `block ${this.expect} is incomplete: segment ${this.segment} was cut short`, this.fileOffset - this.tail.length);
            break;
          }
          await this.nextSegment();
          continue;
        }
        break;
      }
      const base = this.fileOffset - this.tail.length;
      this.fileOffset += bytesRead;
      this.bytesRead += bytesRead;
      const data = this.tail.length ? Buffer.concat([this.tail, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const { records, end } = splitRecords(data, base);
      for (const r of records) {
        const d = this.check(r);
        if (!d) break;
        out.push(d);
      }
      this.tail = Buffer.from(data.subarray(end));
      if (out.length > 0) break;
    }
    return out;
  }

  /**
   * Called when no more data will come (not following, or the writer is gone): an incomplete
   * record at the end is a truncation; a gap in the segment numbers is a missing segment.
   */
  async finish(): Promise<void> {
    if (this.done) return;
    if (this.tail.length > 0) {
      this.fail(this.expect, `block ${this.expect} is incomplete: the file was cut short (or a length field altered)`, this.fileOffset - this.tail.length);
      if ((await this.laterSegments()).length === 0) this.problem!.incompleteTail = true;
      return;
    }
    const later = await this.laterSegments();
    if (later.length > 0) {
      this.problem = {
        block: null,
        segment: this.segment + 1,
        offset: 0,
        message: `segment ${this.segment + 1} is missing (segment ${later[0]} exists)`,
      };
    }
  }

  async close(): Promise<void> {
    await this.file?.close().catch(() => undefined);
    this.file = null;
  }

  private async nextSegment(): Promise<void> {
    await this.file?.close().catch(() => undefined);
    this.file = null;
    this.segment++;
    this.atSegmentStart = true;
  }

  private async segmentExists(seg: number): Promise<boolean> {
    try {
      await fs.access(segmentPath(this.dir, this.id, seg));
      return true;
    } catch {
      return false;
    }
  }

  private async laterSegments(): Promise<number[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const prefix = `${this.id}.s`;
    return names
      .filter((n) => n.startsWith(prefix) && n.endsWith('.jgr'))
      .map((n) => Number(n.slice(prefix.length, -4)))
      .filter((n) => Number.isInteger(n) && n > this.segment)
      .sort((a, b) => a - b);
  }

  private fail(block: number | null, message: string, offset: number): null {
    this.problem = { block, segment: this.segment, offset, message };
    return null;
  }

  private decode(r: RawRecord): unknown {
    const bytes = r.kind === Kind.Block ? decompressSync(this.codec, r.payload) : r.payload;
    return unpackPayload(bytes);
  }

  /** Checks one record against the chain; returns what it holds, or null after recording the problem. */
  private check(r: RawRecord): Decoded | null {
    const n = this.expect;
    const name = n === 0 ? 'block 0 (the header)' : `block ${n}`;
    if (this.seal) return this.fail(n, `data after the seal at offset ${r.offset}`, r.offset);
    const intact = r.hash.length === HASH_SIZE && chainHash(this.prev, r.kind, r.payload).equals(r.hash);
    let payload: Record<string, unknown> | null = null;
    try {
      const p = this.decode(r);
      if (p && typeof p === 'object') payload = p as Record<string, unknown>;
    } catch {
      payload = null;
    }
    if (!intact) {
      if (this.atSegmentStart && this.segment > 1) {
        if (payload?.k === 'segment' && payload.seg === this.segment) {
          return this.fail(n, `segment ${this.segment} does not continue the chain: blocks are missing from the end of segment ${this.segment - 1}, or its start was altered`, r.offset);
        }
        return this.fail(n, `segment ${this.segment} does not start where segment ${this.segment - 1} ended (missing, reordered or altered)`, r.offset);
      }
      if (payload && typeof payload.i === 'number' && payload.i !== n) {
        return this.fail(n, `${name} is missing or out of order (found block ${payload.i} in its place)`, r.offset);
      }
      return this.fail(n, `${name} was altered (its hash does not match)`, r.offset);
    }
    if (!payload) return this.fail(n, `${name} cannot be decoded`, r.offset);

    if (this.atSegmentStart) {
      this.atSegmentStart = false;
      if (this.segment === 1) {
        if (r.kind !== Kind.Header || payload.k !== 'header' || payload.i !== 0 || payload.id !== this.id) {
          return this.fail(0, `block 0 is not the header of recording ${this.id}`, r.offset);
        }
        const header = payload as unknown as RecordingHeader;
        this.codec = isCodec(header.codec) ? header.codec : 'none';
        this.header = header;
        this.accept(r.hash);
        return { kind: 'header', header };
      }
      const seg = payload as unknown as SegmentPayload;
      if (r.kind !== Kind.Segment || seg.k !== 'segment' || seg.seg !== this.segment || seg.id !== this.id) {
        return this.fail(n, `segment ${this.segment} does not start with its segment record`, r.offset);
      }
      this.codec = isCodec(seg.codec) ? seg.codec : 'none';
      this.prev = Buffer.from(r.hash);
      return { kind: 'segment', seg: this.segment };
    }

    if (payload.i !== n) return this.fail(n, `${name} is out of order (found block ${String(payload.i)})`, r.offset);
    if (r.kind === Kind.Block && payload.k === 'block') {
      const b = payload as unknown as BlockPayload;
      if (!Array.isArray(b.ev)) return this.fail(n, `${name} cannot be decoded`, r.offset);
      this.accept(r.hash);
      this.blocks++;
      return { kind: 'block', i: n, events: b.ev };
    }
    if (r.kind === Kind.Seal && payload.k === 'seal') {
      const s = payload as unknown as SealPayload;
      let info: SealInfo;
      try {
        info = unpackPayload(s.p) as SealInfo;
      } catch {
        return this.fail(n, `the seal (block ${n}) cannot be decoded`, r.offset);
      }
      if (info.id !== this.id || info.i !== n) return this.fail(n, `the seal (block ${n}) belongs to another recording or position`, r.offset);
      let signature: SealStatus = 'unsigned';
      if (s.sig && s.kid && s.alg) {
        if (this.verifier) {
          const ok = this.verifier.verify(s.kid, s.alg, Buffer.concat([this.prev, s.p]), s.sig);
          if (ok === false) return this.fail(n, `the seal (block ${n}) has a bad signature`, r.offset);
          signature = ok === null ? 'unknown-key' : 'valid';
        } else {
          signature = 'unknown-key';
        }
      }
      this.accept(r.hash);
      this.seal = { info, signature, kid: s.kid };
      return { kind: 'seal', info, signature, kid: s.kid };
    }
    return this.fail(n, `${name} has an unknown record kind`, r.offset);
  }

  private accept(hash: Buffer): void {
    this.prev = Buffer.from(hash);
    this.expect++;
  }
}
