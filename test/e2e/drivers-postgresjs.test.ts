/**
 * postgres.js (porsager) through jitgate, compared with a direct connection to the same
 * upstream: tagged-template (extended, prepared) and unsafe (simple) queries, types, large
 * results and values, transactions, errors, pipelining on one connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

let up: PgUpstream;
let tp: TestProxy;
let direct: postgres.Sql;
let sql: postgres.Sql;

const opts = { max: 1, onnotice: () => undefined } as const;

describe('postgres.js through jitgate', () => {
  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { extra: { instance: 'e2e-drivers-postgresjs' } });
    direct = postgres(up.superUrl, opts);
    sql = postgres(await tp.url('bob', 'writer'), opts);
  });

  after(async () => {
    await sql?.end({ timeout: 2 });
    await direct?.end({ timeout: 2 });
    await tp?.stop();
    await up?.stop();
  });

  it('runs as an ephemeral jit_ user', async () => {
    const [r] = await sql`select current_user as u`;
    assert.match(r!.u, /^jit_/);
  });

  it('simple query (unsafe, no parameters)', async () => {
    const q = "select 1 as one, 'two' as two, null as nothing, 1.5::numeric as n";
    const d = await direct.unsafe(q);
    const p = await sql.unsafe(q);
    assert.deepEqual([...p], [...d]);
    assert.deepEqual(p.columns.map((c) => [c.name, c.type]), d.columns.map((c) => [c.name, c.type]));
  });

  it('parameterized queries and many types equal direct', async () => {
    const run = (s: postgres.Sql) => s`
      select ${42}::int as i, ${'ünï 🎉 世界'}::text as t, ${null}::text as n, ${Buffer.from([0, 1, 255])}::bytea as b,
        ${s.json({ a: [1, { b: null }], 'ü': '✓' })}::jsonb as j, ${[1, 2, 3]}::int[] as ai, ${['a', 'b c', 'é"\\']}::text[] as at,
        ${new Date('2021-03-04T05:06:07.891Z')}::timestamptz as ts, '2024-02-29'::date as d, ${'12345678901234567890.123456789'}::numeric as num,
        9007199254740993::int8 as big, true as yes, 1.25::float4 as f4, '1 day 02:03:04'::interval as iv,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as id, null::int as ni, array[null, 1]::int[] as an,
        '{"x": 1}'::json as js, ''::text as empty`;
    const [d] = await run(direct);
    const [p] = await run(sql);
    assert.deepEqual(p, d);
    assert.equal(p!.t, 'ünï 🎉 世界');
    assert.deepEqual(p!.b, Buffer.from([0, 1, 255]));
    assert.deepEqual(p!.j, { a: [1, { b: null }], 'ü': '✓' });
    assert.equal(p!.n, null);
  });

  it('multi-statement simple query', async () => {
    const q = 'select 1 as a; select 2 as b, 3 as c; values (1), (2)';
    const d = await direct.unsafe(q);
    const p = await sql.unsafe(q);
    assert.equal(p.length, 3);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), JSON.parse(JSON.stringify(d)));
  });

  it('large result (100k rows) identical to direct', async () => {
    const run = (s: postgres.Sql) =>
      s`select g as id, md5(g::text) as h, case when g % 5 = 0 then null else 'row ' || g end as t from generate_series(1, ${100_000}) g`;
    const d = await run(direct);
    const p = await run(sql);
    assert.equal(p.length, 100_000);
    assert.deepEqual([...p], [...d]);
  });

  it('big single value (20 MB) both ways', async () => {
    const size = 20 * 1024 * 1024;
    const [down] = await sql`select repeat('0123456789', ${size / 10}) as v`;
    assert.equal(down!.v.length, size);
    const big = `${'ß'.repeat(size / 2)}end`;
    const [r] = await sql`select length(${big}::text) as n, md5(${big}::text) as h, ${big}::text as v`;
    const [d] = await direct`select md5(${big}::text) as h`;
    assert.equal(r!.n, size / 2 + 3);
    assert.equal(r!.h, d!.h);
    assert.equal(r!.v, big);
  });

  it('transactions commit and roll back', async () => {
    await sql`create table pj_tx (id int primary key, v text)`;
    await sql.begin(async (tx) => {
      await tx`insert into pj_tx values (1, 'kept')`;
      await tx.savepoint(async (sp) => {
        await sp`insert into pj_tx values (2, 'undone')`;
        throw new Error('undo savepoint');
      }).catch(() => undefined);
    });
    await assert.rejects(
      sql.begin(async (tx) => {
        await tx`insert into pj_tx values (3, 'gone')`;
        await tx`insert into pj_tx values (1, 'duplicate')`;
      }),
      { code: '23505' },
    );
    assert.deepEqual([...(await direct`select id, v from pj_tx order by id`)], [{ id: 1, v: 'kept' }]);
    await sql`drop table pj_tx`;
  });

  it('errors carry the SQLSTATE and the connection stays usable', async () => {
    const e = await sql.unsafe('selec 1').catch((x) => x);
    assert.equal(e.code, '42601');
    const e2 = await sql`select ${'nope'}::int`.catch((x) => x);
    assert.equal(e2.code, '22P02');
    const [r] = await sql`select ${1}::int + 1 as v`;
    assert.equal(r!.v, 2);
  });

  it('prepared statements reused many times', async () => {
    for (let i = 0; i < 300; i++) {
      const [r] = await sql`select ${i}::int * 3 as v, ${`s${i}`}::text as s`;
      assert.deepEqual({ ...r }, { v: i * 3, s: `s${i}` });
    }
    const [n] = await sql`select count(*)::int as n from pg_prepared_statements where statement like '%* 3 as v%' and statement not like '%pg_prepared_statements%'`;
    assert.equal(n!.n, 1);
  });

  it('pipelines many concurrent queries on one connection', async () => {
    const results = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? sql`select ${i}::int as v, repeat('x', ${i % 100}) as pad` : sql`select ${i}::int as v`)),
    );
    results.forEach((r, i) => assert.equal(r[0]!.v, i));
    // Errors in the middle of a pipeline affect only their own query.
    const mixed = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => (i % 10 === 5 ? sql`select 1/0` : sql`select ${i}::int as v`)));
    mixed.forEach((r, i) => {
      if (i % 10 === 5) assert.equal(r.status === 'rejected' && (r.reason as { code: string }).code, '22012');
      else assert.equal(r.status === 'fulfilled' && r.value[0]!.v, i);
    });
    const [u] = await sql`select current_user as u`;
    assert.match(u!.u, /^jit_/);
  });

  it('a pool of 10 connections under concurrent load', async () => {
    const pool = postgres(await tp.url('bob-pool', 'reader'), { max: 10 });
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => pool`select ${i}::int + 1 as v`));
      results.forEach((r, i) => assert.equal(r[0]!.v, i + 1));
    } finally {
      await pool.end({ timeout: 2 });
    }
  });

  it('TLS (ssl: require) works', async () => {
    const s = postgres(await tp.url('bob-tls', 'reader'), { max: 1, ssl: { rejectUnauthorized: false } });
    try {
      const [r] = await s`select current_user as u, ${'ok'}::text as t`;
      assert.match(r!.u, /^jit_/);
      assert.equal(r!.t, 'ok');
    } finally {
      await s.end({ timeout: 2 });
    }
    assert.equal(tp.logs().find((l) => l.event === 'login.ok' && l.sub === 'bob-tls')?.tls, true);
  });
});
