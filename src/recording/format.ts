/**
 * On-disk format of a session recording (version 1).
 *
 * A recording is one or more numbered segment files. Each file is a sequence of records:
 *
 *   [u32 BE body length][32-byte SHA-256 chain hash][body = kind byte + payload]
 *
 * where hash = SHA-256(previous record's hash || body), chained across segments (the very
 * first record chains over 32 zero bytes). A payload is msgpack; block payloads are
 * compressed with the segment's codec. Hashing the stored bytes lets `verify` find a
 * flipped byte without decompressing anything.
 *
 * Kinds:
 *   H header   first record of segment 1: who, what, when (RecordingHeader), i = 0
 *   S segment  first record of segments 2..n: { seg, codec }
 *   B block    { i, ev: Event[] } with i = 1, 2, … across the whole recording
 *   Z seal     last record: { i, p: msgpack(SealInfo), sig, kid, alg }, sig over (prev hash || p)
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Packr, Unpackr } from 'msgpackr';

export const FORMAT_VERSION = 1;
export const HASH_SIZE = 32;
export const RECORD_OVERHEAD = 4 + HASH_SIZE;
export const ZERO_HASH = Buffer.alloc(HASH_SIZE);

export type Codec = 'none' | 'gzip' | 'brotli';

/** Direction codes in events: 0 client → server, 1 server → client. */
export const DIR_CLIENT = 0;
export const DIR_SERVER = 1;

/**
 * One event: [t, dir, bytes] with t in milliseconds since the recording started (monotonic),
 * or a redaction marker [t, dir, null, what] standing in for an authentication exchange.
 */
export type Event = [t: number, dir: number, bytes: Buffer] | [t: number, dir: number, bytes: null, what: string];

export interface RecordingHeader {
  k: 'header';
  i: 0;
  v: number;
  id: string;
  sub: string;
  target: string;
  role: string;
  protocol: string;
  upstreamUser: string;
  instance: string;
  remoteAddress: string;
  /** ISO time the session logged in. */
  startedAt: string;
  /** ISO time the recording began; event times are offsets from it. */
  recordingStartedAt: string;
  jitgate: string;
  codec: Codec;
}

export interface SegmentPayload {
  k: 'segment';
  id: string;
  seg: number;
  codec: Codec;
}

export interface BlockPayload {
  k: 'block';
  i: number;
  ev: Event[];
}

export interface SealInfo {
  id: string;
  /** Index of the seal record itself (= blocks + 1). */
  i: number;
  segments: number;
  endedAt: string;
  reason: string;
  bytesFromClient: number;
  bytesFromServer: number;
  statements: number;
  /** Milliseconds since the recording started. */
  t: number;
}

export interface SealPayload {
  k: 'seal';
  i: number;
  p: Buffer;
  sig: Buffer | null;
  kid: string | null;
  alg: string | null;
}

export type Payload = RecordingHeader | SegmentPayload | BlockPayload | SealPayload;

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** msgpack of a payload, copied out of msgpackr's shared buffer. */
export function packPayload(p: unknown): Buffer {
  return Buffer.from(packr.pack(p));
}

export function unpackPayload(body: Buffer): unknown {
  return unpackr.unpack(body);
}

export const Kind = { Header: 0x48, Segment: 0x53, Block: 0x42, Seal: 0x5a } as const;
export type KindByte = (typeof Kind)[keyof typeof Kind];

export function chainHash(prev: Buffer, kind: number, payload: Buffer): Buffer {
  return createHash('sha256').update(prev).update(Buffer.of(kind)).update(payload).digest();
}

/** A record as found in a segment file. */
export interface RawRecord {
  /** Byte offset in its segment file. */
  offset: number;
  hash: Buffer;
  kind: number;
  payload: Buffer;
}

/**
 * Splits `buf` into whole records. Returns them and where the unparsed tail begins
 * (a record still being written, or a truncated one).
 */
export function splitRecords(buf: Buffer, base = 0): { records: RawRecord[]; end: number } {
  const records: RawRecord[] = [];
  let pos = 0;
  while (buf.length - pos >= RECORD_OVERHEAD) {
    const len = buf.readUInt32BE(pos);
    if (buf.length - pos - RECORD_OVERHEAD < len) break;
    const body = pos + RECORD_OVERHEAD;
    records.push({
      offset: base + pos,
      hash: buf.subarray(pos + 4, body),
      kind: len > 0 ? buf[body]! : -1,
      payload: buf.subarray(body + 1, body + len),
    });
    pos = body + len;
  }
  return { records, end: pos };
}

// ---- codecs ----

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

export function compress(codec: Codec, body: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return Promise.resolve(body);
    case 'gzip':
      return gzip(body, { level: 6 });
    case 'brotli':
      return brotli(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
  }
}

export function decompressSync(codec: Codec, body: Buffer): Buffer {
  switch (codec) {
    case 'none':
      return body;
    case 'gzip':
      return zlib.gunzipSync(body);
    case 'brotli':
      return zlib.brotliDecompressSync(body);
  }
}

export function isCodec(v: unknown): v is Codec {
  return v === 'none' || v === 'gzip' || v === 'brotli';
}

// ---- file names ----

export const SEGMENT_EXT = '.jgr';
export const INDEX_EXT = '.index.json';

/** Segment 1 is `<id>.jgr`, later ones `<id>.s<n>.jgr`. */
export function segmentPath(dir: string, id: string, seg: number): string {
  return path.join(dir, seg === 1 ? `${id}${SEGMENT_EXT}` : `${id}.s${seg}${SEGMENT_EXT}`);
}

export function indexPath(dir: string, id: string): string {
  return path.join(dir, `${id}${INDEX_EXT}`);
}

/** Session ids are [0-9a-z]; anything else cannot name a recording (and cannot escape the dir). */
export function isRecordingId(id: string): boolean {
  return /^[0-9a-z]{4,64}$/.test(id);
}

// ---- blocks without copying frame bytes ----

/** Frames at least this large are referenced, not copied, into a block. */
const COPY_BELOW = 8192;
const SCRATCH = 64 * 1024;
const SCRATCH_FIRST = 2048;
const EMPTY = Buffer.alloc(0);

/**
 * Builds a block payload as msgpack `{k: 'block', i, ev: [[t, dir, bin], …]}` laid out by
 * hand so large frames are referenced in place: the payload is a list of pieces that are
 * hashed and written with writev, never concatenated (unless compressed).
 */
export class BlockBuilder {
  private pieces: Buffer[] = [];
  /** Allocated on first use and grown with the traffic: an idle session holds almost nothing. */
  private scratch = EMPTY;
  private nextScratch = SCRATCH_FIRST;
  private pos = 0;
  private start = 0;
  count = 0;
  /** Frame bytes held (for backpressure accounting). */
  bytes = 0;

  private room(n: number): void {
    if (this.scratch.length - this.pos >= n) return;
    this.cutScratch();
    this.scratch = Buffer.allocUnsafe(Math.max(this.nextScratch, n));
    this.nextScratch = Math.min(SCRATCH, this.nextScratch * 2);
    this.pos = 0;
    this.start = 0;
  }

  private cutScratch(): void {
    if (this.pos > this.start) this.pieces.push(this.scratch.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  private eventHead(size: number, t: number, dir: number): void {
    this.room(11);
    const s = this.scratch;
    s[this.pos++] = 0x90 | size; // fixarray
    s[this.pos++] = 0xcb; // float 64
    s.writeDoubleBE(t, this.pos);
    this.pos += 8;
    s[this.pos++] = dir; // positive fixint
  }

  add(t: number, dir: number, bytes: Buffer): void {
    this.eventHead(3, t, dir);
    this.room(5);
    this.scratch[this.pos++] = 0xc6; // bin 32
    this.scratch.writeUInt32BE(bytes.length, this.pos);
    this.pos += 4;
    if (bytes.length < COPY_BELOW) {
      this.room(bytes.length);
      bytes.copy(this.scratch, this.pos);
      this.pos += bytes.length;
    } else {
      this.cutScratch();
      this.pieces.push(bytes);
    }
    this.count++;
    this.bytes += bytes.length;
  }

  addRedaction(t: number, dir: number, what: string): void {
    this.eventHead(4, t, dir);
    const tail = packr.pack([null, what]).subarray(1); // nil + str, without the array header
    this.room(tail.length);
    tail.copy(this.scratch, this.pos);
    this.pos += tail.length;
    this.count++;
  }

  /** The payload pieces for block `i`; the builder is then empty again. */
  finish(i: number): Buffer[] {
    this.cutScratch();
    const head = Buffer.allocUnsafe(24);
    let p = 0;
    head[p++] = 0x83; // fixmap 3
    p += head.write('\xa1k\xa5block\xa1i', p, 'latin1');
    head[p++] = 0xce; // uint 32
    head.writeUInt32BE(i, p);
    p += 4;
    p += head.write('\xa2ev', p, 'latin1');
    head[p++] = 0xdd; // array 32
    head.writeUInt32BE(this.count, p);
    p += 4;
    const out = [head.subarray(0, p), ...this.pieces];
    this.pieces = [];
    this.count = 0;
    this.bytes = 0;
    // Keep filling the rest of the scratch buffer: earlier pieces are views that must stay intact.
    return out;
  }
}

export function chainHashPieces(prev: Buffer, kind: number, pieces: readonly Buffer[]): Buffer {
  const h = createHash('sha256').update(prev).update(Buffer.of(kind));
  for (const p of pieces) h.update(p);
  return h.digest();
}

/** Frames one record from payload pieces: returns the buffers to write (header + pieces) and the hash. */
export function frameRecordPieces(prev: Buffer, kind: KindByte, pieces: readonly Buffer[]): { buffers: Buffer[]; hash: Buffer; size: number } {
  const hash = chainHashPieces(prev, kind, pieces);
  let len = 1;
  for (const p of pieces) len += p.length;
  const head = Buffer.allocUnsafe(RECORD_OVERHEAD + 1);
  head.writeUInt32BE(len, 0);
  hash.copy(head, 4);
  head[RECORD_OVERHEAD] = kind;
  return { buffers: [head, ...pieces], hash, size: RECORD_OVERHEAD + len };
}
