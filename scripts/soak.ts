/**
 * `npm run soak -- [--minutes N] [--concurrency C] [--seed S]`: a bounded soak of an
 * in-process proxy in front of an embedded PostgreSQL, all upstream traffic through a
 * breakable forwarder. Mixed sessions (queries, clients killed mid-result, idle sessions,
 * hostile pre-login bytes) while upstream connections are cut at random. At the end: every
 * session drained, zero jit_ users left, every recording verifies, RSS back near its start.
 * Exit 1 when any of those fails.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { recordingIds } from '../src/recording/index-file.js';
import { verifyRecording } from '../src/recording/verify.js';
import { loadSealVerifier } from '../src/recording/seal.js';
import { jitUsers, waitFor } from '../test/helpers/e2e.js';
import { startBench, assertNoSecrets } from '../test/hostile/harness.js';
import { Rng, mutate, startupPacket } from '../test/hostile/fuzz/frames.js';
import { Wire, firstError } from '../test/hostile/wire.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' }, concurrency: { type: 'string' }, seed: { type: 'string' } } });
const minutes = Number(values.minutes ?? 1);
const concurrency = Number(values.concurrency ?? 12);
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
if (!(minutes > 0 && minutes <= 24 * 60) || !(concurrency >= 1 && concurrency <= 200)) {
  console.error('usage: npm run soak -- [--minutes N (≤ 1440)] [--concurrency C] [--seed S]');
  process.exit(2);
}

const gc = (globalThis as { gc?: () => void }).gc;
const rss = () => {
  gc?.();
  return process.memoryUsage().rss;
};
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const b = await startBench({ chaos: true, limits: { maxSessions: concurrency * 2 } });
const r = new Rng(seed);
const outcomes: Record<string, number> = {};
const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
let cuts = 0;
let failed = false;

async function login(sub: string): Promise<Wire | null> {
  const w = await Wire.connect(b.tp.port);
  const ms = await w.login(sub, 'app', await b.token(sub));
  if (ms.at(-1)?.type === 'Z') return w;
  count(`login refused ${firstError(ms)?.C ?? 'closed'}`);
  w.destroy();
  return null;
}

/** One session of a random kind; returns its outcome. */
async function session(id: number): Promise<void> {
  const kind = r.pick(['query', 'query', 'kill-mid-result', 'idle', 'hostile']);
  try {
    if (kind === 'hostile') {
      const w = await Wire.connect(b.tp.port);
      w.write(mutate(r, startupPacket(r), false));
      w.end();
      await w.closedByServer(10_000).catch(() => count('hostile: not closed'));
      w.destroy();
      count('hostile');
      return;
    }
    const w = await login(`soak${id}`);
    if (!w) return;
    if (kind === 'query') {
      for (let i = 0, n = 1 + r.int(5); i < n; i++) {
        const res = await w.query(`select g, md5(g::text) from generate_series(1, ${1 + r.int(2000)}) g`);
        if (res.at(-1)?.type !== 'Z') {
          count(`query ended: ${firstError(res)?.C ?? 'closed'}`);
          w.destroy();
          return;
        }
      }
      w.write(Buffer.from([0x58, 0, 0, 0, 4]));
      await w.closedByServer().catch(() => undefined);
    } else if (kind === 'kill-mid-result') {
      const sql = Buffer.from('select g, repeat($$x$$, 100) from generate_series(1, 500000) g\0');
      const head = Buffer.alloc(5);
      head.write('Q');
      head.writeInt32BE(4 + sql.length, 1);
      w.write(Buffer.concat([head, sql]));
      await waitFor(() => w.received > 50_000 || w.closed, 5000);
      w.resetConnection();
    } else {
      await sleep(r.int(3000));
      w.destroy();
    }
    w.destroy();
    count(kind);
  } catch (e) {
    count(`${kind}: ${(e as Error).message.split(':')[0]}`);
  }
}

console.log(`soak: ${minutes} min, concurrency ${concurrency}, seed ${seed}${gc ? '' : ' (no --expose-gc: RSS is noisier)'}`);
// Warm-up before the baseline: code paths compiled, pools filled.
for (let i = 0; i < concurrency; i++) await session(-1 - i);
await sleep(500);
const rssStart = rss();
const deadline = Date.now() + minutes * 60_000;
let next = 0;
const chaosTimer = setInterval(() => {
  if (r.chance(0.5)) cuts += b.chaos!.cutAll();
}, 4000);
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) await session(next++);
  }),
);
clearInterval(chaosTimer);

// Drain: every session ended (the healthy one too: its upstream may have been cut), every
// user dropped (teardown retries through the cuts).
await b.healthy.end().catch(() => undefined);
const drained = await waitFor(() => b.tp.proxy.registry.size === 0 && b.tp.proxy.registry.pending === 0, 30_000);
let left: string[] = [];
await waitFor(async () => (left = await jitUsers(b.up)).length === 0, 30_000, 500);
const crashes = b.tp.logs().filter((l) => l.event === 'session.crash').length;
if (!drained || left.length) {
  // What is stuck: live sessions and the log lines of the users left.
  console.log(`stuck: pending ${b.tp.proxy.registry.pending}, live ${b.tp.proxy.registry.all().map((s) => `${s.info.id}/${s.info.upstreamUser}`).join(' ')}`);
  for (const l of b.tp.logs().filter((l) => left.includes(String(l.user)) || b.tp.proxy.registry.all().some((s) => s.info.id === l.session))) {
    console.log(`  ${JSON.stringify({ ...l, app: undefined, time: undefined })}`);
  }
}
await sleep(1000);
const rssEnd = rss();

const recordings = path.join(b.tp.dir, 'recordings');
const verifier = await loadSealVerifier(b.tp.config);
let verified = 0;
const bad: string[] = [];
for (const id of await recordingIds(recordings).catch(() => [] as string[])) {
  const v = await verifyRecording(recordings, id, verifier).catch((e) => ({ ok: false, state: 'live', message: String(e) }) as const);
  if (v.ok || v.state === 'live') verified++;
  else bad.push(`${id}: ${v.message}`);
}
let secrets = 'none';
try {
  assertNoSecrets(b);
} catch (e) {
  secrets = (e as Error).message;
  failed = true;
}
await b.stop();

const growth = rssEnd / rssStart;
if (!drained || left.length || bad.length || crashes || growth > 1.5) failed = true;
console.log(`sessions ${next} (${Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(', ')})`);
console.log(`upstream connection cuts ${cuts}; session crashes logged ${crashes}`);
console.log(`drained ${drained ? 'yes' : 'NO'}; jit_ users left ${left.length}${left.length ? ` (${left.join(', ')})` : ''}`);
console.log(`recordings verified ${verified}, failed ${bad.length}${bad.length ? `: ${bad.slice(0, 3).join('; ')}` : ''}`);
console.log(`RSS ${mb(rssStart)} → ${mb(rssEnd)} (×${growth.toFixed(2)})`);
console.log(`secrets in logs/recordings: ${secrets}`);
console.log(failed ? 'SOAK FAILED' : 'soak ok');
process.exit(failed ? 1 : 0);
