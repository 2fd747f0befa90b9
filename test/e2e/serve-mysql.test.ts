/**
 * The real `jitgate serve` process with a MySQL target: sessions through it, kill -9 with
 * live sessions, and the next start reaping the MariaDB users the killed process left.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { freePort } from '../../src/util/embedded-postgres.js';
import { startMysqlUpstream, jitMysqlUsers, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { eventually, leakedSecrets, startServe, writeServeConfig, type ServeConfig, type ServeProcess } from '../helpers/serve-process.js';

let up: MysqlUpstream | undefined;
let cfg: ServeConfig | undefined;
const processes: ServeProcess[] = [];

after(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  cfg?.cleanup();
  await up?.stop();
});

test('serve with a MySQL target: after kill -9 with 3 live sessions, the next start removes the leftover users', async () => {
  up = await startMysqlUpstream();
  const port = await freePort();
  // A fixed port: the restart has the same instance name, so it reaps what the killed run left.
  cfg = await writeServeConfig(up, { extra: { listen: { mysql: `127.0.0.1:${port}` } } });
  const serve = async () => {
    const p = await startServe(cfg!, { protocol: 'mysql' });
    processes.push(p);
    return p;
  };
  const p1 = await serve();
  assert.equal(p1.port, port);
  const token = await cfg.token('bob', 'writer');
  const connect = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'bob', password: token, database: 'app' });
  const sessions = await Promise.all([0, 1, 2].map(() => connect()));
  for (const s of sessions) s.on('error', () => undefined);
  const users = await Promise.all(
    sessions.map(async (s) => String((await s.query<mysql.RowDataPacket[]>('select current_user() as u'))[0][0]!.u).split('@')[0]!),
  );
  assert.equal(new Set(users).size, 3, 'three distinct ephemeral users');

  process.kill(p1.pid, 'SIGKILL');
  assert.equal((await p1.exited).signal, 'SIGKILL');
  const left = await jitMysqlUsers(up);
  for (const u of users) assert.ok(left.includes(u), `${u} is left behind by the killed process`);
  for (const s of sessions) s.destroy();

  const p2 = await serve();
  const gone = await eventually(async () => {
    const now = await jitMysqlUsers(up!);
    return users.every((u) => !now.includes(u));
  }, 60_000, 500);
  assert.ok(gone, `leftover users still present: ${(await jitMysqlUsers(up)).join(', ')}\n${p2.stdout()}`);
  assert.ok(p2.logs().some((l) => l.event === 'reaper.removed'), 'the reaper says what it removed');

  const again = await connect();
  const [rows] = await again.query<mysql.RowDataPacket[]>('select current_user() as u, count(*) as n from customers');
  const againUser = String(rows[0]!.u).split('@')[0]!;
  assert.match(againUser, /^jit_/);
  assert.equal(Number(rows[0]!.n), 3);
  await again.end();
  assert.deepEqual(await p2.stop('SIGTERM'), { code: 0, signal: null }, p2.stderr());
  // The local server is shared with other tests: only this test's users are checked.
  const now = await jitMysqlUsers(up);
  assert.deepEqual([...users, againUser].filter((u) => now.includes(u)), []);
  for (const p of [p1, p2]) {
    assert.deepEqual(leakedSecrets(p.stdout() + p.stderr(), { tokens: [token], passwords: [cfg.adminPassword] }), [], 'a secret in the log');
  }
});

test('serve with a MySQL target: SIGTERM drains, ends a live session with 1053 after limits.drainTimeout, drops its user, exits 0', async () => {
  up ??= await startMysqlUpstream();
  const c2 = await writeServeConfig(up, { extra: { listen: { mysql: '127.0.0.1:0' } } });
  try {
    const p = await startServe(c2, { protocol: 'mysql' });
    processes.push(p);
    const token = await c2.token('dora', 'reader');
    const c = await mysql.createConnection({ host: '127.0.0.1', port: p.port, user: 'dora', password: token, database: 'app' });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
    const user = String(rows[0]!.u).split('@')[0]!;
    const started = Date.now();
    assert.deepEqual(await p.stop('SIGTERM'), { code: 0, signal: null }, p.stderr());
    assert.ok(Date.now() - started >= 1500, 'the drain waited for the live session');
    assert.ok(await eventually(async () => errors.length > 0, 5000));
    const e = errors[0] as { errno?: number; code?: unknown; message: string };
    assert.equal(e.errno ?? e.code, 1053, e.message);
    assert.ok(!(await jitMysqlUsers(up)).includes(user), 'its user is dropped');
    c.destroy();
  } finally {
    c2.cleanup();
  }
});
