/**
 * The fuzz targets, shared by `npm run fuzz` and the fixed-seed run in the test suite:
 *  - decoders: every wire decoder and the framer (random chunking) on mutated frames; the only
 *    acceptable failures are FrameError/MessageError;
 *  - proxy: mutated startup-phase packets, and mutated messages after a real login, through an
 *    in-process proxy to a real upstream; after the client's FIN every connection must close,
 *    and the proxy's invariants must hold.
 * A failing input is written to test/hostile/regressions/ as JSON, replayed by the suite.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as pgp from '../../../protocols/postgres/index.js';
import type { Bench } from '../harness.js';
import { Wire, firstError, password, startup } from '../wire.js';
import { Rng, backendMessage, frontendMessage, maybeMutate, mutate, startupPacket } from './frames.js';

export const REGRESSIONS = path.resolve(import.meta.dirname, '../regressions');

export interface Regression {
  target: 'decoders' | 'proxy-startup' | 'proxy-session';
  seed: number;
  error: string;
  /** Hex frames, in order. */
  frames: string[];
}

export interface FuzzReport {
  target: string;
  frames: number;
  ms: number;
  failures: Regression[];
  heapBefore: number;
  heapAfter: number;
}

const acceptable = (e: unknown): boolean => e instanceof pgp.FrameError || e instanceof pgp.MessageError;

type Decoder = (buf: Buffer, start: number, end: number) => unknown;
const typedDecoders: Record<string, Decoder[]> = {
  p: [pgp.decodePasswordMessage],
  Q: [pgp.decodeQuery],
  P: [pgp.decodeParse],
  B: [pgp.decodeBind],
  E: [pgp.decodeExecute, pgp.decodeErrorFields],
  D: [pgp.decodeDescribeOrClose, pgp.decodeDataRow],
  C: [pgp.decodeDescribeOrClose, pgp.decodeCommandComplete],
  T: [pgp.decodeRowDescription],
  N: [pgp.decodeErrorFields],
  A: [pgp.decodeNotificationResponse],
  S: [pgp.decodeParameterStatus],
  K: [pgp.decodeBackendKeyData],
  R: [pgp.decodeAuthentication, (b, s, e) => pgp.decodeSaslMechanisms(pgp.decodeAuthentication(b, s, e).data)],
  H: [pgp.decodeCopyResponse],
  G: [pgp.decodeCopyResponse],
  W: [pgp.decodeCopyResponse],
  Z: [pgp.decodeReadyForQuery],
};
const allDecoders = [...new Set(Object.values(typedDecoders).flat())];

/** Decodes one (possibly broken) frame every way the proxy could; throws what is not acceptable. */
export function decodeEverything(frame: Buffer, isTyped: boolean, r: Rng | null): void {
  const framer = new pgp.Framer({ startup: !isTyped, maxLength: 1 << 20 });
  const onMessage = (type: number, buf: Buffer, start: number, end: number) => {
    if (!isTyped) {
      pgp.decodeStartupPacket(buf, start, end);
      return;
    }
    const own = typedDecoders[String.fromCharCode(type)] ?? [];
    // Also decoders meant for other types: a decoder must be safe on any bytes.
    for (const d of r ? [...own, allDecoders[r.int(allDecoders.length)]!] : allDecoders) {
      try {
        d(buf, start, end);
      } catch (e) {
        if (!acceptable(e)) throw e;
      }
    }
  };
  try {
    // Random chunking (or byte by byte when replaying): the framer must not care.
    let at = 0;
    while (at < frame.length) {
      const n = r ? 1 + r.int(frame.length - at) : 1;
      framer.push(frame.subarray(at, at + n), onMessage);
      at += n;
    }
  } catch (e) {
    if (!acceptable(e)) throw e;
  }
}

function save(reg: Regression): string {
  fs.mkdirSync(REGRESSIONS, { recursive: true });
  const name = `${reg.target}-${crypto.createHash('sha256').update(reg.frames.join('|')).digest('hex').slice(0, 12)}.json`;
  fs.writeFileSync(path.join(REGRESSIONS, name), JSON.stringify(reg, null, 2) + '\n');
  return name;
}

export function fuzzDecoders(frames: number, seed: number, opts: { write?: boolean } = {}): FuzzReport {
  const r = new Rng(seed);
  const failures: Regression[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < frames; i++) {
    const kind = r.int(3);
    const isTyped = kind !== 2;
    const valid = kind === 0 ? frontendMessage(r) : kind === 1 ? backendMessage(r) : startupPacket(r);
    let frame = mutate(r, valid, isTyped);
    if (r.chance(0.2)) frame = mutate(r, frame, isTyped);
    try {
      decodeEverything(frame, isTyped, r);
    } catch (e) {
      const reg: Regression = { target: 'decoders', seed, error: String((e as Error)?.stack ?? e).slice(0, 500), frames: [`${isTyped ? 'T' : 'U'}:${frame.toString('hex')}`] };
      failures.push(reg);
      if (opts.write !== false) save(reg);
    }
  }
  return { target: 'decoders', frames, ms: performance.now() - t0, failures, heapBefore, heapAfter: process.memoryUsage().heapUsed };
}

/** Replays a decoder regression: throws when a decoder still fails it. */
export function replayDecoders(reg: Regression): void {
  for (const f of reg.frames) {
    const [kind, hex] = f.split(':') as [string, string];
    decodeEverything(Buffer.from(hex, 'hex'), kind === 'T', null);
  }
}

/** Sends `frames` and a FIN; the proxy must close the connection within `closeMs`. */
async function sendAndExpectClose(w: Wire, frames: Buffer[], closeMs: number): Promise<string | null> {
  for (const f of frames) w.write(f);
  w.end();
  try {
    await w.closedByServer(closeMs);
    return null;
  } catch {
    return `the proxy did not close the connection within ${closeMs} ms of the client's FIN`;
  } finally {
    w.destroy();
  }
}

/**
 * Mutated traffic through a proxy. `frames` counts frames sent in total; sessions are a mix of
 * pre-login (startup phase) and post-login connections.
 */
export async function fuzzProxy(b: Bench, frames: number, seed: number, opts: { write?: boolean; concurrency?: number } = {}): Promise<FuzzReport> {
  const r = new Rng(seed);
  const failures: Regression[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let sent = 0;
  let n = 0;
  const one = async (): Promise<void> => {
    const session = r.chance(0.6);
    const id = n++;
    const batch: Buffer[] = [];
    const count = session ? 5 + r.int(40) : 1 + r.int(3);
    for (let i = 0; i < count; i++) {
      batch.push(session ? maybeMutate(r, frontendMessage(r), true, 0.15) : maybeMutate(r, startupPacket(r), false, 0.7));
    }
    sent += count;
    const w = await Wire.connect(b.tp.port);
    let problem: string | null = null;
    if (session) {
      const sub = `fz${seed % 1000}x${id}`;
      const token = await b.token(sub);
      w.write(startup({ user: sub, database: 'app' }));
      const ms = await w.messagesUntil('RE');
      if (ms.at(-1)?.type !== 'R') problem = `login refused before the password: ${JSON.stringify(firstError(ms))}`;
      else {
        w.write(password(token));
        const done = await w.messagesUntil('ZE', 15_000);
        if (done.at(-1)?.type !== 'Z') problem = `login failed: ${JSON.stringify(firstError(done))}`;
      }
    }
    problem ??= await sendAndExpectClose(w, batch, 10_000);
    if (problem) {
      const reg: Regression = { target: session ? 'proxy-session' : 'proxy-startup', seed, error: problem, frames: batch.map((f) => f.toString('hex')) };
      failures.push(reg);
      if (opts.write !== false) save(reg);
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (sent < frames) await one();
  });
  await Promise.all(workers);
  return { target: 'proxy', frames: sent, ms: performance.now() - t0, failures, heapBefore, heapAfter: process.memoryUsage().heapUsed };
}

/** Replays a proxy regression against `b`; returns the problem, or null when it is fixed. */
export async function replayProxy(b: Bench, reg: Regression): Promise<string | null> {
  const w = await Wire.connect(b.tp.port);
  if (reg.target === 'proxy-session') {
    const ms = await w.login('replay', 'app', await b.token('replay'));
    if (ms.at(-1)?.type !== 'Z') return `login failed: ${JSON.stringify(firstError(ms))}`;
  }
  return sendAndExpectClose(w, reg.frames.map((h) => Buffer.from(h, 'hex')), 10_000);
}

export function loadRegressions(): Regression[] {
  if (!fs.existsSync(REGRESSIONS)) return [];
  return fs
    .readdirSync(REGRESSIONS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(REGRESSIONS, f), 'utf8')) as Regression);
}
