/**
 * `jitgate serve` and `jitgate token` refuse bad input with exit 2 and a message naming the
 * flag or config key, before touching any upstream.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initKeys } from '../../src/auth/keys.js';
import { runJitgate } from '../helpers/serve-process.js';

let dir: string;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-e2e-cli-'));
  await initKeys(path.join(dir, 'keys'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A valid config; `patch` edits the text. The upstream (port 1) is never contacted. */
function writeConfig(name: string, patch: (yaml: string) => string = (y) => y): string {
  const yaml = `listen:
  postgres: 127.0.0.1:0
auth:
  issuer: jitgate-e2e
  signingKeys: ./keys/private.jwks.json
  trust: [./keys/public.jwks.json]
  maxTtl: 15m
targets:
  app:
    protocol: postgres
    host: 127.0.0.1
    port: 1
    database: appdb
    admin: { user: jitgate_admin, password: "\${E2E_CLI_ADMIN_PASSWORD}" }
    roles:
      reader: [app_read]
limits:
  drainTimeout: 2s
`;
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, patch(yaml));
  return file;
}

const env = { ...process.env, E2E_CLI_ADMIN_PASSWORD: 'not-used-here' };
const envWithout = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'E2E_CLI_ADMIN_PASSWORD'));

function assertUsage(r: { code: number | null; stderr: string; stdout: string }, names: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr:\n${r.stderr}`);
  assert.match(r.stderr, names);
  assert.equal(r.stdout, '', 'nothing on stdout');
}

test('serve: an unknown config key exits 2 naming the key', async () => {
  const top = writeConfig('unknown-top', (y) => `${y}bogus: 1\n`);
  assertUsage(await runJitgate(['serve', '--config', top], { env }), /\bbogus\b.*unknown key/);

  const nested = writeConfig('unknown-nested', (y) => y.replace('    database: appdb\n', '    database: appdb\n    databse: typo\n'));
  assertUsage(await runJitgate(['serve', '--config', nested], { env }), /targets\.app\.databse: unknown key/);

  const limits = writeConfig('unknown-limits', (y) => `${y}  drainTimeoutt: 3s\n`);
  assertUsage(await runJitgate(['serve', '--config', limits], { env }), /limits\.drainTimeoutt: unknown key/);
});

test('serve: a missing ${ENV} variable exits 2 naming the key and the variable', async () => {
  const file = writeConfig('env');
  const r = await runJitgate(['serve', '--config', file], { env: envWithout });
  assertUsage(r, /targets\.app\.admin\.password/);
  assert.match(r.stderr, /E2E_CLI_ADMIN_PASSWORD/);
});

test('serve: a bad duration exits 2 naming the key', async () => {
  const file = writeConfig('duration', (y) => y.replace('drainTimeout: 2s', 'drainTimeout: 2 fortnights'));
  assertUsage(await runJitgate(['serve', '--config', file], { env }), /limits\.drainTimeout/);

  const maxTtl = writeConfig('max-ttl', (y) => y.replace('maxTtl: 15m', 'maxTtl: soon'));
  assertUsage(await runJitgate(['serve', '--config', maxTtl], { env }), /auth\.maxTtl/);
});

test('serve: missing --config, unreadable config, unknown flag exit 2', async () => {
  assertUsage(await runJitgate(['serve'], { env }), /--config/);
  assertUsage(await runJitgate(['serve', '--config', path.join(dir, 'nope.yaml')], { env }), /--config.*nope\.yaml/);
  assertUsage(await runJitgate(['serve', '--config', writeConfig('ok'), '--bogus'], { env }), /bogus/);
});

test('token: --ttl above auth.maxTtl exits 2 and prints no token', async () => {
  const file = writeConfig('token');
  const args = ['token', '--config', file, '--sub', 'alice', '--target', 'app', '--role', 'reader'];
  const r = await runJitgate([...args, '--ttl', '16m'], { env });
  assertUsage(r, /--ttl/);
  assert.match(r.stderr, /auth\.maxTtl/);
  assertUsage(await runJitgate([...args, '--ttl', '2h'], { env }), /--ttl/);
  assertUsage(await runJitgate([...args, '--ttl', 'later'], { env }), /--ttl/);

  const ok = await runJitgate([...args, '--ttl', '15m'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
});
