/**
 * Session end and teardown: the ephemeral user is gone within 5 s of any kind of
 * disconnect; objects a writer created survive (handed to the profile's owner role) for the
 * next writer; proxy.close() and auth.maxSession end live sessions with 57P01 and drop users.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { backendsOf, jitUsers, userGone, waitFor } from '../helpers/e2e.js';

let up: PgUpstream;
let tp: TestProxy;

type ErrWithCode = Error & { code?: string };

/** A connected pg client that records the error events it gets. */
async function pgSession(proxy: TestProxy, sub: string, role = 'writer'): Promise<{ c: pg.Client; user: string; errors: ErrWithCode[] }> {
  const c = new pg.Client({ connectionString: await proxy.url(sub, role) });
  const errors: ErrWithCode[] = [];
  c.on('error', (e) => errors.push(e));
  await c.connect();
  const user = (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  assert.match(user, /^jit_/);
  return { c, user, errors };
}

describe('teardown', () => {
  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { extra: { instance: 'e2e-teardown' } });
  });

  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  it('the user is gone within 5 s after the client ends the session (Terminate)', async () => {
    const { c, user } = await pgSession(tp, 'ender');
    assert.ok((await jitUsers(up)).includes(user));
    await c.end();
    assert.ok(await userGone(up, user), `${user} still exists`);
    const dropped = await waitFor(() => tp.logs().find((l) => l.event === 'user.dropped' && l.sub === 'ender'), 2000);
    assert.ok(dropped, 'user.dropped logged');
  });

  it('the user is gone within 5 s after the client socket just closes', async () => {
    const { c, user } = await pgSession(tp, 'dropper');
    (c as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
    assert.ok(await userGone(up, user), `${user} still exists`);
    assert.equal(await backendsOf(up, user), 0);
  });

  it('the user is gone within 5 s after a postgres.js client ends', async () => {
    const s = postgres(await tp.url('pj-ender', 'reader'), { max: 1 });
    const [{ u }] = (await s`select current_user as u`) as unknown as [{ u: string }];
    await s.end({ timeout: 2 });
    assert.ok(await userGone(up, u), `${u} still exists`);
  });

  it('a table created by a writer session is owned by the owner role afterwards and usable by the next writer', async () => {
    const owner = up.roles.app_write!;
    const first = await pgSession(tp, 'writer-1');
    await first.c.query('CREATE TABLE handed_over (id serial PRIMARY KEY, v text)');
    await first.c.query('CREATE INDEX handed_over_v ON handed_over (v)');
    await first.c.query(`INSERT INTO handed_over (v) VALUES ('from writer 1')`);
    const during = await up.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'handed_over'`);
    assert.equal(during.rows[0].tableowner, first.user);
    await first.c.end();
    assert.ok(await userGone(up, first.user));

    const owners = await up.query<{ relname: string; owner: string }>(
      `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
       WHERE c.relname IN ('handed_over', 'handed_over_id_seq', 'handed_over_v', 'handed_over_pkey') ORDER BY 1`,
    );
    assert.deepEqual(
      owners.rows.map((r) => [r.relname, r.owner]),
      [['handed_over', owner], ['handed_over_id_seq', owner], ['handed_over_pkey', owner], ['handed_over_v', owner]],
    );

    const second = await pgSession(tp, 'writer-2');
    try {
      assert.notEqual(second.user, first.user);
      await second.c.query(`INSERT INTO handed_over (v) VALUES ('from writer 2')`);
      const rows = await second.c.query('SELECT id, v FROM handed_over ORDER BY id');
      assert.deepEqual(rows.rows, [{ id: 1, v: 'from writer 1' }, { id: 2, v: 'from writer 2' }]);
      await second.c.query('ALTER TABLE handed_over ADD COLUMN extra int');
      await second.c.query('DROP TABLE handed_over');
    } finally {
      await second.c.end();
    }
    assert.ok(await userGone(up, second.user));
  });

  it('auth.maxSession ends a session with 57P01 and drops its user', async () => {
    const short = await startTestProxy(up, { extra: { instance: 'e2e-teardown-maxsession' }, auth: { maxSession: '2s' } });
    try {
      const { c, user, errors } = await pgSession(short, 'short-lived', 'reader');
      assert.ok(await waitFor(() => errors.length > 0, 10_000), 'the session should be ended');
      assert.equal(errors[0]!.code, '57P01', errors[0]!.message);
      assert.match(errors[0]!.message, /maxSession|expired/);
      await assert.rejects(c.query('SELECT 1'));
      assert.ok(await userGone(up, user), `${user} still exists`);
      const end = short.logs().find((l) => l.event === 'session.end' && l.sub === 'short-lived');
      assert.match(String(end?.reason), /maxSession/);
      await c.end().catch(() => undefined);
    } finally {
      await short.stop();
    }
  });

  it('proxy.close() with live sessions ends them with 57P01 and drops their users', async () => {
    const closing = await startTestProxy(up, { extra: { instance: 'e2e-teardown-close' } });
    try {
      const idle = await pgSession(closing, 'idle-one', 'reader');
      const busy = await pgSession(closing, 'busy-one', 'reader');
      const s = postgres(await closing.url('pj-one', 'reader'), { max: 1 });
      const [{ u: pjUser }] = (await s`select current_user as u`) as unknown as [{ u: string }];
      const sleeping = busy.c.query('SELECT pg_sleep(30)').then(
        () => null,
        (e: ErrWithCode) => e,
      );
      await waitFor(async () => (await up.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND state = 'active'`, [busy.user])).rowCount! > 0);
      const users = [idle.user, busy.user, pjUser];
      for (const u of users) assert.ok((await jitUsers(up)).includes(u));

      const t0 = Date.now();
      await closing.proxy.close(300);
      assert.ok(Date.now() - t0 < 20_000);

      const busyErr = await sleeping;
      assert.equal(busyErr?.code, '57P01', busyErr?.message);
      assert.match(busyErr!.message, /shutting down/);
      assert.ok(await waitFor(() => idle.errors.length > 0, 2000), 'the idle client should get the error');
      assert.equal(idle.errors[0]!.code, '57P01');
      const pjErr = await s`select 1`.then(() => null, (e: ErrWithCode) => e);
      assert.ok(pjErr, 'postgres.js session must be gone');
      await s.end({ timeout: 1 });
      for (const u of users) assert.ok(await userGone(up, u, 5000), `${u} still exists`);
      for (const u of users) assert.equal(await backendsOf(up, u), 0);
      assert.equal(closing.proxy.registry.size, 0);
      await idle.c.end().catch(() => undefined);
      await busy.c.end().catch(() => undefined);
    } finally {
      await closing.stop();
    }
  });

  it('leaves no ephemeral user behind', async () => {
    assert.ok(await waitFor(async () => (await jitUsers(up)).length === 0, 5000), (await jitUsers(up)).join(', '));
  });
});
