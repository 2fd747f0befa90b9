import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('warm pool (targets.X.warmPool)', () => {
  let up: PgUpstream;
  let tp: TestProxy;
  const jitUsers = async () =>
    (await up.query<{ rolname: string; rolcanlogin: boolean }>("select rolname, rolcanlogin from pg_roles where rolname like 'jit\\_%' and rolname <> 'jit_managed' order by 1")).rows;

  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { targetExtra: { warmPool: { size: 2 } } });
    await waitFor('two warm users', async () => (await jitUsers()).length === 2);
  });
  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  test('pool users are locked and hold no role before a session claims one', async () => {
    const users = await jitUsers();
    assert.equal(users.length, 2);
    for (const u of users) {
      assert.match(u.rolname, /^jit_00000000_[a-z2-7]{12}$/);
      const granted = await up.query(
        "select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles r on r.oid = m.member where r.rolname = $1",
        [u.rolname],
      );
      assert.deepEqual(granted.rows.map((r) => r.rolname), ['jit_managed']);
    }
  });

  test('a claimed session runs as its own renamed user with the profile role and the client parameters', async () => {
    const c = new pg.Client({ connectionString: await tp.url('alice', 'reader'), application_name: 'warm-test' });
    await c.connect();
    const r = await c.query(
      "select current_user u, current_setting('application_name') app, pg_has_role('app_read','member') reader, pg_has_role('app_write','member') writer",
    );
    const row = r.rows[0];
    assert.match(row.u, /^jit_[0-9a-f]{8}_[a-z2-7]{12}$/);
    assert.doesNotMatch(row.u, /^jit_00000000_/);
    assert.equal(row.app, 'warm-test');
    assert.equal(row.reader, true);
    assert.equal(row.writer, false);
    const login = await up.query<{ rolcanlogin: boolean }>('select rolcanlogin from pg_roles where rolname = $1', [row.u]);
    assert.equal(login.rows[0]!.rolcanlogin, false, 'a claimed user cannot log in again');
    assert.equal(tp.logs().some((l) => l.event === 'user.provisioned' && l.warm === true), true);
    await c.end();
    await waitFor('the session user dropped', async () => !(await jitUsers()).some((u) => u.rolname === row.u));
  });

  test('a startup parameter the server refuses is the client’s error, and leaves no user behind', async () => {
    // An unknown encoding is refused by SET just as it would be at start-up.
    await waitFor('a warm user ready', async () => (await jitUsers()).filter((u) => u.rolname.startsWith('jit_00000000_')).length === 2);
    const sql = postgres(await tp.url('bob', 'reader'), { connection: { DateStyle: 'not a style' }, max: 1, onnotice: () => undefined });
    await assert.rejects(sql`select 1`, (e: Error & { code?: string }) => {
      assert.equal(e.code, '22023');
      return true;
    });
    await sql.end();
    await waitFor('only warm users left', async () => (await jitUsers()).every((u) => u.rolname.startsWith('jit_00000000_')));
  });

  test('the pool refills, and closing the proxy drops every warm user', async () => {
    await waitFor('the pool refilled', async () => (await jitUsers()).filter((u) => u.rolname.startsWith('jit_00000000_')).length === 2);
    await tp.stop();
    assert.deepEqual(await jitUsers(), []);
  });
});
