/**
 * Client-facing TLS with `tls.require: true`: TLS clients work (self-signed certificate
 * generated at start), plain clients get 28000 saying TLS is required, and no ephemeral
 * user is created for them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { jitUsers, rawLogin, waitFor } from '../helpers/e2e.js';

let up: PgUpstream;
let tp: TestProxy;

describe('TLS through jitgate (tls.require: true)', () => {
  before(async () => {
    up = await startPgUpstream();
    tp = await startTestProxy(up, { extra: { instance: 'e2e-tls', tls: { require: true } } });
  });

  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  it('pg with ssl { rejectUnauthorized: false } works and login.tls is true', async () => {
    const c = new pg.Client({ connectionString: await tp.url('tls-pg', 'reader'), ssl: { rejectUnauthorized: false } });
    await c.connect();
    try {
      const r = await c.query('SELECT current_user AS u, $1::text AS t', ['über TLS']);
      assert.match(r.rows[0].u, /^jit_/);
      assert.equal(r.rows[0].t, 'über TLS');
      const big = await c.query(`SELECT string_agg(md5(g::text), '') AS v FROM generate_series(1, 100000) g`);
      assert.equal(big.rows[0].v.length, 3_200_000);
    } finally {
      await c.end();
    }
    const login = tp.logs().find((l) => l.event === 'login.ok' && l.sub === 'tls-pg');
    assert.equal(login?.tls, true);
  });

  it('postgres.js with ssl works', async () => {
    const s = postgres(await tp.url('tls-pj', 'reader'), { max: 1, ssl: { rejectUnauthorized: false } });
    try {
      const [r] = await s`select current_user as u, ${42}::int as n`;
      assert.match(r!.u, /^jit_/);
      assert.equal(r!.n, 42);
    } finally {
      await s.end({ timeout: 2 });
    }
  });

  it('CancelRequest over TLS (postgres.js opens its cancel connection with TLS too)', async () => {
    const s = postgres(await tp.url('tls-cancel', 'reader'), { max: 1, ssl: { rejectUnauthorized: false } });
    try {
      const [{ u }] = (await s`select current_user as u`) as unknown as [{ u: string }];
      const q = s`select pg_sleep(30)`;
      const result = q.then(
        () => null,
        (e: { code?: string }) => e,
      );
      const active = await waitFor(
        async () => (await up.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query LIKE 'select pg_sleep%'`, [u])).rowCount! > 0,
        10_000,
      );
      assert.ok(active);
      q.cancel();
      assert.equal((await result)?.code, '57014');
    } finally {
      await s.end({ timeout: 2 });
    }
  });

  it('the self-signed certificate is presented (verification fails without rejectUnauthorized: false)', async () => {
    const c = new pg.Client({ connectionString: await tp.url('tls-verify', 'reader'), ssl: true });
    const e = await c.connect().then(() => null, (x) => x);
    await c.end().catch(() => undefined);
    assert.ok(e, 'connecting with certificate verification must fail');
    assert.match(String(e.code ?? e.message), /SELF_SIGNED|self.signed|DEPTH_ZERO/i);
  });

  it('a non-TLS client is refused with 28000 saying TLS is required', async () => {
    const before = await jitUsers(up);
    const c = new pg.Client({ connectionString: await tp.url('plain', 'reader'), ssl: false });
    const e = await c.connect().then(() => null, (x) => x);
    await c.end().catch(() => undefined);
    assert.equal(e?.code, '28000');
    assert.match(e.message, /TLS/);
    // On the bare protocol: an ErrorResponse, then an orderly close.
    const raw = await rawLogin(tp.port, 'plain', 'app', await tp.token('plain', 'reader'));
    assert.deepEqual(raw.types, ['E']);
    assert.equal(raw.error?.S, 'FATAL');
    assert.equal(raw.error?.C, '28000');
    assert.match(raw.error?.M ?? '', /requires TLS/);
    assert.equal(raw.endedCleanly, true);
    assert.deepEqual(await jitUsers(up), before);
    assert.ok(!tp.logs().some((l) => l.event === 'login.ok' && l.sub === 'plain'));
  });
});
