/**
 * The MySQL fuzz targets, shared by `npm run fuzz` and the fixed-seed run in the test suite:
 *  - decoders: every payload decoder in protocols/mysql, the packet framer (random chunking)
 *    and payload assembler, and the relay's ResponseTracker, on mutated packets; the only
 *    acceptable failures are ProtocolError/FrameError;
 *  - proxy: mutated connection-phase packets, and mutated commands after a real login, to an
 *    in-process proxy's MySQL listener; every connection must close after the client's FIN,
 *    whatever the proxy sent must be whole packets (ERR, AuthMoreData or AuthSwitchRequest
 *    before login), and no unmasked value may reach the client (commands are answered before
 *    the FIN).
 * A failing input is written to test/hostile/regressions/mysql/ as JSON, replayed by the suite.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as my from '../../../protocols/mysql/index.js';
import { ResponseTracker, type ResponseKind } from '../../../src/engines/mysql/response-tracker.js';
import { TARGET, type MysqlBench } from '../harness-mysql.js';
import { CAP, CLIENT_CAPS, MysqlWire, isErr, isOk, parseErr, rawPacket } from '../mysql-wire.js';
import {
  Rng,
  authAnswerPayload,
  authMoreDataPayload,
  authSwitchPayload,
  binaryRowPayload,
  columnCountPayload,
  columnDefinitionPayload,
  columnShape,
  commandPayload,
  eofPayload,
  errPayload,
  handshakeResponsePayload,
  handshakeV10Payload,
  maybeMutate,
  mutate,
  okPayload,
  responsePayloads,
  sslRequestPayload,
  stmtPrepareOkPayload,
  textRowPayload,
} from './mysql-frames.js';

export const MYSQL_REGRESSIONS = path.resolve(import.meta.dirname, '../regressions/mysql');

export interface MysqlRegression {
  target: 'mysql-decoders' | 'mysql-proxy-handshake' | 'mysql-proxy-session';
  seed: number;
  error: string;
  /** Hex of each write, in order (decoders: the bytes fed to the framer, then "decoder,decoder@argument seed"). */
  frames: string[];
}

export interface MysqlFuzzReport {
  target: string;
  frames: number;
  ms: number;
  failures: MysqlRegression[];
  heapBefore: number;
  heapAfter: number;
}

const acceptable = (e: unknown): boolean => e instanceof my.ProtocolError || e instanceof my.FrameError;

/** Capabilities a decoder is called with when it takes them. */
const capabilitySets = [0, CAP.PROTOCOL_41, CAP.PROTOCOL_41 | CAP.SESSION_TRACK, CAP.TRANSACTIONS, CLIENT_CAPS | CAP.SESSION_TRACK | CAP.DEPRECATE_EOF];

interface Decoder {
  name: string;
  /** A valid payload of the kind this decoder reads. */
  make(r: Rng): Buffer;
  decode(payload: Buffer, r: Rng): unknown;
}

/** Every decoder of protocols/mysql, each with the generator of what it is meant to read. */
export const decoders: Decoder[] = [
  { name: 'HandshakeV10', make: handshakeV10Payload, decode: (p) => my.decodeHandshakeV10(p) },
  { name: 'HandshakeResponse41', make: handshakeResponsePayload, decode: (p) => my.decodeHandshakeResponse41(p) },
  { name: 'SSLRequest', make: sslRequestPayload, decode: (p) => my.isSSLRequest(p) && my.decodeSSLRequest(p) },
  { name: 'AuthSwitchRequest', make: authSwitchPayload, decode: (p) => my.scrambleOf(my.decodeAuthSwitchRequest(p).pluginData) },
  { name: 'AuthMoreData', make: authMoreDataPayload, decode: (p) => my.decodeAuthMoreData(p) },
  { name: 'OK_Packet', make: (r) => okPayload(r, r.chance(0.3) ? 0xfe : 0), decode: (p, r) => my.isOkPacket(p) && my.isResultsetEnd(p) && my.decodeOkPacket(p, r.pick(capabilitySets)) },
  { name: 'ERR_Packet', make: errPayload, decode: (p, r) => my.isErrPacket(p) && my.decodeErrPacket(p, r.pick(capabilitySets)) },
  { name: 'EOF_Packet', make: eofPayload, decode: (p) => my.isEofPacket(p) && my.decodeEofPacket(p) },
  { name: 'ColumnCount', make: columnCountPayload, decode: (p) => my.isLocalInfileRequest(p) || my.decodeColumnCount(p) },
  { name: 'ColumnDefinition41', make: (r) => columnDefinitionPayload(r), decode: (p) => my.decodeColumnDefinition41(p) },
  { name: 'TextRow', make: (r) => textRowPayload(r, r.int(5) + 1), decode: (p, r) => my.decodeTextRow(p, r.int(6)) },
  {
    name: 'BinaryRow',
    make: (r) => binaryRowPayload(r, Array.from({ length: r.int(5) + 1 }, () => columnShape(r))),
    decode: (p, r) => my.decodeBinaryRow(p, Array.from({ length: r.int(6) }, () => columnShape(r))),
  },
  { name: 'COM_QUERY', make: commandPayload, decode: (p) => my.decodeComQuery(p) },
  { name: 'COM_STMT_PREPARE', make: commandPayload, decode: (p) => my.decodeComStmtPrepare(p) },
  { name: 'COM_STMT_PREPARE_OK', make: stmtPrepareOkPayload, decode: (p) => my.decodeStmtPrepareOk(p) },
  { name: 'COM_STMT_EXECUTE', make: commandPayload, decode: (p) => my.decodeComStmtExecute(p) },
];

const trackerKinds: Exclude<ResponseKind, 'local'>[] = ['resultset', 'binary', 'prepare', 'single', 'fieldList', 'fetch'];

/** Feeds `bytes` through a framer in random chunks (byte by byte when replaying) and each payload to `decode`. */
function throughFramer(bytes: Buffer, r: Rng | null, decode: (payload: Buffer) => void): void {
  const framer = new my.PacketFramer({ maxLength: 1 << 20 });
  const assembler = new my.PayloadAssembler(1 << 20);
  const onPacket = (_seq: number, buf: Buffer, start: number, end: number) => {
    const payload = my.payloadOf(buf, start, end);
    decode(payload);
    try {
      assembler.add(payload);
    } catch (e) {
      if (!acceptable(e)) throw e;
    }
  };
  try {
    let at = 0;
    while (at < bytes.length) {
      const n = r ? 1 + r.int(bytes.length - at) : 1;
      const chunk = bytes.subarray(at, at + n);
      // A handler never stops the framer here: push consumes the whole chunk.
      const used = framer.push(chunk, onPacket);
      if (used !== chunk.length) throw new Error(`framer consumed ${used} of ${chunk.length} bytes`);
      at += n;
    }
  } catch (e) {
    if (!acceptable(e)) throw e;
  }
}

/** Every payload framed from `frame` through each of `list`, arguments drawn from `argSeed`. */
function decodeWith(list: Decoder[], frame: Buffer, argSeed: number, chunks: Rng | null): void {
  const args = new Rng(argSeed);
  throughFramer(frame, chunks, (p) => {
    for (const d of list) call(d, p, args);
  });
}

/** Calls `d` on `payload`; throws what is not acceptable. */
function call(d: Decoder, payload: Buffer, r: Rng): void {
  try {
    d.decode(payload, r);
  } catch (e) {
    if (!acceptable(e)) throw e;
  }
}

/** A command kind, then a (mutated) server response, through the relay's ResponseTracker; `chunks`: random chunking (null: byte by byte). */
function trackResponse(args: Rng, bytes: Buffer[], chunks: Rng | null): void {
  const caps = args.chance(0.5) ? CLIENT_CAPS | CAP.DEPRECATE_EOF | CAP.SESSION_TRACK : CLIENT_CAPS;
  const t = new ResponseTracker(caps);
  t.command(args.pick(trackerKinds), { statementId: 1, sql: 'select 1' });
  try {
    for (const b of bytes) {
      throughFramer(b, chunks, (p) => {
        t.next(p);
        void t.columns;
        void t.binary;
        void t.inRows;
      });
    }
  } catch (e) {
    if (!acceptable(e)) throw e;
  }
}

function save(reg: MysqlRegression): string {
  fs.mkdirSync(MYSQL_REGRESSIONS, { recursive: true });
  const name = `${reg.target}-${crypto.createHash('sha256').update(reg.frames.join('|')).digest('hex').slice(0, 12)}.json`;
  fs.writeFileSync(path.join(MYSQL_REGRESSIONS, name), JSON.stringify(reg, null, 2) + '\n');
  return name;
}

/** One framed, mutated packet of what `d` reads. */
function mutatedFor(r: Rng, d: Decoder): Buffer {
  let frame = mutate(r, rawPacket(r.int(4), d.make(r)));
  if (r.chance(0.2)) frame = mutate(r, frame);
  return frame;
}

/**
 * `frames` mutated packets. Mixed (default): each packet goes to the decoder it was made for
 * and one other, and every 8th frame is a whole response through the ResponseTracker.
 * `only`: every packet to that one decoder (`npm run fuzz` reports frames/s per decoder).
 */
export function fuzzMysqlDecoders(frames: number, seed: number, opts: { write?: boolean; only?: string } = {}): MysqlFuzzReport {
  const r = new Rng(seed);
  const failures: MysqlRegression[] = [];
  const only = opts.only === undefined ? null : decoders.find((d) => d.name === opts.only);
  if (opts.only !== undefined && !only && opts.only !== 'ResponseTracker') throw new Error(`no decoder ${opts.only}`);
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    const fail = (e: unknown, bytes: Buffer[], descriptor: string) => {
      const reg: MysqlRegression = { target: 'mysql-decoders', seed, error: String((e as Error)?.stack ?? e).slice(0, 500), frames: [...bytes.map((b) => b.toString('hex')), descriptor] };
      failures.push(reg);
      if (opts.write !== false) save(reg);
    };
    // Decoder arguments (capabilities, column counts and types) come from a seed of their own: a replay draws the same.
    const argSeed = r.int(2 ** 31);
    if (opts.only === 'ResponseTracker' || (!only && i % 8 === 7)) {
      const kind = r.pick(trackerKinds);
      const response = responsePayloads(r, kind, r.chance(0.5)).map((p, seq) => maybeMutate(r, rawPacket(seq + 1, p), 0.15));
      try {
        trackResponse(new Rng(argSeed), response, r);
      } catch (e) {
        fail(e, response, `ResponseTracker@${argSeed}`);
      }
      continue;
    }
    const pair = only ? [only] : [r.pick(decoders), r.pick(decoders)];
    const frame = mutatedFor(r, pair[0]!);
    try {
      decodeWith(pair, frame, argSeed, r);
    } catch (e) {
      fail(e, [frame], `${pair.map((d) => d.name).join(',')}@${argSeed}`);
    }
  }
  return { target: only ? only.name : opts.only ?? 'mysql decoders', frames, ms: performance.now() - t0, failures, heapBefore, heapAfter: process.memoryUsage().heapUsed };
}

/** Replays a decoder regression: throws when a decoder still fails it. */
export function replayMysqlDecoders(reg: MysqlRegression): void {
  const [names, argSeed] = reg.frames.at(-1)!.split('@') as [string, string];
  const bytes = reg.frames.slice(0, -1).map((h) => Buffer.from(h, 'hex'));
  if (names === 'ResponseTracker') {
    trackResponse(new Rng(Number(argSeed)), bytes, null);
    return;
  }
  const list = names.split(',').map((n) => {
    const d = decoders.find((x) => x.name === n);
    if (!d) throw new Error(`regression names an unknown decoder ${n}`);
    return d;
  });
  for (const b of bytes) decodeWith(list, b, Number(argSeed), null);
}

/** Values of the upstream's customers table that masking must keep from the client. */
const CLEAR_VALUES = ['078-05-1120', '219-09-9999', '457-55-5462'];

/**
 * Writes `writes`, then a FIN; the proxy must close within `closeMs`. After login, each write
 * (a few commands) is answered before the next, and the last before the FIN (a FIN ends the
 * session at once). Before login, whatever the proxy sent must be whole packets of the login
 * exchange; at any time, no clear value of a masked column.
 */
async function sendAndCheck(w: MysqlWire, writes: Buffer[], closeMs: number, phase: 'handshake' | 'session', tlsAsked: boolean): Promise<string | null> {
  const before = w.pending.length;
  for (const f of writes) {
    w.write(f);
    if (phase === 'session') await w.settle(50, 5000);
  }
  w.end();
  try {
    await w.closedByServer(closeMs);
  } catch {
    return `the proxy did not close the connection within ${closeMs} ms of the client's FIN`;
  } finally {
    w.destroy();
  }
  const got = w.pending;
  const leaked = CLEAR_VALUES.find((v) => got.includes(v));
  if (leaked) return `an unmasked value (${leaked}) reached the client`;
  if (phase === 'handshake' && !tlsAsked) {
    let at = before;
    while (at < got.length) {
      if (got.length - at < 4) return `the proxy sent ${got.length - at} stray bytes`;
      const len = got.readUIntLE(at, 3);
      if (at + 4 + len > got.length) return 'the proxy sent a partial packet before closing';
      const first = got[at + 4];
      if (first !== 0x01 && first !== 0xfe && first !== 0xff) return `the proxy answered a login with a packet starting 0x${first?.toString(16)}`;
      at += 4 + len;
    }
  }
  return null;
}

/** Logs in `sub` with a fresh token (RSA with the bench's key); null when it worked, else the problem. */
async function login(b: MysqlBench, w: MysqlWire, sub: string): Promise<string | null> {
  const { last } = await w.login(sub, TARGET, await b.token(sub), { publicKeyPem: b.publicKeyPem });
  if (last && isOk(last)) return null;
  return `login failed: ${last && isErr(last) ? parseErr(last).message : 'closed'}`;
}

/** Connection-phase packets: a HandshakeResponse41 (or SSLRequest) and answers to the auth exchange, mutated. */
function handshakeFrames(r: Rng): { frames: Buffer[]; tlsAsked: boolean } {
  const frames: Buffer[] = [];
  const first = r.chance(0.1) ? sslRequestPayload(r) : handshakeResponsePayload(r);
  frames.push(maybeMutate(r, rawPacket(1, first), 0.7));
  for (let i = r.int(3); i > 0; i--) frames.push(maybeMutate(r, rawPacket(1 + 2 * frames.length, authAnswerPayload(r)), 0.5));
  // An SSLRequest (or what the proxy takes for one) leads to a TLS handshake: its bytes are not MySQL packets.
  const tlsAsked = frames.some((f) => f.length >= 36 && f.readUIntLE(0, 3) === 32 && (f.readUInt32LE(4) & CAP.SSL) !== 0);
  return { frames, tlsAsked };
}

/**
 * Mutated traffic to the proxy's MySQL listener; `frames` counts packets sent in total: a mix
 * of connection-phase attempts and commands after a real login.
 */
export async function fuzzMysqlProxy(b: MysqlBench, frames: number, seed: number, opts: { write?: boolean; concurrency?: number } = {}): Promise<MysqlFuzzReport> {
  const r = new Rng(seed);
  const failures: MysqlRegression[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let sent = 0;
  let n = 0;
  const one = async (): Promise<void> => {
    const session = r.chance(0.6);
    const id = n++;
    let batch: Buffer[];
    let tlsAsked = false;
    if (session) {
      // Rounds of 1 to 5 pipelined commands, each round answered before the next.
      batch = [];
      for (let left = 5 + r.int(40); left > 0; ) {
        const k = Math.min(left, 1 + r.int(5));
        batch.push(Buffer.concat(Array.from({ length: k }, () => maybeMutate(r, rawPacket(0, commandPayload(r)), 0.15))));
        left -= k;
      }
    } else {
      ({ frames: batch, tlsAsked } = handshakeFrames(r));
    }
    sent += session ? batch.reduce((n, round) => n + countPackets(round), 0) : batch.length;
    const w = await MysqlWire.greeted(b.port);
    let problem: string | null = null;
    if (session) problem = await login(b, w, `fz${seed % 1000}x${id}`);
    problem ??= await sendAndCheck(w, batch, 10_000, session ? 'session' : 'handshake', tlsAsked);
    if (problem) {
      const reg: MysqlRegression = { target: session ? 'mysql-proxy-session' : 'mysql-proxy-handshake', seed, error: problem, frames: batch.map((f) => f.toString('hex')) };
      failures.push(reg);
      if (opts.write !== false) save(reg);
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (sent < frames) await one();
  });
  await Promise.all(workers);
  return { target: 'mysql proxy', frames: sent, ms: performance.now() - t0, failures, heapBefore, heapAfter: process.memoryUsage().heapUsed };
}

/** Packets a write holds as generated (mutations may make the count approximate). */
function countPackets(bytes: Buffer): number {
  let n = 0;
  for (let at = 0; at + 4 <= bytes.length; at += 4 + bytes.readUIntLE(at, 3)) n++;
  return Math.max(n, 1);
}

/** Replays a proxy regression against `b`; returns the problem, or null when it is fixed. */
export async function replayMysqlProxy(b: MysqlBench, reg: MysqlRegression): Promise<string | null> {
  const w = await MysqlWire.greeted(b.port);
  const frames = reg.frames.map((h) => Buffer.from(h, 'hex'));
  if (reg.target === 'mysql-proxy-session') {
    const problem = await login(b, w, 'replay');
    if (problem) return problem;
    return sendAndCheck(w, frames, 10_000, 'session', false);
  }
  const tlsAsked = frames.some((f) => f.length >= 36 && f.readUIntLE(0, 3) === 32 && (f.readUInt32LE(4) & CAP.SSL) !== 0);
  return sendAndCheck(w, frames, 10_000, 'handshake', tlsAsked);
}

export function loadMysqlRegressions(): MysqlRegression[] {
  if (!fs.existsSync(MYSQL_REGRESSIONS)) return [];
  return fs
    .readdirSync(MYSQL_REGRESSIONS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(MYSQL_REGRESSIONS, f), 'utf8')) as MysqlRegression);
}

