/**
 * Refused logins: each gets an ErrorResponse with the right SQLSTATE and a message saying
 * why, then an orderly close (never a dropped socket); no ephemeral user is created for any
 * of them; no token ever reaches the proxy's logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import postgres from 'postgres';
import { mintToken } from '../../src/auth/tokens.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { jitUsers, rawLogin, signClaims } from '../helpers/e2e.js';

let up: PgUpstream;
let tp: TestProxy;
/** Every token (or token-like password) a test presented. */
const presented: string[] = [];

const flip = (s: string, at: number): string => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** Logs in with the bare protocol and checks the refusal on the wire. */
async function expectRefused(user: string, database: string, password: string, code: string, why: RegExp): Promise<void> {
  presented.push(password);
  const r = await rawLogin(tp.port, user, database, password);
  assert.deepEqual(r.types, ['E'], `expected a single ErrorResponse, got ${r.types.join(',')}`);
  assert.equal(r.error?.S, 'FATAL');
  assert.equal(r.error?.C, code, r.error?.M);
  assert.match(r.error?.M ?? '', why);
  assert.ok(!(r.error?.M ?? '').includes(password.slice(0, 20)) || password.length < 8, 'the message must not echo the token');
  assert.equal(r.endedCleanly, true, 'the server must close the connection in an orderly way');
}

describe('refused logins', () => {
  before(async () => {
    up = await startPgUpstream();
    const profiles = { reader: ['app_read'], writer: ['app_write'] };
    const target = (p: Record<string, string[]>) => ({ ...up.target(p), admin: { user: up.adminUser, password: '${TEST_ADMIN_PASSWORD}' } });
    tp = await startTestProxy(up, {
      // No reaper: an ephemeral user created by mistake stays visible.
      reaper: false,
      profiles,
      extra: { instance: 'e2e-refusals', targets: { app: target(profiles), other: target({ reader: ['app_read'] }) } },
    });
  });

  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  it('bad signature → 28P01', async () => {
    const t = await tp.token('alice', 'reader');
    const [h, p, s] = t.split('.') as [string, string, string];
    await expectRefused('alice', 'app', `${h}.${p}.${flip(s, 10)}`, '28P01', /bad token signature/);
  });

  it('tampered claims → 28P01', async () => {
    const t = await tp.token('alice', 'reader');
    const [h, p, s] = t.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = `${h}.${b64({ ...claims, sub: 'mallory', role: 'writer' })}.${s}`;
    await expectRefused('mallory', 'app', forged, '28P01', /bad token signature/);
  });

  it('token signed by a key the proxy does not trust → 28P01', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const now = Math.floor(Date.now() / 1000);
    const t = await new SignJWT({ role: 'reader' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'stranger' })
      .setIssuer(tp.config.auth.issuer)
      .setSubject('alice')
      .setAudience('app')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    await expectRefused('alice', 'app', t, '28P01', /unknown key|bad token signature/);
  });

  it('alg none → 28P01', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: tp.config.auth.issuer, sub: 'alice', aud: 'app', role: 'reader', iat: now, exp: now + 60 })}.`;
    await expectRefused('alice', 'app', t, '28P01', /algorithm not allowed/);
  });

  it('expired token → 28P01', async () => {
    const t = await mintToken(tp.config, { sub: 'alice', target: 'app', role: 'reader', ttlMs: 60_000 }, Date.now() - 5 * 60_000);
    await expectRefused('alice', 'app', t, '28P01', /expired/);
  });

  it('token older than auth.maxTtl → 28P01', async () => {
    const now = Math.floor(Date.now() / 1000);
    const t = await signClaims(tp.config, { sub: 'alice', aud: 'app', role: 'reader', iat: now - 3600, exp: now + 600 });
    await expectRefused('alice', 'app', t, '28P01', /too old/);
  });

  it('wrong audience: a token for target app used on database other → 28P01', async () => {
    const t = await tp.token('alice', 'reader', { target: 'app' });
    await expectRefused('alice', 'other', t, '28P01', /audience does not match database "other"/);
    // And the other way round.
    const t2 = await tp.token('alice', 'reader', { target: 'other' });
    await expectRefused('alice', 'app', t2, '28P01', /audience does not match database "app"/);
  });

  it('role that is not a profile of the target → 28P01', async () => {
    const t = await signClaims(tp.config, { sub: 'alice', aud: 'app', role: 'admin' });
    await expectRefused('alice', 'app', t, '28P01', /role "admin" is not a profile of target "app"/);
    // writer is a profile of app, not of other.
    const t2 = await signClaims(tp.config, { sub: 'alice', aud: 'other', role: 'writer' });
    await expectRefused('alice', 'other', t2, '28P01', /role "writer" is not a profile of target "other"/);
  });

  it('login user ≠ token sub → 28000', async () => {
    const t = await tp.token('alice', 'reader');
    await expectRefused('bob', 'app', t, '28000', /does not match the token subject/);
  });

  it('garbage password → 28P01', async () => {
    await expectRefused('alice', 'app', 'hunter2', '28P01', /malformed token/);
    await expectRefused('alice', 'app', 'a.b.c', '28P01', /malformed token/);
    await expectRefused('alice', 'app', 'x'.repeat(9000), '28P01', /too large/);
  });

  it('unknown database → 28P01', async () => {
    const t = await tp.token('alice', 'reader');
    await expectRefused('alice', 'nope', t, '28P01', /audience does not match database "nope"/);
    const t2 = await signClaims(tp.config, { sub: 'alice', aud: 'nope', role: 'reader' });
    await expectRefused('alice', 'nope', t2, '28P01', /unknown target "nope"/);
  });

  it('drivers see the SQLSTATE and the reason', async () => {
    const good = await tp.token('alice', 'reader');
    presented.push(good);
    const pgErr = await new pg.Client({ host: '127.0.0.1', port: tp.port, user: 'bob', database: 'app', password: good })
      .connect()
      .then(() => null, (e) => e);
    assert.equal(pgErr?.code, '28000');
    assert.match(pgErr.message, /does not match the token subject/);
    const expired = await mintToken(tp.config, { sub: 'alice', target: 'app', role: 'reader', ttlMs: 60_000 }, Date.now() - 5 * 60_000);
    presented.push(expired);
    const s = postgres({ host: '127.0.0.1', port: tp.port, user: 'alice', database: 'app', password: expired, max: 1, connect_timeout: 5 });
    const pjErr = await s`select 1`.then(() => null, (e) => e);
    await s.end({ timeout: 1 });
    assert.equal(pjErr?.code, '28P01');
    assert.match(pjErr.message, /expired/);
  });

  it('no ephemeral user was created for any refused login', async () => {
    assert.deepEqual(await jitUsers(up), []);
    assert.ok(!tp.logs().some((l) => l.event === 'user.provisioned'));
    const refused = tp.logs().filter((l) => l.event === 'login.refused');
    assert.ok(refused.length >= 18, `${refused.length} refusals logged`);
    assert.ok(refused.every((l) => typeof l.reason === 'string' && l.reason.length > 0));
  });

  it('a valid login still works, and its user is the only one', async () => {
    const t = await tp.token('alice', 'reader');
    presented.push(t);
    const c = new pg.Client({ host: '127.0.0.1', port: tp.port, user: 'alice', database: 'app', password: t });
    await c.connect();
    const u = (await c.query('SELECT current_user AS u')).rows[0].u;
    assert.deepEqual(await jitUsers(up), [u]);
    await c.end();
  });

  it('no token appears in the proxy logs', () => {
    const text = JSON.stringify(tp.logs());
    assert.ok(text.length > 1000);
    for (const t of presented) {
      if (t.length >= 7) assert.ok(!text.includes(t), 'a presented password/token is in the logs');
      const parts = t.split('.');
      if (parts.length === 3) {
        for (const part of [parts[1]!, parts[2]!]) if (part.length >= 16) assert.ok(!text.includes(part), 'a token segment is in the logs');
      }
    }
  });
});
