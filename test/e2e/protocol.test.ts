/**
 * Protocol features beyond plain queries through jitgate: COPY both ways, LISTEN/NOTIFY
 * across sessions, NOTICE, SET/SHOW and ParameterStatus, startup parameters, CancelRequest,
 * and a client that vanishes in the middle of a result.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { backendsOf, userGone, waitFor } from '../helpers/e2e.js';

let up: PgUpstream;
let tp: TestProxy;
let direct: postgres.Sql;

const pgClient = async (sub: string, role = 'writer', extra: pg.ClientConfig = {}): Promise<pg.Client> => {
  const c = new pg.Client({ connectionString: await tp.url(sub, role), ...extra });
  c.on('error', () => undefined);
  await c.connect();
  return c;
};
const currentUser = async (c: pg.Client): Promise<string> => (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;

/** Waits until `user` runs a statement starting with `prefix` upstream (state active). */
const running = (user: string, prefix: string) =>
  waitFor(
    async () => (await up.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query LIKE $2`, [user, `${prefix}%`])).rowCount! > 0,
    10_000,
  );

describe('protocol features through jitgate', () => {
  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { extra: { instance: 'e2e-protocol' } });
    direct = postgres(up.superUrl, { max: 1, onnotice: () => undefined });
  });

  after(async () => {
    await direct?.end({ timeout: 2 });
    await tp?.stop();
    await up?.stop();
  });

  describe('COPY', () => {
    let sql: postgres.Sql;
    before(async () => {
      sql = postgres(await tp.url('copier', 'writer'), { max: 1, onnotice: () => undefined });
      await sql`create table copy_t (id int primary key, v text, b bytea, j jsonb)`;
    });
    after(async () => {
      await sql`drop table if exists copy_t`.catch(() => undefined);
      await sql.end({ timeout: 2 });
    });

    it('COPY FROM STDIN (50k rows, unicode, NULLs, escapes)', async () => {
      const lines = function* () {
        for (let i = 1; i <= 50_000; i++) {
          const v = i % 11 === 0 ? '\\N' : `wert ${i} ✓ tab\\there`;
          yield `${i}\t${v}\t\\\\x${(i % 256).toString(16).padStart(2, '0')}\t{"i": ${i}}\n`;
        }
      };
      const w = await sql`copy copy_t (id, v, b, j) from stdin`.writable();
      await pipeline(Readable.from(lines()), w);
      const [s] = await direct`select count(*)::int as n, count(v)::int as nv, sum(id)::bigint as sum, min(v) as minv from copy_t`;
      assert.equal(s!.n, 50_000);
      assert.equal(s!.nv, 50_000 - Math.floor(50_000 / 11));
      assert.equal(String(s!.sum), String((50_000 * 50_001) / 2));
      const [r] = await direct`select v, b, j from copy_t where id = 10`;
      assert.equal(r!.v, 'wert 10 ✓ tab\there');
      assert.deepEqual(r!.b, Buffer.from([10]));
      assert.deepEqual(r!.j, { i: 10 });
    });

    it('COPY TO STDOUT equals direct, text and binary', async () => {
      for (const q of ['copy (select * from copy_t order by id) to stdout', 'copy (select * from copy_t order by id) to stdout (format binary)']) {
        const read = async (s: postgres.Sql) => {
          const chunks: Buffer[] = [];
          for await (const c of await s.unsafe(q).readable()) chunks.push(c as Buffer);
          return Buffer.concat(chunks);
        };
        const p = await read(sql);
        const d = await read(direct);
        assert.ok(p.length > 1_000_000, `${p.length} bytes`);
        assert.ok(p.equals(d), q);
      }
    });

    it('a bad COPY row fails with its SQLSTATE and the session stays usable', async () => {
      const w = await sql`copy copy_t (id, v) from stdin`.writable();
      const e = await pipeline(Readable.from(['999999\tok\n', 'not-a-number\tbad\n']), w).catch((x) => x);
      assert.equal(e?.code, '22P02');
      const [r] = await sql`select count(*)::int as n from copy_t where id = 999999`;
      assert.equal(r!.n, 0);
    });
  });

  it('LISTEN/NOTIFY across two sessions', async () => {
    const listener = await pgClient('listener', 'reader');
    const notifier = await pgClient('notifier', 'reader');
    try {
      const got: pg.Notification[] = [];
      listener.on('notification', (n) => got.push(n));
      await listener.query('LISTEN "chan é"');
      await notifier.query(`NOTIFY "chan é", 'héllo 🌍'`);
      await notifier.query(`SELECT pg_notify('chan é', $1)`, ['x'.repeat(7000)]);
      // Delivered while the listener is idle: a message the server sends on its own.
      assert.ok(await waitFor(() => got.length === 2, 5000), `got ${got.length}`);
      assert.equal(got[0]!.channel, 'chan é');
      assert.equal(got[0]!.payload, 'héllo 🌍');
      assert.equal(got[1]!.payload, 'x'.repeat(7000));
      await listener.query('UNLISTEN *');
      await notifier.query(`NOTIFY "chan é", 'after unlisten'`);
      await listener.query('SELECT 1');
      assert.equal(got.length, 2);
    } finally {
      await listener.end();
      await notifier.end();
    }
  });

  it('NOTICE from a DO block is delivered', async () => {
    const c = await pgClient('noticer', 'reader');
    try {
      const notices: { severity?: string; code?: string; message?: string }[] = [];
      c.on('notice', (n) => notices.push(n));
      await c.query(`DO $$ BEGIN RAISE NOTICE 'hello % ✓', 42; RAISE WARNING 'careful'; END $$`);
      assert.deepEqual(notices.map((n) => [n.severity, n.code, n.message]), [
        ['NOTICE', '00000', 'hello 42 ✓'],
        ['WARNING', '01000', 'careful'],
      ]);
      const pjNotices: string[] = [];
      const s = postgres(await tp.url('noticer2', 'reader'), { max: 1, onnotice: (n) => pjNotices.push(n.message) });
      await s`do $$ begin raise notice 'from postgres.js'; end $$`;
      await s.end({ timeout: 2 });
      assert.deepEqual(pjNotices, ['from postgres.js']);
    } finally {
      await c.end();
    }
  });

  it('SET/SHOW, ParameterStatus and startup parameters', async () => {
    const c = await pgClient('setter', 'reader', { application_name: 'e2e-app', options: '-c statement_timeout=4321' });
    try {
      const reported = new Map<string, string>();
      (c as unknown as { connection: NodeJS.EventEmitter }).connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) =>
        reported.set(m.parameterName, m.parameterValue),
      );
      assert.equal((await c.query('SHOW application_name')).rows[0].application_name, 'e2e-app');
      assert.equal((await c.query('SHOW statement_timeout')).rows[0].statement_timeout, '4321ms');
      await c.query(`SET application_name = 'renamed-app'`);
      await c.query(`SET TIME ZONE 'Asia/Tokyo'`);
      await c.query('SET search_path = pg_catalog, public');
      assert.equal((await c.query('SHOW application_name')).rows[0].application_name, 'renamed-app');
      assert.equal((await c.query('SHOW TimeZone')).rows[0].TimeZone, 'Asia/Tokyo');
      assert.equal((await c.query('SHOW search_path')).rows[0].search_path, 'pg_catalog, public');
      assert.equal((await c.query(`SELECT current_setting('application_name') AS v`)).rows[0].v, 'renamed-app');
      assert.equal(reported.get('application_name'), 'renamed-app');
      assert.equal(reported.get('TimeZone'), 'Asia/Tokyo');
      await c.query('RESET ALL');
      assert.equal((await c.query('SHOW application_name')).rows[0].application_name, 'e2e-app');
    } finally {
      await c.end();
    }
  });

  it('CancelRequest via node-postgres returns 57014 well before the statement would end', async () => {
    const c = await pgClient('canceller', 'reader');
    try {
      const user = await currentUser(c);
      const q = new pg.Query('SELECT pg_sleep(30)');
      const failed = new Promise<Error & { code?: string }>((resolve) => {
        q.on('error', resolve);
        q.on('end', () => resolve(new Error('query was not cancelled')));
      });
      const t0 = Date.now();
      c.query(q);
      assert.ok(await running(user, 'SELECT pg_sleep(30)'));
      // pg's own cancel path: a CancelRequest with the BackendKeyData jitgate gave this client.
      (new pg.Client({ host: '127.0.0.1', port: tp.port }) as pg.Client & { cancel(c: pg.Client, q: pg.Query): void }).cancel(c, q);
      const err = await failed;
      assert.equal(err.code, '57014', err.message);
      assert.match(err.message, /cancel/);
      assert.ok(Date.now() - t0 < 10_000);
      assert.equal((await c.query('SELECT 1 AS ok')).rows[0].ok, 1);
    } finally {
      await c.end();
    }
    assert.ok(tp.logs().some((l) => l.event === 'cancel.sent'));
  });

  it('CancelRequest via postgres.js query.cancel() returns 57014', async () => {
    const s = postgres(await tp.url('canceller2', 'reader'), { max: 1 });
    try {
      const [{ u }] = (await s`select current_user as u`) as unknown as [{ u: string }];
      const t0 = Date.now();
      const q = s`select pg_sleep(30)`;
      const result = q.then(
        () => null,
        (e: { code?: string }) => e,
      );
      assert.ok(await running(u, 'select pg_sleep(30)'));
      q.cancel();
      const err = await result;
      assert.equal(err?.code, '57014');
      assert.ok(Date.now() - t0 < 10_000);
      const [r] = await s`select 2 as ok`;
      assert.equal(r!.ok, 2);
    } finally {
      await s.end({ timeout: 2 });
    }
  });

  it('a CancelRequest with a wrong key cancels nothing', async () => {
    const c = await pgClient('canceller3', 'reader');
    try {
      const user = await currentUser(c);
      const pending = c.query('SELECT pg_sleep(1.5) AS slept');
      assert.ok(await running(user, 'SELECT pg_sleep(1.5)'));
      // The right process id with a wrong secret key.
      const processId = (c as unknown as { processID: number }).processID;
      const con = new pg.Connection() as pg.Connection & { connect(port: number, host: string): void; cancel(pid: number, key: number): void };
      con.on('error', () => undefined);
      con.on('connect', () => con.cancel(processId, 12345));
      con.connect(tp.port, '127.0.0.1');
      assert.equal((await pending).rows[0].slept, '');
    } finally {
      await c.end();
    }
    assert.ok(tp.logs().some((l) => l.event === 'cancel.ignored'));
  });

  it('a client closing its socket mid-result: the upstream backend ends and the user is dropped', async () => {
    const c = await pgClient('quitter', 'reader');
    const user = await currentUser(c);
    const stream = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
    // Stop reading so the result backs up through jitgate to the upstream backend.
    stream.pause();
    c.query(`SELECT g, repeat('x', 1000) FROM generate_series(1, 10000000) g`).catch(() => undefined);
    const blocked = await waitFor(
      async () => (await up.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event = 'ClientWrite'`, [user])).rowCount! > 0,
      10_000,
    );
    assert.ok(blocked, 'the upstream backend should be blocked writing its result');
    stream.destroy();
    assert.ok(await waitFor(async () => (await backendsOf(up, user)) === 0, 5000), 'upstream backend still running');
    assert.ok(await userGone(up, user), `${user} still exists`);
    const end = tp.logs().find((l) => l.event === 'session.end' && l.sub === 'quitter');
    assert.ok(end, 'session.end logged');
  });
});
