import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { generate } from 'selfsigned';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

/** A certificate for "localhost" that is its own CA, readable by the server's OS user. */
async function serverCert(dir: string, cn: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 2, value: cn }] }],
  } as Parameters<typeof generate>[1]);
  const cert = path.join(dir, `${cn}.crt`);
  const key = path.join(dir, `${cn}.key`);
  fs.writeFileSync(cert, pems.cert);
  fs.writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key };
}

describe('upstream TLS (targets.X.tls)', () => {
  let dir: string;
  let up: PgUpstream;
  let good: { cert: string; key: string };
  let other: { cert: string; key: string };
  const proxies: TestProxy[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-tls-'));
    fs.chmodSync(dir, 0o755);
    good = await serverCert(dir, 'localhost');
    other = await serverCert(dir, 'elsewhere');
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:', dir]);
    up = await startPgUpstream({ settings: { ssl: 'on', ssl_cert_file: good.cert, ssl_key_file: good.key } });
  });
  after(async () => {
    for (const p of proxies) await p.stop().catch(() => undefined);
    await up?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const proxyWith = async (tls: Record<string, string>) => {
    const tp = await startTestProxy(up, { targetExtra: { host: '127.0.0.1', tls }, reaper: false });
    proxies.push(tp);
    return tp;
  };

  test('verify-full against the server certificate: the session runs over TLS upstream', async () => {
    const tp = await proxyWith({ mode: 'verify-full', ca: good.cert, servername: 'localhost' });
    const c = new pg.Client({ connectionString: await tp.url('alice', 'reader') });
    await c.connect();
    const r = await c.query('select current_user u, ssl from pg_stat_ssl where pid = pg_backend_pid()');
    assert.match(r.rows[0].u, /^jit_/);
    assert.equal(r.rows[0].ssl, true);
    await c.end();
  });

  test('require encrypts without checking the certificate', async () => {
    const tp = await proxyWith({ mode: 'require' });
    const c = new pg.Client({ connectionString: await tp.url('alice', 'reader') });
    await c.connect();
    const r = await c.query('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    assert.equal(r.rows[0].ssl, true);
    await c.end();
  });

  test('verify-full with a CA that did not sign the server certificate refuses the login, leaving no user', async () => {
    const tp = await proxyWith({ mode: 'verify-full', ca: other.cert, servername: 'localhost' });
    const c = new pg.Client({ connectionString: await tp.url('alice', 'reader') });
    await assert.rejects(c.connect(), (e: Error & { code?: string }) => {
      assert.ok(['08006', '58000'].includes(e.code ?? ''), `${e.code}: ${e.message}`);
      return true;
    });
    const left = await up.query("select rolname from pg_roles where rolname like 'jit\\_%' and rolname <> 'jit_managed'");
    assert.deepEqual(left.rows, []);
  });
});
