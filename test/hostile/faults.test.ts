/**
 * Faults around the proxy: the upstream unreachable at login or cut mid-session, broken
 * admin credentials or privileges, a grant failing half-way, a client vanishing mid-result,
 * and a login storm against limits.maxSessions. Every fault ends in a clear protocol error,
 * no ephemeral user left behind, and a proxy that keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy, type TestProxyOptions } from '../helpers/proxy.js';
import { backendsOf, jitUsers, waitFor } from '../helpers/e2e.js';
import { Chaos } from './chaos.js';
import { SecretLedger } from './secrets.js';
import { Wire, firstError, type WireMessage } from './wire.js';

let up: PgUpstream;
const ledger = new SecretLedger();
const proxies: TestProxy[] = [];

async function proxy(instance: string, opts: TestProxyOptions & { limits?: Record<string, unknown> } = {}): Promise<TestProxy> {
  const tp = await startTestProxy(up, { ...opts, extra: { instance, limits: { handshakeTimeout: '5s', ...opts.limits }, ...opts.extra } });
  proxies.push(tp);
  return tp;
}

async function login(tp: TestProxy, sub: string, role?: string): Promise<{ w: Wire; ms: WireMessage[] }> {
  const w = await Wire.connect(tp.port);
  const ms = await w.login(sub, 'app', ledger.add('token', await tp.token(sub, role)));
  return { w, ms };
}

async function noUsersLeft(timeoutMs = 5000): Promise<string[]> {
  let left: string[] = [];
  await waitFor(async () => (left = await jitUsers(up)).length === 0, timeoutMs);
  return left;
}

/** A fresh login through `tp` works and answers. */
async function stillServing(tp: TestProxy, sub = 'after'): Promise<void> {
  const { w, ms } = await login(tp, sub);
  assert.equal(ms.at(-1)?.type, 'Z', JSON.stringify(firstError(ms)));
  const r = await w.query('select 1');
  assert.ok(r.some((m) => m.type === 'D'));
  w.destroy();
  assert.deepEqual(await noUsersLeft(), []);
}

describe('faults', () => {
  before(async () => {
    up = await startPgUpstream();
    ledger.add('admin password', up.adminPassword);
    await up.query(`CREATE ROLE no_admin_option NOLOGIN`);
    await up.query(`CREATE ROLE weak_admin LOGIN PASSWORD ${`'${ledger.add('weak admin password', 'weak-admin-pw-0123456789')}'`}`);
  });

  after(async () => {
    for (const tp of proxies) await tp.stop().catch(() => undefined);
    await up?.stop();
  });

  it('upstream down at login → 08006 saying it is unreachable, nothing provisioned', async () => {
    const chaos = await Chaos.start(up.host, up.port);
    const tp = await proxy('f-down', { reaper: false, targetExtra: { port: chaos.port } });
    try {
      await chaos.down();
      const { w, ms } = await login(tp, 'alice');
      const f = firstError(ms);
      assert.equal(f?.C, '08006', f?.M);
      assert.match(f?.M ?? '', /unreachable|could not connect|cannot connect/);
      assert.equal(await w.closedByServer(), true);
      assert.deepEqual(await jitUsers(up), []);
      assert.ok(!tp.logs().some((l) => l.event === 'user.provisioned'));
      await chaos.up();
      await stillServing(tp);
    } finally {
      await chaos.stop();
    }
  });

  it('upstream cut mid-session (restart): the session ends, the proxy keeps serving, the user is dropped after the restart', async () => {
    const chaos = await Chaos.start(up.host, up.port);
    const tp = await proxy('f-restart', { targetExtra: { port: chaos.port } });
    try {
      const { w, ms } = await login(tp, 'victim');
      assert.equal(ms.at(-1)?.type, 'Z');
      const user = (await w.query('select current_user')).find((m) => m.type === 'D')!.body.toString('utf8', 6);
      await chaos.down();
      // The session ends: whatever the client gets is followed by a close.
      const rest = await w.messagesUntil('E', 10_000);
      await w.closedByServer(10_000);
      const f = firstError(rest);
      assert.equal(f?.S, 'FATAL');
      assert.equal(f?.C, '08006', f?.M);
      await new Promise((r) => setTimeout(r, 1500));
      await chaos.up();
      // Teardown retries through the outage; the user is gone once the upstream is back.
      let left: string[] = [];
      await waitFor(async () => !(left = await jitUsers(up)).includes(user), 15_000);
      assert.ok(!left.includes(user), `${user} left behind`);
      await stillServing(tp);
      assert.ok(!tp.logs().some((l) => l.event === 'session.crash'));
    } finally {
      await chaos.stop();
    }
  });

  it('upstream terminates the backend (admin command) → the client gets 57P01, the user is dropped', async () => {
    const tp = await proxy('f-terminate');
    const { w, ms } = await login(tp, 'terminated');
    assert.equal(ms.at(-1)?.type, 'Z');
    const user = (await w.query('select current_user')).find((m) => m.type === 'D')!.body.toString('utf8', 6);
    await up.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [user]);
    const rest = await w.messagesUntil('E', 10_000);
    assert.equal(firstError(rest)?.C, '57P01');
    await w.closedByServer();
    assert.deepEqual(await noUsersLeft(), []);
    await stillServing(tp);
  });

  it('wrong admin password → 58000 naming the admin that cannot log in, no user, no password in logs', async () => {
    const bad = ledger.add('wrong admin password', 'not-the-admin-password-42');
    const target = up.target({ reader: ['app_read'] });
    const tp = await proxy('f-badpw', { reaper: false, extra: { targets: { app: { ...target, admin: { user: up.adminUser, password: bad } } } } });
    const { w, ms } = await login(tp, 'alice');
    const f = firstError(ms);
    assert.equal(f?.C, '58000', f?.M);
    assert.match(f?.M ?? '', new RegExp(`admin ${up.adminUser} cannot log in`));
    await w.closedByServer();
    assert.deepEqual(await jitUsers(up), []);
  });

  it('admin without CREATEROLE → 58000 naming the missing privilege', async () => {
    const target = up.target({ reader: ['app_read'] });
    const tp = await proxy('f-weak', {
      reaper: false,
      extra: { targets: { app: { ...target, admin: { user: 'weak_admin', password: 'weak-admin-pw-0123456789' } } } },
    });
    const { ms } = await login(tp, 'alice');
    const f = firstError(ms);
    assert.equal(f?.C, '58000', f?.M);
    assert.match(f?.M ?? '', /lacks CREATEROLE/);
    assert.deepEqual(await jitUsers(up), []);
  });

  it('grant of a profile role failing half-way (role missing) → 58000, no user left', async () => {
    const tp = await proxy('f-grant1', { profiles: { broken: ['app_read', 'no_such_role'] } });
    const { ms } = await login(tp, 'alice', 'broken');
    const f = firstError(ms);
    assert.equal(f?.C, '58000', f?.M);
    assert.match(f?.M ?? '', /no_such_role does not exist/);
    assert.deepEqual(await jitUsers(up), []);
  });

  it('grant of a profile role failing half-way (no ADMIN OPTION) → 58000, no user left', async () => {
    const tp = await proxy('f-grant2', { profiles: { broken: ['app_read', 'no_admin_option'] } });
    const { ms } = await login(tp, 'alice', 'broken');
    const f = firstError(ms);
    assert.equal(f?.C, '58000', f?.M);
    assert.match(f?.M ?? '', /lacks ADMIN OPTION on role no_admin_option/);
    assert.deepEqual(await jitUsers(up), []);
  });

  it('client vanishing mid-result: the upstream backend ends and the user is dropped within 5 s', async () => {
    const tp = await proxy('f-vanish');
    const { w, ms } = await login(tp, 'vanisher');
    assert.equal(ms.at(-1)?.type, 'Z');
    const user = (await w.query('select current_user')).find((m) => m.type === 'D')!.body.toString('utf8', 6);
    const sql = 'select g, repeat($$x$$, 200) from generate_series(1, 2000000) g';
    const q = Buffer.from(`${sql}\0`);
    const head = Buffer.alloc(5);
    head.write('Q');
    head.writeInt32BE(4 + q.length, 1);
    w.write(Buffer.concat([head, q]));
    await waitFor(() => w.received > 1_000_000, 10_000);
    w.resetConnection();
    const t0 = Date.now();
    assert.deepEqual(await noUsersLeft(5000), [], 'user dropped');
    assert.equal(await backendsOf(up, user), 0);
    assert.ok(Date.now() - t0 <= 5500);
  });

  it('300 concurrent logins with limits.maxSessions 5: the excess gets 53300, the rest work, no user left', async () => {
    const max = 5;
    const tp = await proxy('f-storm', { limits: { maxSessions: max, handshakeTimeout: '30s' } });
    const tokens = await Promise.all(Array.from({ length: 300 }, (_, i) => tp.token(`storm${i}`)));
    const wires: Wire[] = [];
    const outcomes = await Promise.all(
      tokens.map(async (t, i) => {
        const w = await Wire.connect(tp.port);
        wires.push(w);
        const ms = await w.login(`storm${i}`, 'app', t);
        if (ms.at(-1)?.type === 'Z') {
          const r = await w.query('select 1');
          return r.some((m) => m.type === 'D') ? 'ok' : 'no answer';
        }
        return firstError(ms)?.C ?? `closed after ${ms.map((m) => m.type).join('')}`;
      }),
    );
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
    try {
      assert.deepEqual(Object.keys(counts).sort(), ['53300', 'ok'], JSON.stringify(counts));
      assert.ok(counts.ok! >= 1 && counts.ok! <= max, JSON.stringify(counts));
      assert.ok(tp.proxy.registry.size <= max);
    } finally {
      for (const w of wires) w.destroy();
    }
    assert.deepEqual(await noUsersLeft(10_000), []);
    assert.ok(await waitFor(() => tp.proxy.registry.size === 0 && tp.proxy.registry.pending === 0, 5000));
    await stillServing(tp, 'storm-after');
  });

  it('no token, password or key in any proxy log or recording', () => {
    assert.ok(proxies.length >= 8);
    for (const tp of proxies) ledger.addJwksFile(tp.config.auth.signingKeys!);
    for (const tp of proxies) {
      const hits = [...ledger.scan(tp.logs().map((l) => JSON.stringify(l)).join('\n')), ...ledger.scanDir(`${tp.dir}/recordings`)];
      assert.deepEqual(hits, [], `secrets in the logs of ${tp.config.instance}`);
    }
  });
});
