/**
 * `npm run soak -- [--minutes N] [--concurrency C] [--kills K] [--seed S]`: a bounded soak of
 * the real `jitgate serve` process (compiled, started as a user starts it) in front of an
 * embedded PostgreSQL and a throwaway MariaDB, all upstream traffic through breakable
 * forwarders. Mixed sessions over both protocols (queries with masked columns — text and
 * binary protocol on MySQL —, clients killed mid-result, idle sessions, hostile pre-login
 * bytes) while upstream connections are cut at random and jitgate itself is killed with
 * SIGKILL and restarted K times in the first half of the run.
 *
 * At the end: every session drained, zero jit_ users left upstream (what each killed run
 * left is reaped by the next), every recording verifies (sealed, or intact-but-unsealed for
 * sessions of a killed run), no secret in any log or recording, and the RSS of the last run
 * back near its start (read from /proc of the serve process: the soak's own bookkeeping does
 * not count). Exit 1 when any of those fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import mysql from 'mysql2/promise';
import { parse, stringify } from 'yaml';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config/load.js';
import { recordingIds } from '../src/recording/index-file.js';
import { verifyRecording } from '../src/recording/verify.js';
import { loadSealVerifier } from '../src/recording/seal.js';
import { jitUsers, waitFor } from '../test/helpers/e2e.js';
import { startPgUpstream } from '../test/helpers/pg-upstream.js';
import { startMysqlUpstream, jitMysqlUsers } from '../test/helpers/mysql-upstream.js';
import { REPO_ROOT, writeServeConfig } from '../test/helpers/serve-process.js';
import { Chaos } from '../test/hostile/chaos.js';
import { SecretLedger } from '../test/hostile/secrets.js';
import { Rng, mutate, startupPacket } from '../test/hostile/fuzz/frames.js';
import { GSSENC_REQUEST, Wire, firstError } from '../test/hostile/wire.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string' }, concurrency: { type: 'string' }, kills: { type: 'string' }, seed: { type: 'string' } },
});
const minutes = Number(values.minutes ?? 1);
const concurrency = Number(values.concurrency ?? 12);
const kills = Number(values.kills ?? Math.max(1, Math.round(minutes / 2)));
const seed = Number(values.seed ?? Date.now() % 2 ** 31);
if (!(minutes > 0 && minutes <= 24 * 60) || !(concurrency >= 1 && concurrency <= 200) || !(kills >= 0 && kills <= 1000)) {
  console.error('usage: npm run soak -- [--minutes N (≤ 1440)] [--concurrency C (≤ 200)] [--kills K] [--seed S]');
  process.exit(2);
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The process under test is the compiled CLI: build what is in the tree first.
const build = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('soak: the build failed');
  process.exit(1);
}

const up = await startPgUpstream();
const chaos = await Chaos.start(up.host, up.port);
// MySQL too: a throwaway MariaDB (all its jit_ users are the soak's), behind its own forwarder.
const myUp = await startMysqlUpstream({ server: 'embedded' });
const myChaos = await Chaos.start(myUp.host, myUp.port);
const cfg = await writeServeConfig(up, {
  target: { port: chaos.port, warmPool: { size: 2 } },
  limits: { handshakeTimeout: '2s', maxSessions: concurrency * 2, drainTimeout: '5s' },
  extra: {
    // A fixed instance name: a restarted jitgate reaps what its killed predecessor left.
    instance: 'soak',
    masking: { rules: [{ columns: ['md5'], action: 'partial' }], detectors: ['email', 'credit_card'] },
  },
});
{
  const raw = parse(fs.readFileSync(cfg.configPath, 'utf8'));
  raw.listen.mysql = '127.0.0.1:0';
  raw.targets.shop = { ...myUp.target({ reader: ['app_read'] }, { port: myChaos.port }), admin: { user: myUp.adminUser, password: '${JITGATE_SOAK_MYSQL_ADMIN}' } };
  fs.writeFileSync(cfg.configPath, stringify(raw));
  cfg.env.JITGATE_SOAK_MYSQL_ADMIN = myUp.adminPassword;
}
const config = loadConfig(cfg.configPath, cfg.env);
const ledger = new SecretLedger();
ledger.add('upstream admin password', up.adminPassword);
ledger.add('mysql admin password', myUp.adminPassword);
ledger.addJwksFile(path.join(cfg.dir, 'keys/private.jwks.json'));
const token = async (sub: string, target = 'app') =>
  ledger.add('token', await mintToken(config, { sub, target, role: 'reader', ttlMs: 600_000 }));

/** One run of `bin/jitgate.js serve`; its stdout (pino JSON) goes to a log file, as a user would keep it. */
class ServeRun {
  readonly child: ChildProcess;
  readonly logFile: string;
  port = 0;
  myPort = 0;
  startedAt = 0;
  /** Set before the SIGKILL: what its sessions saw from then on is the kill's doing. */
  killing = false;
  exited = false;
  readonly ready: Promise<void>;
  readonly done: Promise<void>;

  constructor(n: number) {
    this.logFile = path.join(cfg.dir, `serve-${n}.log`);
    const out = fs.createWriteStream(this.logFile);
    const errFile = path.join(cfg.dir, `serve-${n}.stderr`);
    this.child = spawn(path.join(REPO_ROOT, 'bin/jitgate.js'), ['serve', '--config', cfg.configPath], {
      cwd: cfg.dir,
      env: cfg.env,
      stdio: ['ignore', 'pipe', fs.openSync(errFile, 'w')],
    });
    this.done = new Promise((resolve) => this.child.on('exit', () => ((this.exited = true), resolve())));
    let head = '';
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`jitgate serve #${n} not listening after 60 s (see ${this.logFile})`)), 60_000);
      void this.done.then(() => reject(new Error(`jitgate serve #${n} exited before listening (see ${errFile})`)));
      this.child.stdout!.on('data', (d: Buffer) => {
        out.write(d);
        if (this.port && this.myPort) return;
        head += d.toString();
        const portOf = (protocol: string) => {
          const line = head.split('\n').find((l) => l.includes('"event":"listen"') && l.includes(`"protocol":"${protocol}"`));
          return Number(line && /"port":(\d+)/.exec(line)?.[1]);
        };
        this.port ||= portOf('postgres');
        this.myPort ||= portOf('mysql');
        if (this.port && this.myPort) {
          this.startedAt = Date.now();
          clearTimeout(timer);
          resolve();
        }
      });
    });
    void this.done.then(() => out.end());
  }

  /** VmRSS of the process, in bytes. */
  rss(): number {
    const status = fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  }
}

const runs: ServeRun[] = [];
let serve = new ServeRun(0);
runs.push(serve);
await serve.ready;

const r = new Rng(seed);
const outcomes: Record<string, number> = {};
const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
let cuts = 0;
let failed = false;

/** A session that failed because jitgate was killed under it is counted as such, whatever it saw. */
async function session(id: number): Promise<void> {
  const run = serve;
  const kind = r.pick(['query', 'query', 'kill-mid-result', 'idle', 'hostile']);
  const my = r.chance(0.5);
  const name = my ? `mysql ${kind}` : kind;
  const outcome = my
    ? await mysqlSession(kind, id, run.myPort).catch((e: { errno?: number; code?: string; message: string }) => `${name}: ${e.errno ?? e.code ?? e.message.split(':')[0]}`)
    : await sessionOfKind(kind, id, run.port).catch((e: Error) => `${kind}: ${e.message.split(':')[0]}`);
  count(run.killing && outcome !== name ? `${name}: jitgate killed` : outcome);
}

/** The same kinds of session over MySQL (mysql2; hostile ones raw). */
async function mysqlSession(kind: string, id: number, port: number): Promise<string> {
  if (kind === 'hostile') {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => s.once('data', () => resolve()).once('close', () => resolve()));
    s.write(mutate(r, startupPacket(r), false));
    s.end();
    const closed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 10_000);
      s.once('close', () => (clearTimeout(t), resolve(true)));
    });
    s.destroy();
    return closed ? 'mysql hostile' : 'mysql hostile: not closed';
  }
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: `soak${id}`, password: await token(`soak${id}`, 'shop'), database: 'shop' });
  c.on('error', () => undefined);
  try {
    if (kind === 'query') {
      for (let i = 0, n = 1 + r.int(5); i < n; i++) {
        const sql = `select seq, md5(seq) as md5 from seq_1_to_${1 + r.int(2000)}`;
        if (r.chance(0.5)) await c.query(sql);
        else await c.execute(sql);
      }
    } else if (kind === 'kill-mid-result') {
      const inner = (c as unknown as { connection: { query(sql: string): { stream(): NodeJS.ReadableStream }; stream: net.Socket } }).connection;
      const rows = inner.query('select seq, repeat(\'x\', 100) from seq_1_to_500000').stream();
      rows.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        let n = 0;
        rows.on('data', () => ++n === 500 && resolve());
        rows.once('end', () => resolve());
      });
      inner.stream.resetAndDestroy();
      return `mysql ${kind}`;
    } else {
      await sleep(r.int(3000));
    }
    return `mysql ${kind}`;
  } finally {
    c.destroy();
  }
}

async function sessionOfKind(kind: string, id: number, port: number): Promise<string> {
  if (kind === 'hostile') {
    const w = await Wire.connect(port);
    w.write(mutate(r, startupPacket(r), false));
    w.end();
    const closed = await w.closedByServer(10_000).catch(() => false);
    w.destroy();
    return closed ? kind : 'hostile: not closed';
  }
  const w = await Wire.connect(port);
  try {
    const ms = await w.login(`soak${id}`, 'app', await token(`soak${id}`));
    if (ms.at(-1)?.type !== 'Z') return `login refused ${firstError(ms)?.C ?? 'closed'}`;
    if (kind === 'query') {
      for (let i = 0, n = 1 + r.int(5); i < n; i++) {
        const res = await w.query(`select g, md5(g::text) as md5 from generate_series(1, ${1 + r.int(2000)}) g`);
        if (res.at(-1)?.type !== 'Z') return `query ended: ${firstError(res)?.C ?? 'closed'}`;
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
    }
    return kind;
  } finally {
    w.destroy();
  }
}

console.log(`soak: ${minutes} min, concurrency ${concurrency}, ${kills} kill(s) of jitgate, seed ${seed}; jitgate pid ${serve.child.pid}`);
const start = Date.now();
const deadline = start + minutes * 60_000;
// Kills at random moments in the first half; the last run serves the second half alone.
const killAt = Array.from({ length: kills }, () => start + 5000 + r.int(Math.max(1, minutes * 30_000 - 10_000))).sort((a, b) => a - b);
let next = 0;
let killed = 0;
let restarting: Promise<void> | null = null;
let baseline = null as { rss: number; sessions: number } | null;
let peak = 0;

async function killAndRestart(): Promise<void> {
  const victim = serve;
  victim.killing = true;
  victim.child.kill('SIGKILL');
  await victim.done;
  killed++;
  serve = new ServeRun(runs.length);
  runs.push(serve);
  await serve.ready;
  console.log(`  ${((Date.now() - start) / 1000).toFixed(0)} s: jitgate killed (SIGKILL) and restarted, pid ${serve.child.pid}`);
}

const ticker = setInterval(() => {
  if (!restarting && killAt.length && Date.now() >= killAt[0]!) {
    killAt.shift();
    restarting = killAndRestart().finally(() => (restarting = null));
  }
  if (restarting) return;
  // The baseline of the last run: 20 s after it started (warm: code compiled, pools filled).
  if (!baseline && !killAt.length && Date.now() - serve.startedAt >= 20_000) baseline = { rss: serve.rss(), sessions: next };
  if (baseline) peak = Math.max(peak, serve.rss());
}, 250);
const chaosTimer = setInterval(() => {
  if (r.chance(0.5)) cuts += chaos.cutAll();
  if (r.chance(0.5)) cuts += myChaos.cutAll();
}, 4000);
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      if (restarting) await restarting;
      await session(next++);
    }
  }),
);
clearInterval(chaosTimer);
if (restarting) await restarting;
clearInterval(ticker);

// Drain: every session ended, every user dropped (teardown retries through the cuts; what a
// killed run left, the reaper of the next one removed).
const healthy = await Wire.connect(serve.port);
healthy.write(GSSENC_REQUEST);
const accepting = (await healthy.byte().catch(() => '')) === 'N';
healthy.destroy();
// While jitgate runs, the only jit_ users left are its warm pool's blanks (jit_00000000_…).
const isBlank = (u: string) => u.startsWith('jit_00000000_');
let left: string[] = [];
await waitFor(
  async () => (left = [...(await jitUsers(up)).filter((u) => !isBlank(u)), ...(await jitMysqlUsers(myUp))]).length === 0,
  60_000,
  500,
);
// Idle a few seconds so the heap settles, then read the last run's RSS.
await sleep(5000);
const rssEnd = serve.rss();
serve.child.kill('SIGTERM');
await serve.done;
const lastExit = serve.child.exitCode;
// Stopped: the blanks are gone too.
let leftAfterStop: string[] = [];
await waitFor(async () => (leftAfterStop = [...(await jitUsers(up)), ...(await jitMysqlUsers(myUp))]).length === 0, 10_000, 500);

const logs = runs.map((s) => fs.readFileSync(s.logFile, 'utf8')).join('\n');
const lines = logs.split('\n').filter((l) => l.startsWith('{'));
const crashes = lines.filter((l) => l.includes('"event":"session.crash"')).length;
const reaped = lines
  .filter((l) => l.includes('"event":"reaper.removed"'))
  .reduce((n, l) => n + Number((JSON.parse(l) as { count?: number }).count ?? 0), 0);

const recordings = path.join(cfg.dir, 'recordings');
const verifier = await loadSealVerifier(config);
const states: Record<string, number> = {};
const bad: string[] = [];
for (const id of await recordingIds(recordings).catch(() => [] as string[])) {
  const v = await verifyRecording(recordings, id, verifier).catch((e) => ({ ok: false, state: 'error', message: String(e) }) as const);
  states[v.state] = (states[v.state] ?? 0) + 1;
  if (!v.ok) bad.push(`${id}: ${v.message}`);
}
const hits = [...ledger.scan(logs), ...ledger.scanDir(recordings)];
await chaos.stop();
await up.stop();
await myChaos.stop();
await myUp.stop();

const growth = baseline ? rssEnd / baseline.rss : NaN;
if (!accepting || left.length || leftAfterStop.length || bad.length || crashes || hits.length || lastExit !== 0 || killed !== kills || !(growth <= 1.5)) failed = true;
console.log(`sessions ${next} (${Object.entries(outcomes).sort().map(([k, v]) => `${k} ${v}`).join(', ')})`);
console.log(`upstream connection cuts ${cuts}; jitgate killed ${killed}× (SIGKILL) and restarted; users reaped by restarts ${reaped}; session crashes logged ${crashes}`);
console.log(`still accepting at the end ${accepting ? 'yes' : 'NO'}; last run exited ${lastExit} on SIGTERM; jit_ users left while running ${left.length}${left.length ? ` (${left.join(', ')})` : ''} (warm-pool blanks aside), after it stopped ${leftAfterStop.length}${leftAfterStop.length ? ` (${leftAfterStop.join(', ')})` : ''}`);
console.log(`recordings ${Object.entries(states).map(([k, v]) => `${k} ${v}`).join(', ')}; failed ${bad.length}${bad.length ? `: ${bad.slice(0, 3).join('; ')}` : ''}`);
console.log(
  baseline
    ? `RSS of the last jitgate run: ${mb(baseline.rss)} after 20 s warm-up → peak ${mb(peak)} → ${mb(rssEnd)} at the end, idle (×${growth.toFixed(2)}; ${next - baseline.sessions} sessions in between)`
    : 'RSS: no baseline (the run was too short after the last restart: give it more --minutes)',
);
console.log(`secrets in logs/recordings (${ledger.size} noted): ${hits.length ? hits.slice(0, 5).join(', ') : 'none'}`);
console.log(failed ? 'SOAK FAILED' : 'soak ok');
cfg.cleanup();
process.exit(failed ? 1 : 0);
