import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { SignJWT, base64url, decodeProtectedHeader, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { loadSigningKey, type SigningKey } from '../../src/auth/keys.js';
import { MemoryTokenState, TokenVerifier, mintToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/load.js';
import { JitError, UsageError } from '../../src/errors.js';
import { configYaml, makeFixture, type Fixture } from './fixtures.js';

let fx: Fixture;
let signing: SigningKey;
const login = { user: 'alice', database: 'app' };
const nowSec = () => Math.floor(Date.now() / 1000);

before(async () => {
  fx = await makeFixture();
  signing = await loadSigningKey(fx.keys.privatePath);
});
after(() => fx.cleanup());

function claims(over: JWTPayload = {}): JWTPayload {
  const now = nowSec();
  return { iss: 'jitgate-test', sub: 'alice', aud: 'app', role: 'reader', iat: now, exp: now + 300, jti: 'j-' + Math.random(), ...over };
}

/** Signs claims as given (undefined members dropped) with our key unless told otherwise. */
async function sign(c: JWTPayload, opts: { key?: CryptoKey | Uint8Array; alg?: string; kid?: string | null } = {}): Promise<string> {
  const payload = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
  const header: Record<string, unknown> = { alg: opts.alg ?? 'EdDSA', typ: 'JWT' };
  if (opts.kid !== null) header.kid = opts.kid ?? signing.kid;
  return new SignJWT(payload).setProtectedHeader(header as never).sign(opts.key ?? signing.key);
}

async function refused(v: TokenVerifier, token: string, code: JitError['code'], why: RegExp, who = login): Promise<void> {
  await assert.rejects(v.verify(token, who), (e: unknown) => {
    assert.ok(e instanceof JitError, `expected JitError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.clientMessage, why);
    for (const part of token.split('.').filter((p) => p.length > 8)) {
      assert.ok(!e.clientMessage.includes(part) && !e.message.includes(part), 'message leaks the token');
    }
    return true;
  });
}

test('mint then verify round trip', async () => {
  const v = await TokenVerifier.create(fx.config);
  const token = await mintToken(fx.config, { sub: 'alice', target: 'app', role: 'writer', ttlMs: 120_000 });
  const header = decodeProtectedHeader(token);
  assert.deepEqual(header, { alg: 'EdDSA', kid: fx.keys.kid, typ: 'JWT' });
  const c = decodeJwt(token);
  assert.equal(c.iss, 'jitgate-test');
  assert.equal(c.aud, 'app');
  assert.equal(c.exp! - c.iat!, 120);
  assert.match(c.jti!, /^[A-Za-z0-9_-]{22}$/);
  const grant = await v.verify(token, login);
  assert.deepEqual(grant, { sub: 'alice', target: 'app', role: 'writer', jti: c.jti, iat: c.iat, exp: c.exp, issuer: 'jitgate-test' });
});

test('mintToken refuses bad usage naming the flag', async () => {
  const usage = (key: string) => (e: unknown) => e instanceof UsageError && e.key === key;
  const ok = { sub: 'alice', target: 'app', role: 'reader', ttlMs: 60_000 };
  await assert.rejects(mintToken(fx.config, { ...ok, target: 'nope' }), usage('--target'));
  await assert.rejects(mintToken(fx.config, { ...ok, target: 'constructor' }), usage('--target'));
  await assert.rejects(mintToken(fx.config, { ...ok, role: 'auditor' }), usage('--role'));
  await assert.rejects(mintToken(fx.config, { ...ok, role: 'toString' }), usage('--role'));
  await assert.rejects(mintToken(fx.config, { ...ok, ttlMs: 0 }), usage('--ttl'));
  await assert.rejects(mintToken(fx.config, { ...ok, ttlMs: 16 * 60_000 }), usage('--ttl'));
  await mintToken(fx.config, { ...ok, ttlMs: 15 * 60_000 });
  const noKeys = { ...fx.config, auth: { ...fx.config.auth, signingKeys: undefined } };
  await assert.rejects(mintToken(noKeys, ok), usage('auth.signingKeys'));
});

test('a token without kid is accepted when exactly one key fits', async () => {
  const v = await TokenVerifier.create(fx.config);
  const grant = await v.verify(await sign(claims(), { kid: null }), login);
  assert.equal(grant.sub, 'alice');
});

test('exp within the 30 s skew is still accepted', async () => {
  const v = await TokenVerifier.create(fx.config);
  await v.verify(await sign(claims({ exp: nowSec() - 10 })), login);
  await v.verify(await sign(claims({ nbf: nowSec() + 10 })), login);
});

test('refuses malformed tokens', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, 'not-a-token', 'invalid_password', /malformed token/);
  await refused(v, 'aaaaaaaaaa.bbbbbbbbbb.cccccccccc', 'invalid_password', /malformed token/);
  await refused(v, '', 'invalid_password', /no token/);
  const good = await sign(claims());
  const [h, , s] = good.split('.');
  await refused(v, `${h}.${base64url.encode('[1,2,3]')}.${s}`, 'invalid_password', /bad token signature/);
});

test('refuses alg none', async () => {
  const v = await TokenVerifier.create(fx.config);
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  const token = `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims())}.`;
  await refused(v, token, 'invalid_password', /algorithm not allowed/);
  await refused(v, `${enc({ alg: 'none', kid: signing.kid })}.${enc(claims())}.`, 'invalid_password', /algorithm not allowed/);
});

test('refuses HS256 signed with the public key bytes', async () => {
  const v = await TokenVerifier.create(fx.config);
  const enc = new TextEncoder();
  const secrets = [
    enc.encode(await fs.readFile(fx.keys.publicPath, 'utf8')),
    enc.encode(JSON.stringify(signing.publicJwk)),
    base64url.decode(signing.publicJwk.x!),
    enc.encode(String(createPublicKey({ key: signing.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }))),
  ];
  for (const secret of secrets) {
    await refused(v, await sign(claims(), { key: secret, alg: 'HS256' }), 'invalid_password', /algorithm not allowed/);
  }
});

test('refuses an unknown kid', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims(), { kid: 'no-such-key' }), 'invalid_password', /unknown key/);
});

test('refuses a token signed by another key', async () => {
  const v = await TokenVerifier.create(fx.config);
  const other = await generateKeyPair('EdDSA');
  await refused(v, await sign(claims(), { key: other.privateKey }), 'invalid_password', /bad token signature/);
  await refused(v, await sign(claims(), { key: other.privateKey, kid: null }), 'invalid_password', /bad token signature/);
});

test('refuses an algorithm not in auth.algorithms, even from a trusted key', async (t) => {
  const es = await generateKeyPair('ES256', { extractable: true });
  const jwks = path.join(fx.dir, 'es256.jwks.json');
  await fs.writeFile(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(es.publicKey)), kid: 'es1', alg: 'ES256' }] }));
  const cfgFile = path.join(fx.dir, 'es.yaml');
  const write = async (extra: string) => {
    await fs.writeFile(cfgFile, configYaml(`  signingKeys: ./keys/private.jwks.json\n  trust: [./es256.jwks.json]\n${extra}`));
    return loadConfig(cfgFile);
  };
  const token = await sign(claims(), { key: es.privateKey, alg: 'ES256', kid: 'es1' });
  const trusting = await TokenVerifier.create(await write(''));
  assert.equal((await trusting.verify(token, login)).sub, 'alice');
  const strict = await TokenVerifier.create(await write('  algorithms: [EdDSA]\n'));
  await refused(strict, token, 'invalid_password', /algorithm not allowed/);
  t.after(() => fs.rm(jwks, { force: true }));
});

test('accepts a key from a remote JWKS', async (t) => {
  const es = await generateKeyPair('ES256', { extractable: true });
  const body = JSON.stringify({ keys: [{ ...(await exportJWK(es.publicKey)), kid: 'remote1', alg: 'ES256', use: 'sig' }] });
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const cfgFile = path.join(fx.dir, 'remote.yaml');
  await fs.writeFile(cfgFile, configYaml(`  signingKeys: ./keys/private.jwks.json\n  trust: ["http://127.0.0.1:${port}/jwks"]\n`));
  const v = await TokenVerifier.create(loadConfig(cfgFile));
  const token = await sign(claims(), { key: es.privateKey, alg: 'ES256', kid: 'remote1' });
  assert.equal((await v.verify(token, login)).sub, 'alice');
  await v.verify(await sign(claims()), login); // the local signing key still works
  // No kid: the remote ES256 key is the only one that fits, so it is accepted.
  await v.verify(await sign(claims(), { key: es.privateKey, alg: 'ES256', kid: null }), login);
});

test('a token without kid is refused when several trusted keys fit its alg', async (t) => {
  const other = await generateKeyPair('EdDSA', { extractable: true });
  const jwks = path.join(fx.dir, 'ed2.jwks.json');
  await fs.writeFile(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(other.publicKey)), kid: 'ed2', alg: 'EdDSA' }] }));
  t.after(() => fs.rm(jwks, { force: true }));
  const cfgFile = path.join(fx.dir, 'two.yaml');
  await fs.writeFile(cfgFile, configYaml(`  signingKeys: ./keys/private.jwks.json
  trust: [./ed2.jwks.json, ./keys/public.jwks.json]
`));
  const v = await TokenVerifier.create(loadConfig(cfgFile));
  await refused(v, await sign(claims(), { kid: null }), 'invalid_password', /ambiguous/);
  await v.verify(await sign(claims()), login);
  await v.verify(await sign(claims(), { key: other.privateKey, kid: 'ed2' }), login);
});

test('refuses an expired token', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ iat: nowSec() - 400, exp: nowSec() - 60 })), 'invalid_password', /token expired/);
  await refused(v, await sign(claims({ exp: undefined })), 'invalid_password', /no valid exp/);
});

test('refuses nbf in the future', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ nbf: nowSec() + 120 })), 'invalid_password', /not valid yet/);
});

test('refuses iat older than auth.maxTtl whatever exp says', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ iat: nowSec() - 16 * 60 - 60, exp: nowSec() + 3600 })), 'invalid_password', /too old/);
});

test('refuses iat in the future or missing', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ iat: nowSec() + 120 })), 'invalid_password', /issued in the future/);
  await refused(v, await sign(claims({ iat: undefined })), 'invalid_password', /no valid iat/);
});

test('refuses a wrong audience and an unknown target', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ aud: 'other', role: 'auditor' })), 'invalid_password', /token audience does not match database "app"/);
  await refused(v, await sign(claims({ aud: 'ghost' })), 'invalid_password', /unknown target "ghost"/, { user: 'alice', database: 'ghost' });
  await refused(v, await sign(claims({ aud: undefined })), 'invalid_password', /audience/);
});

test('refuses a wrong issuer', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ iss: 'someone-else' })), 'invalid_password', /issuer/);
  await refused(v, await sign(claims({ iss: undefined })), 'invalid_password', /issuer/);
});

test('refuses a role that is not a profile of the target', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ role: 'auditor' })), 'invalid_password', /token role "auditor" is not a profile of target "app"/);
  await refused(v, await sign(claims({ role: 'constructor' })), 'invalid_password', /not a profile/);
  await refused(v, await sign(claims({ role: undefined })), 'invalid_password', /no role/);
});

test('login user must equal sub (invalid_authorization), checked after the signature', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ sub: 'bob' })), 'invalid_authorization', /does not match/);
  const other = await generateKeyPair('EdDSA');
  await refused(v, await sign(claims({ sub: 'bob' }), { key: other.privateKey }), 'invalid_password', /bad token signature/);
});

test('refuses a huge token', async () => {
  const v = await TokenVerifier.create(fx.config);
  await refused(v, await sign(claims({ pad: 'x'.repeat(9000) })), 'invalid_password', /too large/);
});

test('singleUse: a jti logs in once, a token without jti is refused', async (t) => {
  const single = await makeFixture('  singleUse: true\n');
  t.after(() => single.cleanup());
  const v = await TokenVerifier.create(single.config);
  const token = await mintToken(single.config, { sub: 'alice', target: 'app', role: 'reader', ttlMs: 60_000 });
  await v.verify(token, login);
  await refused(v, token, 'invalid_password', /already used/);
  const key = await loadSigningKey(single.keys.privatePath);
  const noJti = await new SignJWT({ ...claims({ jti: undefined }) }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(key.key);
  await refused(v, noJti, 'invalid_password', /no jti/);
  // Without singleUse the same token may log in again.
  const multi = await TokenVerifier.create(fx.config);
  const again = await sign(claims());
  await multi.verify(again, login);
  await multi.verify(again, login);
});

test('refuses revoked tokens by sub or jti', async () => {
  const state = new MemoryTokenState();
  const v = await TokenVerifier.create(fx.config, { state });
  const t1 = await sign(claims({ jti: 'revoke-me' }));
  await v.verify(t1, login);
  state.revoke({ jti: 'revoke-me' });
  await refused(v, t1, 'invalid_password', /revoked/);
  const t2 = await sign(claims());
  await v.verify(t2, login);
  state.revoke({ sub: 'alice' });
  await refused(v, t2, 'invalid_password', /revoked/);
  await refused(v, await sign(claims()), 'invalid_password', /revoked/);
  assert.equal((await v.verify(await sign(claims({ sub: 'carol' })), { user: 'carol', database: 'app' })).sub, 'carol');
});

test('MemoryTokenState forgets a jti after its exp', () => {
  let now = 1_000_000_000_000;
  const s = new MemoryTokenState(() => now);
  assert.equal(s.useOnce('a', now / 1000 + 10), true);
  assert.equal(s.useOnce('a', now / 1000 + 10), false);
  now += 120_000;
  assert.equal(s.useOnce('a', now / 1000 + 10), true);
});
