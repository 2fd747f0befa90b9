import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';

const base = `
listen:
  postgres: 127.0.0.1:15432
auth:
  signingKeys: ./keys/private.jwks.json
targets:
  app:
    protocol: postgres
    database: appdb
    admin: { user: jitgate_admin, password: "\${PW}" }
    roles: { reader: [app_read] }
`;

const parse = (text: string, env: Record<string, string> = { PW: 'x' }) => parseConfig(text, '/etc/jitgate/jitgate.yaml', env);

function refusedWith(key: string) {
  return (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.equal(e.key, key);
    return true;
  };
}

test('a minimal config gets safe defaults, expanded env and paths relative to the file', () => {
  const c = parse(base);
  assert.equal(c.targets.app!.admin.password, 'x');
  assert.equal(c.targets.app!.port, 5432);
  assert.equal(c.auth.signingKeys, path.resolve('/etc/jitgate/keys/private.jwks.json'));
  assert.equal(c.recordings.dir, path.resolve('/etc/jitgate/recordings'));
  assert.equal(c.auth.maxTtl, 15 * 60_000);
  assert.equal(c.limits.handshakeTimeout, 10_000);
  assert.equal(c.limits.maxSessions, 1000);
  assert.equal(c.targets.app!.warmPool.size, 0);
  assert.match(c.instance!, /-15432$/);
});

test('unknown keys, missing variables, bad durations and bad ports name the key', () => {
  assert.throws(() => parse(base + 'bogus: 1\n'), refusedWith('bogus'));
  assert.throws(() => parse(base.replace('roles:', 'rolez: { a: [b] }\n    roles:')), refusedWith('targets.app.rolez'));
  assert.throws(() => parse(base, {}), refusedWith('targets.app.admin.password'));
  assert.throws(() => parse(base + 'auth2: {}\n'), refusedWith('auth2'));
  assert.throws(() => parse(base.replace('15432', '99999')), refusedWith('listen.postgres'));
  assert.throws(() => parse(base + 'limits: { idleTimeout: soon }\n'), refusedWith('limits.idleTimeout'));
});

test('keys this version does not implement are refused rather than ignored', () => {
  assert.throws(() => parse(base + 'policy: ./policy.yaml\n'), refusedWith('policy'));
  assert.throws(() => parse(base + 'state: { redis: "redis://127.0.0.1:6379" }\n'), refusedWith('state'));
  assert.throws(() => parse(base.replace('postgres: 127.0.0.1:15432', 'postgres: 127.0.0.1:15432\n  http: 127.0.0.1:18080')), refusedWith('listen.http'));
});

test('a listener on port 0 gets an instance name of its own', () => {
  const a = parse(base.replace('15432', '0'));
  const b = parse(base.replace('15432', '0'));
  assert.notEqual(a.instance, b.instance);
});
