/**
 * The same faults for MySQL targets: the upstream unreachable at login or cut mid-session,
 * broken admin credentials, a grant failing half-way, a client vanishing mid-result, and a
 * login storm against limits.maxSessions. Each ends in a MySQL error the client can read, no
 * ephemeral user left behind, and a proxy that keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mysql from 'mysql2/promise';
import { startMysqlUpstream, jitMysqlUsers, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { startTestProxy, type TestProxy, type TestProxyOptions } from '../helpers/proxy.js';
import { waitFor } from '../helpers/e2e.js';
import { Chaos } from './chaos.js';
import { SecretLedger } from './secrets.js';

let up: MysqlUpstream;
const ledger = new SecretLedger();
const proxies: TestProxy[] = [];
/** Users this file's sessions got (the local server is shared with other tests). */
const seen = new Set<string>();

async function proxy(instance: string, opts: TestProxyOptions & { limits?: Record<string, unknown> } = {}): Promise<TestProxy> {
  const tp = await startTestProxy(up, {
    targetName: 'shop',
    ...opts,
    extra: { instance, listen: { mysql: '127.0.0.1:0' }, limits: { handshakeTimeout: '5s', ...opts.limits }, ...opts.extra },
  });
  proxies.push(tp);
  return tp;
}

const portOf = (tp: TestProxy) => tp.proxy.addresses.mysql!.port;

async function connect(tp: TestProxy, sub: string, role?: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: '127.0.0.1',
    port: portOf(tp),
    user: sub,
    password: ledger.add('token', await tp.token(sub, role)),
    database: 'shop',
  });
  c.on('error', () => undefined);
  const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
  seen.add(String(rows[0]!.u).split('@')[0]);
  return c;
}

/** Rejects with the error a login got. */
async function loginError(tp: TestProxy, sub: string): Promise<{ errno?: number; message: string }> {
  return connect(tp, sub).then(
    async (c) => {
      await c.end();
      throw new Error('the login was accepted');
    },
    (e) => e,
  );
}

async function usersLeft(timeoutMs = 5000): Promise<string[]> {
  let left: string[] = [];
  await waitFor(async () => (left = (await jitMysqlUsers(up)).filter((u) => seen.has(u))).length === 0, timeoutMs);
  return left;
}

async function stillServing(tp: TestProxy): Promise<void> {
  const c = await connect(tp, 'after');
  const [rows] = await c.query<mysql.RowDataPacket[]>('select 1 as one');
  assert.equal(rows[0]!.one, 1);
  await c.end();
}

describe('faults (MySQL)', () => {
  before(async () => {
    up = await startMysqlUpstream();
    ledger.add('upstream admin password', up.adminPassword);
  });
  after(async () => {
    for (const tp of proxies) await tp.stop().catch(() => undefined);
    await up?.stop();
  });

  it('upstream down at login → 2003 saying it is unreachable, nothing provisioned', async () => {
    const chaos = await Chaos.start(up.host, up.port);
    const tp = await proxy('down', { targetExtra: { port: chaos.port }, reaper: false });
    await chaos.down();
    const before = await jitMysqlUsers(up);
    const e = await loginError(tp, 'alice');
    assert.equal(e.errno, 2003, e.message);
    assert.match(e.message, /unreachable/);
    assert.deepEqual(await jitMysqlUsers(up), before, 'nothing provisioned');
    await chaos.up();
    await stillServing(tp);
    // Its teardown goes through the forwarder too: let it finish before the forwarder goes.
    assert.deepEqual(await usersLeft(), []);
    await chaos.stop();
  });

  it('upstream cut mid-session: the client gets an error, the proxy keeps serving, the user is dropped', async () => {
    const chaos = await Chaos.start(up.host, up.port);
    const tp = await proxy('cut', { targetExtra: { port: chaos.port } });
    const c = await connect(tp, 'bob');
    const slow = c.query('select sleep(5)').then(
      () => null,
      (e: { errno?: number; code?: string; message: string }) => e,
    );
    await new Promise((r) => setTimeout(r, 300));
    chaos.cutAll();
    const e = await slow;
    assert.ok(e, 'the statement failed');
    await stillServing(tp);
    assert.deepEqual(await usersLeft(), []);
    await chaos.stop();
  });

  it('wrong admin password → 1105 naming the admin that cannot log in; the password is not in the logs', async () => {
    const bad = ledger.add('wrong admin password', 'wrong-password-123');
    const target = up.target({ reader: ['app_read'] });
    const tp = await proxy('badadmin', { reaper: false, extra: { targets: { shop: { ...target, admin: { user: up.adminUser, password: bad } } } } });
    const e = await loginError(tp, 'carol');
    assert.equal(e.errno, 1105, e.message);
    assert.match(e.message, new RegExp(up.adminUser));
    const logs = JSON.stringify(tp.logs());
    assert.ok(!logs.includes('wrong-password-123') && !logs.includes(up.adminPassword));
  });

  it('grant of a profile role failing half-way (role missing) → 1105, no user left', async () => {
    const tp = await proxy('norole', { profiles: { reader: ['app_read', 'no_such_role_x'] } });
    const e = await loginError(tp, 'dave');
    assert.equal(e.errno, 1105, e.message);
    assert.match(e.message, /no_such_role_x/);
    assert.ok(tp.logs().some((l) => l.event === 'session.failed'));
    assert.ok(!tp.logs().some((l) => l.event === 'user.provisioned'), 'no user was handed out');
  });

  it('client vanishing mid-result: the upstream query ends and the user is dropped within 5 s', async () => {
    const tp = await proxy('vanish');
    const token = ledger.add('token', await tp.token('erin'));
    // A raw client so it can vanish with a reset in the middle of a large result.
    const c = await mysql.createConnection({ host: '127.0.0.1', port: portOf(tp), user: 'erin', password: token, database: 'shop' });
    c.on('error', () => undefined);
    const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
    const user = String(rows[0]!.u).split('@')[0]!;
    seen.add(user);
    const stream = (c as unknown as { connection: { query(sql: string): { stream(): NodeJS.ReadableStream } } }).connection
      .query('select a.seq from seq_1_to_1000000 a')
      .stream();
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    ((c as unknown as { connection: { stream: net.Socket } }).connection.stream).resetAndDestroy();
    assert.ok(await waitFor(async () => !(await jitMysqlUsers(up)).includes(user), 5000), 'the user is dropped within 5 s');
    const busy = await up.query<{ n: number }>(`select count(*) as n from information_schema.processlist where user = ?`, [user]);
    assert.equal(Number(busy[0]!.n), 0, 'no upstream connection of that user remains');
  });

  it('200 concurrent logins with limits.maxSessions 5: the excess gets 1040, the rest work, no user left', async () => {
    const tp = await proxy('storm', { limits: { maxSessions: 5 } });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        connect(tp, `storm${i}`).then(
          async (c) => {
            await new Promise((r) => setTimeout(r, 200));
            await c.end();
            return 'ok';
          },
          (e: { errno?: number }) => String(e.errno),
        ),
      ),
    );
    const counts = results.reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {});
    assert.ok((counts.ok ?? 0) >= 5, JSON.stringify(counts));
    assert.ok((counts['1040'] ?? 0) > 0, JSON.stringify(counts));
    assert.deepEqual(Object.keys(counts).filter((k) => k !== 'ok' && k !== '1040'), [], JSON.stringify(counts));
    assert.deepEqual(await usersLeft(), []);
    await stillServing(tp);
  });

  it('no token, password or key in any proxy log or recording', () => {
    for (const tp of proxies) {
      const hits = [...ledger.scan(tp.logs().map((l) => JSON.stringify(l)).join('\n')), ...ledger.scanDir(`${tp.dir}/recordings`)];
      assert.deepEqual(hits, []);
    }
  });
});
