import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initKeys } from '../../src/auth/keys.js';
import { TokenVerifier } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/load.js';
import { configYaml } from './fixtures.js';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitgate-cli-'));
  await initKeys(path.join(dir, 'keys'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

function jitgate(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run-dev.ts', ...args], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('keys init writes the pair, prints paths only, refuses to overwrite', async () => {
  const keyDir = path.join(dir, 'cli-keys');
  const r = await jitgate('keys', 'init', '--dir', keyDir);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(path.join(keyDir, 'private.jwks.json')));
  assert.ok(r.stdout.includes(path.join(keyDir, 'public.jwks.json')));
  const priv = JSON.parse(await fs.readFile(path.join(keyDir, 'private.jwks.json'), 'utf8'));
  assert.ok(!r.stdout.includes(priv.keys[0].d) && !r.stdout.includes(priv.keys[0].x), 'no key material printed');

  const again = await jitgate('keys', 'init', '--dir', keyDir);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists/);
  assert.equal((await jitgate('keys', 'init', '--dir', keyDir, '--force')).code, 0);

  assert.equal((await jitgate('keys', 'init')).code, 2);
  assert.equal((await jitgate('keys', '--dir', keyDir)).code, 2);
  assert.equal((await jitgate('keys', 'init', '--dir', keyDir, '--bogus')).code, 2);
});

test('token prints only a token that verifies', async () => {
  const cfg = path.join(dir, 'jitgate.yaml');
  await fs.writeFile(cfg, configYaml('  signingKeys: ./keys/private.jwks.json\n'));
  const r = await jitgate('token', '--config', cfg, '--sub', 'alice', '--target', 'app', '--role', 'reader', '--ttl', '2m');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  assert.equal(r.stderr, '');
  const token = r.stdout.trim();
  const grant = await (await TokenVerifier.create(loadConfig(cfg))).verify(token, { user: 'alice', database: 'app' });
  assert.equal(grant.exp - grant.iat, 120);

  const dflt = await jitgate('token', '--config', cfg, '--sub', 'alice', '--target', 'app', '--role', 'reader');
  assert.equal(dflt.code, 0, dflt.stderr);
  const claims = JSON.parse(Buffer.from(dflt.stdout.split('.')[1]!, 'base64url').toString());
  assert.equal(claims.exp - claims.iat, 300);
});

test('token bad usage exits 2 naming the flag or key', async () => {
  const cfg = path.join(dir, 'jitgate.yaml');
  await fs.writeFile(cfg, configYaml('  signingKeys: ./keys/private.jwks.json\n'));
  const base = ['token', '--config', cfg, '--sub', 'alice', '--target', 'app', '--role', 'reader'];
  const cases: [string[], RegExp][] = [
    [[...base, '--ttl', '1h'], /--ttl/],
    [[...base, '--ttl', 'soon'], /--ttl/],
    [[...base, '--ttl', '0'], /--ttl/],
    [['token', '--config', cfg, '--sub', 'alice', '--target', 'nope', '--role', 'reader'], /--target/],
    [['token', '--config', cfg, '--sub', 'alice', '--target', 'app', '--role', 'auditor'], /--role/],
    [['token', '--config', cfg, '--target', 'app', '--role', 'reader'], /--sub/],
    [['token', '--sub', 'alice', '--target', 'app', '--role', 'reader'], /--config/],
  ];
  for (const [args, why] of cases) {
    const r = await jitgate(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.equal(r.stdout, '');
  }

  const noKeys = path.join(dir, 'trust-only.yaml');
  await fs.writeFile(noKeys, configYaml('  trust: [./keys/public.jwks.json]\n'));
  const r = await jitgate('token', '--config', noKeys, '--sub', 'alice', '--target', 'app', '--role', 'reader');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /auth\.signingKeys/);

  const missing = path.join(dir, 'missing-key.yaml');
  await fs.writeFile(missing, configYaml('  signingKeys: ./nowhere/private.jwks.json\n'));
  const m = await jitgate('token', '--config', missing, '--sub', 'alice', '--target', 'app', '--role', 'reader');
  assert.equal(m.code, 2);
  assert.match(m.stderr, /auth\.signingKeys/);
});
