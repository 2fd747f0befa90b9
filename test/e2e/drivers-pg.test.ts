/**
 * node-postgres through jitgate, compared with a direct connection to the same upstream:
 * simple and extended queries, many types (text and binary), large results and values,
 * transactions, errors, prepared statements, a Pool, TLS.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { RawPgClient, jitUsers, waitFor } from '../helpers/e2e.js';

let up: PgUpstream;
let tp: TestProxy;
let direct: pg.Client;
let proxied: pg.Client;

const connect = async (config: string | pg.ClientConfig): Promise<pg.Client> => {
  const c = new pg.Client(config);
  await c.connect();
  return c;
};

/** Runs the same query directly and through jitgate; returns both results. */
async function both(q: string | pg.QueryConfig, values?: unknown[]) {
  const a = await direct.query(q as pg.QueryConfig, values);
  const b = await proxied.query(q as pg.QueryConfig, values);
  return { direct: a, proxied: b };
}

const TYPES_SQL = `SELECT
  1::int2 AS i2, 2147483647::int4 AS i4, 9007199254740993::int8 AS i8,
  12345678901234567890.12345678901234567890::numeric AS num, 'NaN'::numeric AS nan,
  1.5::float4 AS f4, -2.25e300::float8 AS f8, true AS yes, false AS no,
  'héllo wörld — 🌍 世界 \u00e9'::text AS uni, ''::text AS empty, 'x'::char(3) AS ch, 'v'::varchar AS vc,
  '\\xdeadbeef00ff'::bytea AS bin, ''::bytea AS bin_empty,
  '{"a":[1,2,{"b":null}],"ü":"✓"}'::json AS js, '{"k": [true, 1.5]}'::jsonb AS jsb,
  ARRAY[1, 2, NULL]::int[] AS ints, ARRAY['a', 'b c', NULL, 'é"\\']::text[] AS texts, '{}'::int[] AS no_ints,
  ARRAY[[1,2],[3,4]]::int8[] AS matrix,
  '2024-02-29 12:34:56.789+00'::timestamptz AS tstz, '2024-02-29 12:34:56.789'::timestamp AS ts,
  '2024-02-29'::date AS d, '13:14:15.5'::time AS tm, '1 day 02:03:04'::interval AS iv,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '192.168.0.1/24'::inet AS ip,
  NULL::text AS null_text, NULL::int AS null_int, NULL::bytea AS null_bytes, NULL::json AS null_json`;

describe('node-postgres through jitgate', () => {
  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { extra: { instance: 'e2e-drivers-pg' } });
    direct = await connect(up.superUrl);
    proxied = await connect(await tp.url('alice', 'writer'));
  });

  after(async () => {
    await proxied?.end().catch(() => undefined);
    await direct?.end().catch(() => undefined);
    await tp?.stop();
    await up?.stop();
  });

  it('runs as an ephemeral jit_ user', async () => {
    const r = await proxied.query<{ u: string; s: string }>('SELECT current_user AS u, session_user AS s');
    assert.match(r.rows[0]!.u, /^jit_/);
    assert.ok(r.rows[0]!.u.length <= 32);
    assert.equal(r.rows[0]!.s, r.rows[0]!.u);
  });

  it('simple query', async () => {
    const { direct: d, proxied: p } = await both('SELECT 1 AS one, $$it\'s$$ AS s, version() AS v');
    assert.deepEqual(p.rows, d.rows);
    assert.deepEqual(p.fields.map((f) => [f.name, f.dataTypeID]), d.fields.map((f) => [f.name, f.dataTypeID]));
    assert.equal(p.command, 'SELECT');
  });

  it('parameterized (extended) query', async () => {
    const values = [42, 'ünïcode 🎉', null, Buffer.from([0, 1, 2, 255]), JSON.stringify({ a: [1, 2] }), [1, 2, 3], new Date('2020-01-02T03:04:05.678Z')];
    const sql = 'SELECT $1::int AS a, $2::text AS b, $3::text AS c, $4::bytea AS d, $5::jsonb AS e, $6::int[] AS f, $7::timestamptz AS g';
    const { direct: d, proxied: p } = await both(sql, values);
    assert.deepEqual(p.rows, d.rows);
    assert.deepEqual(p.rows[0], { a: 42, b: 'ünïcode 🎉', c: null, d: Buffer.from([0, 1, 2, 255]), e: { a: [1, 2] }, f: [1, 2, 3], g: new Date('2020-01-02T03:04:05.678Z') });
  });

  it('many types, simple and extended protocol', async () => {
    const simple = await both(TYPES_SQL);
    assert.deepEqual(simple.proxied.rows, simple.direct.rows);
    assert.equal(simple.proxied.rows[0].uni, 'héllo wörld — 🌍 世界 é');
    assert.equal(simple.proxied.rows[0].null_text, null);
    // A parameter forces the extended protocol.
    const extended = await both(`${TYPES_SQL}, $1::text AS p`, ['x']);
    assert.deepEqual(extended.proxied.rows, extended.direct.rows);
    assert.deepEqual(extended.proxied.fields.map((f) => f.dataTypeID), extended.direct.fields.map((f) => f.dataTypeID));
  });

  it('binary results (binary: true) equal direct', async () => {
    const sql =
      'SELECT 7::int2 AS a, 123456::int4 AS b, 9007199254740993::int8 AS c, 1.25::float4 AS d, 2.5::float8 AS e, true AS f, ' +
      "'txt ✓'::text AS g, '\\x00ff'::bytea AS h, '2024-02-29 12:34:56.789+00'::timestamptz AS i, NULL::int AS j, " +
      "ARRAY[1,NULL,3]::int4[] AS l, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS m, '12.5'::numeric AS n, $1::int AS k";
    // The values as pg received them (its binary decoding goes through a string: compare, don't interpret).
    const q = { text: sql, values: [5], binary: true, types: { getTypeParser: () => (v: unknown) => v } } as pg.QueryConfig;
    const { direct: d, proxied: p } = await both(q);
    assert.ok(p.fields.length === 14 && p.fields.every((f) => f.format === 'binary'));
    assert.deepEqual(p.rows, d.rows);
    assert.equal(p.rows[0].j, null);
  });

  it('binary results byte for byte (bare protocol)', async () => {
    const raw = await RawPgClient.connect(tp.port);
    try {
      const login = await raw.login('bin', 'app', await tp.token('bin', 'reader'));
      assert.equal(login.types.at(-1), 'Z');
      const r = await raw.queryBinary(
        "SELECT 123456::int4, 9007199254740993::int8, 2.5::float8, true, 'txt ✓'::text, '\\x00ff'::bytea, NULL::int, " +
          "'2000-01-01 00:00:01+00'::timestamptz, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
      );
      assert.deepEqual(r.oids, [23, 20, 701, 16, 25, 17, 23, 1184, 2950]);
      assert.deepEqual(r.rows, [[
        Buffer.from('0001e240', 'hex'),
        Buffer.from('0020000000000001', 'hex'),
        Buffer.from('4004000000000000', 'hex'),
        Buffer.from([1]),
        Buffer.from('txt ✓'),
        Buffer.from([0, 0xff]),
        null,
        Buffer.from('00000000000f4240', 'hex'),
        Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex'),
      ]]);
      const many = await raw.queryBinary('SELECT g::int4, md5(g::text)::bytea FROM generate_series(1, 5000) g');
      assert.equal(many.rows.length, 5000);
      many.rows.forEach((row, i) => assert.equal(row[0]!.readInt32BE(0), i + 1));
    } finally {
      raw.end();
    }
  });

  it('multi-statement simple query', async () => {
    const sql = "SELECT 1 AS a; SELECT 'two' AS b, 2 AS c; VALUES (1), (2), (3)";
    const d = (await direct.query(sql)) as unknown as pg.QueryResult[];
    const p = (await proxied.query(sql)) as unknown as pg.QueryResult[];
    assert.equal(p.length, 3);
    assert.deepEqual(p.map((r) => r.rows), d.map((r) => r.rows));
  });

  it('large result (100k rows) identical to direct', async () => {
    const sql = "SELECT g AS id, md5(g::text) AS h, g * 1.5 AS f, CASE WHEN g % 7 = 0 THEN NULL ELSE 'row ' || g END AS t FROM generate_series(1, 100000) g";
    const { direct: d, proxied: p } = await both(sql);
    assert.equal(p.rowCount, 100_000);
    assert.deepEqual(p.rows, d.rows);
    const x = await both(`${sql} WHERE g > $1`, [50_000]);
    assert.equal(x.proxied.rowCount, 50_000);
    assert.deepEqual(x.proxied.rows, x.direct.rows);
  });

  it('big single value (20 MB) both ways', async () => {
    const size = 20 * 1024 * 1024;
    const down = await proxied.query<{ v: string }>(`SELECT repeat('abcdefghij', ${size / 10}) || 'Ω' AS v`);
    assert.equal(down.rows[0]!.v.length, size + 1);
    assert.ok(down.rows[0]!.v.endsWith('jΩ'));
    const big = 'é'.repeat(size / 2) + '🌍';
    const upR = await proxied.query<{ n: number; h: string; v: string }>('SELECT length($1::text) AS n, md5($1::text) AS h, $1::text AS v', [big]);
    const dR = await direct.query<{ h: string }>('SELECT md5($1::text) AS h', [big]);
    assert.equal(upR.rows[0]!.n, size / 2 + 1);
    assert.equal(upR.rows[0]!.h, dR.rows[0]!.h);
    assert.equal(upR.rows[0]!.v, big);
    const bytes = Buffer.alloc(size, 0xa5);
    const b = await proxied.query<{ n: number; v: Buffer }>('SELECT length($1::bytea) AS n, $1::bytea AS v', [bytes]);
    assert.equal(b.rows[0]!.n, size);
    assert.ok(b.rows[0]!.v.equals(bytes));
  });

  it('transactions: commit, rollback, savepoints', async () => {
    await proxied.query('CREATE TABLE tx_t (id int PRIMARY KEY, v text)');
    await proxied.query('BEGIN');
    await proxied.query('INSERT INTO tx_t VALUES (1, $1)', ['kept']);
    await proxied.query('SAVEPOINT s1');
    await proxied.query('INSERT INTO tx_t VALUES (2, $1)', ['undone']);
    await proxied.query('ROLLBACK TO SAVEPOINT s1');
    await proxied.query('COMMIT');
    await proxied.query('BEGIN');
    await proxied.query('INSERT INTO tx_t VALUES (3, $1)', ['rolled back']);
    await proxied.query('ROLLBACK');
    // An error aborts the transaction until ROLLBACK.
    await proxied.query('BEGIN');
    await assert.rejects(proxied.query('INSERT INTO tx_t VALUES (1, $1)', ['dup']), { code: '23505' });
    await assert.rejects(proxied.query('SELECT 1'), { code: '25P02' });
    await proxied.query('ROLLBACK');
    const r = await direct.query('SELECT id, v FROM tx_t ORDER BY id');
    assert.deepEqual(r.rows, [{ id: 1, v: 'kept' }]);
    await proxied.query('DROP TABLE tx_t');
  });

  it('errors carry the SQLSTATE and the session stays usable', async () => {
    const e = await proxied.query('SELEC 1').catch((x) => x);
    assert.equal(e.code, '42601');
    assert.match(e.message, /syntax error/);
    assert.equal(e.severity, 'ERROR');
    assert.equal((await proxied.query('SELECT 1 AS ok')).rows[0].ok, 1);
    await assert.rejects(proxied.query('SELECT $1::int', ['not a number']), { code: '22P02' });
    await assert.rejects(proxied.query('SELECT * FROM no_such_table'), { code: '42P01' });
    await assert.rejects(proxied.query('SELECT 1/0'), { code: '22012' });
    assert.equal((await proxied.query('SELECT $1::int + 1 AS v', [1])).rows[0].v, 2);
  });

  it('prepared statements reused many times', async () => {
    for (let i = 0; i < 500; i++) {
      const r = await proxied.query({ name: 'add_one', text: 'SELECT $1::int + 1 AS v, $2::text AS t', values: [i, `n${i}`] });
      assert.deepEqual(r.rows[0], { v: i + 1, t: `n${i}` });
    }
    const n = await proxied.query("SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = 'add_one'");
    assert.equal(n.rows[0].n, 1);
  });

  it('a Pool of 10 runs 1,000 queries', async () => {
    const pool = new pg.Pool({ connectionString: await tp.url('pooler', 'reader'), max: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => pool.query<{ v: number; u: string }>('SELECT $1::int * 2 AS v, current_user AS u', [i])),
      );
      results.forEach((r, i) => assert.equal(r.rows[0]!.v, i * 2));
      const users = new Set(results.map((r) => r.rows[0]!.u));
      assert.ok(users.size >= 1 && users.size <= 10, `${users.size} users`);
      for (const u of users) assert.match(u, /^jit_/);
    } finally {
      await pool.end();
    }
  });

  it('TLS: ssl with rejectUnauthorized false works and the login is logged as TLS', async () => {
    const c = new pg.Client({ connectionString: await tp.url('tls-user', 'reader'), ssl: { rejectUnauthorized: false } });
    await c.connect();
    try {
      assert.match((await c.query('SELECT current_user AS u')).rows[0].u, /^jit_/);
      assert.ok((c as unknown as { connection: { stream: object } }).connection.stream.constructor.name.includes('TLS'));
    } finally {
      await c.end();
    }
    const logins = tp.logs().filter((l) => l.event === 'login.ok');
    assert.equal(logins.find((l) => l.sub === 'tls-user')?.tls, true);
    assert.equal(logins.find((l) => l.sub === 'alice')?.tls, false);
  });

  it('leaves no ephemeral user behind once the clients are gone', async () => {
    const left = await waitFor(async () => (await jitUsers(up)).length === 1, 5000);
    assert.ok(left, `users: ${(await jitUsers(up)).join(', ')}`);
  });
});
