/**
 * The real `jitgate serve` process: start-up, SIGTERM drain with an idle session, and
 * recovery after kill -9 (the reaper removes the leftover users at the next start).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../../src/util/embedded-postgres.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import {
  eventually,
  jitUsers,
  leakedSecrets,
  startServe,
  writeServeConfig,
  type ServeConfig,
  type ServeProcess,
} from '../helpers/serve-process.js';

let upstream: PgUpstream;
const configs: ServeConfig[] = [];
const processes: ServeProcess[] = [];
const tokens: string[] = [];

before(async () => {
  upstream = await startPgUpstream();
});

after(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  for (const c of configs) c.cleanup();
  await upstream?.stop();
});

async function newConfig(opts: Parameters<typeof writeServeConfig>[1] = {}): Promise<ServeConfig> {
  const cfg = await writeServeConfig(upstream, opts);
  configs.push(cfg);
  return cfg;
}

async function serve(cfg: ServeConfig): Promise<ServeProcess> {
  const p = await startServe(cfg);
  processes.push(p);
  return p;
}

async function connect(port: number, token: string, sub = 'alice'): Promise<{ client: pg.Client; errors: Error[]; ended: Promise<void> }> {
  const client = new pg.Client({ host: '127.0.0.1', port, database: 'app', user: sub, password: token, ssl: { rejectUnauthorized: false } });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  await client.connect();
  return { client, errors, ended };
}

function assertNoSecretsIn(p: ServeProcess, cfg: ServeConfig): void {
  const leaks = leakedSecrets(p.stdout() + p.stderr(), { tokens, passwords: [cfg.adminPassword] });
  assert.deepEqual(leaks, [], 'the serve process logged a secret');
}

test('serve starts, logs listen, serves a session; SIGTERM drains an idle session and exits 0', async () => {
  const cfg = await newConfig({ limits: { drainTimeout: '2s' } });
  const p = await serve(cfg);
  const listen = p.logs().find((l) => l.event === 'listen')!;
  assert.equal(listen.protocol, 'postgres');
  assert.ok(p.port > 0);

  const token = await cfg.token('alice', 'reader');
  tokens.push(token);
  const { client, errors, ended } = await connect(p.port, token);
  const user = (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  assert.match(user, /^jit_/);
  assert.ok((await jitUsers(upstream)).includes(user));

  const sent = Date.now();
  const exit = await p.stop('SIGTERM');
  const tookMs = Date.now() - sent;
  assert.deepEqual(exit, { code: 0, signal: null }, `serve exit; stderr:\n${p.stderr()}`);
  // Drain is 2 s; the bound only says it did not hang waiting for the idle client.
  assert.ok(tookMs < 15_000, `serve took ${tookMs} ms to exit after SIGTERM`);

  await ended;
  assert.ok(errors.length > 0, 'the idle client was told the session ended');
  assert.equal((errors[0] as Error & { code?: string }).code, '57P01', String(errors[0]));
  assert.ok(!(await jitUsers(upstream)).includes(user), 'the ephemeral user is gone');

  const events = p.logs().map((l) => l.event);
  for (const e of ['shutdown', 'drain', 'drain.timeout', 'user.dropped', 'stopped']) assert.ok(events.includes(e), `log has ${e}`);
  assertNoSecretsIn(p, cfg);
});

test('SIGINT stops an idle serve process with exit 0', async () => {
  const cfg = await newConfig();
  const p = await serve(cfg);
  const exit = await p.stop('SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null }, p.stderr());
  assert.ok(p.logs().some((l) => l.event === 'shutdown' && l.signal === 'SIGINT'));
  assert.ok(p.logs().some((l) => l.event === 'stopped'));
});

test('after kill -9 with 3 live sessions, the next start removes the leftover users', async () => {
  // A fixed port: the restart runs with exactly the same config (and so the same instance name).
  const cfg = await newConfig({ listen: `127.0.0.1:${await freePort()}` });
  const p1 = await serve(cfg);
  const token = await cfg.token('bob', 'writer');
  tokens.push(token);
  const sessions = await Promise.all([0, 1, 2].map(() => connect(p1.port, token, 'bob')));
  const users = await Promise.all(
    sessions.map(async (s) => (await s.client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u),
  );
  assert.equal(new Set(users).size, 3, 'three distinct ephemeral users');

  process.kill(p1.pid, 'SIGKILL');
  assert.equal((await p1.exited).signal, 'SIGKILL');
  await Promise.all(sessions.map((s) => s.ended));
  const left = await jitUsers(upstream);
  for (const u of users) assert.ok(left.includes(u), `${u} is left behind by the killed process`);
  assertNoSecretsIn(p1, cfg);

  const p2 = await serve(cfg);
  const gone = await eventually(async () => {
    const now = await jitUsers(upstream);
    return users.every((u) => !now.includes(u));
  }, 60_000, 500);
  assert.ok(gone, `leftover users still present: ${(await jitUsers(upstream)).join(', ')}\n${p2.stdout()}`);

  // The restarted proxy still serves sessions.
  const again = await connect(p2.port, token, 'bob');
  const againUser = (await again.client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  assert.match(againUser, /^jit_/);
  await again.client.end();
  const exit = await p2.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, p2.stderr());
  const now = await jitUsers(upstream);
  assert.deepEqual([...users, againUser].filter((u) => now.includes(u)), []);
  assertNoSecretsIn(p2, cfg);
});
