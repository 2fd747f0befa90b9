import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { initKeys, loadSigningKey, loadTrust } from '../../src/auth/keys.js';
import { UsageError } from '../../src/errors.js';

async function tmpDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitgate-keys-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('initKeys writes a 0600 private JWKS and its public half', async (t) => {
  const dir = await tmpDir(t);
  const { privatePath, publicPath, kid } = await initKeys(path.join(dir, 'k'));
  assert.equal(privatePath, path.join(dir, 'k', 'private.jwks.json'));
  assert.equal(publicPath, path.join(dir, 'k', 'public.jwks.json'));
  assert.equal((await fs.stat(privatePath)).mode & 0o777, 0o600);
  assert.equal((await fs.stat(publicPath)).mode & 0o022, 0, 'public file not group/world writable');

  const priv = JSON.parse(await fs.readFile(privatePath, 'utf8'));
  const pub = JSON.parse(await fs.readFile(publicPath, 'utf8'));
  assert.equal(priv.keys.length, 1);
  assert.equal(pub.keys.length, 1);
  const [pk] = priv.keys;
  assert.equal(pk.kty, 'OKP');
  assert.equal(pk.crv, 'Ed25519');
  assert.equal(pk.alg, 'EdDSA');
  assert.equal(pk.use, 'sig');
  assert.equal(typeof pk.d, 'string');
  assert.equal(pk.kid, kid);
  assert.equal(kid, await calculateJwkThumbprint(pk, 'sha256'));
  assert.deepEqual(pub.keys[0], { kty: 'OKP', crv: 'Ed25519', x: pk.x, kid, alg: 'EdDSA', use: 'sig' });
  assert.deepEqual((await fs.readdir(path.join(dir, 'k'))).sort(), ['private.jwks.json', 'public.jwks.json']);
});

test('initKeys refuses to overwrite unless force', async (t) => {
  const dir = await tmpDir(t);
  const first = await initKeys(dir);
  const before = await fs.readFile(first.privatePath, 'utf8');
  await assert.rejects(initKeys(dir), (e: unknown) => e instanceof UsageError && /already exists/.test(e.message));
  assert.equal(await fs.readFile(first.privatePath, 'utf8'), before);
  // Only one of the two present is still refused, and nothing is written.
  await fs.rm(first.publicPath);
  await assert.rejects(initKeys(dir), UsageError);
  await assert.rejects(fs.stat(first.publicPath));

  const second = await initKeys(dir, { force: true });
  assert.notEqual(second.kid, first.kid);
  assert.equal((await fs.stat(second.privatePath)).mode & 0o777, 0o600);
  assert.deepEqual((await fs.readdir(dir)).sort(), ['private.jwks.json', 'public.jwks.json']);
});

test('loadSigningKey names auth.signingKeys when the file is missing or not a private JWKS', async (t) => {
  const dir = await tmpDir(t);
  const { privatePath, publicPath, kid } = await initKeys(dir);
  const loaded = await loadSigningKey(privatePath);
  assert.equal(loaded.kid, kid);
  assert.equal(loaded.alg, 'EdDSA');
  assert.equal(loaded.publicJwk.d, undefined);

  const isKeyError = (e: unknown) => e instanceof UsageError && e.key === 'auth.signingKeys' && /auth\.signingKeys/.test(e.message);
  await assert.rejects(loadSigningKey(path.join(dir, 'missing.json')), isKeyError);
  await assert.rejects(loadSigningKey(publicPath), isKeyError);
  const junk = path.join(dir, 'junk.json');
  await fs.writeFile(junk, 'not json');
  await assert.rejects(loadSigningKey(junk), isKeyError);
  await fs.writeFile(junk, '{"kty":"OKP"}');
  await assert.rejects(loadSigningKey(junk), isKeyError);
});

test('loadTrust names auth.trust for an unreadable file or a plain-http remote URL', async (t) => {
  const dir = await tmpDir(t);
  const base = { auth: { issuer: 'x', trust: [] as string[], maxTtl: 1, maxSession: 1, singleUse: false, algorithms: ['EdDSA'] } };
  const cfg = (trust: string[]) => ({ ...base, auth: { ...base.auth, trust } }) as never;
  const isTrustError = (e: unknown) => e instanceof UsageError && e.key === 'auth.trust';
  await assert.rejects(loadTrust(cfg([path.join(dir, 'nope.json')])), isTrustError);
  await assert.rejects(loadTrust(cfg(['http://keys.example.com/jwks.json'])), isTrustError);
  await loadTrust(cfg(['https://keys.example.com/jwks.json']));
});
