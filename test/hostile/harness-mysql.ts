/**
 * The MySQL bench the hostile suites stand on: the local MariaDB as upstream, an in-process
 * proxy listening for MySQL with tight limits and masking on, a healthy mysql2 session opened
 * first and kept open, the proxy's invariants after each case, and the secrets ledger.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { startMysqlUpstream, jitMysqlUsers, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/e2e.js';
import { DEFAULT_META_DATABASE, META_TABLE } from '../../src/provision/mysql.js';
import { SecretLedger } from './secrets.js';
import { MysqlWire, handshakeResponse41, isErr, packet, parseErr } from './mysql-wire.js';

/** The MySQL target's name: clients connect with database "shop". */
export const TARGET = 'shop';
/** A PostgreSQL target in the same config (nothing listens where it points). */
export const PG_TARGET = 'app';

export interface MysqlBench {
  up: MysqlUpstream;
  tp: TestProxy;
  /** The proxy's MySQL port. */
  port: number;
  healthy: mysql.Connection;
  healthyUser: string;
  /** jitgate's RSA public key (PEM) for caching_sha2_password on plain connections. */
  publicKeyPem: string;
  ledger: SecretLedger;
  /** A token for `sub` on the MySQL target (or `target`), noted in the ledger. */
  token(sub: string, opts?: { role?: string; target?: string }): Promise<string>;
  /** The proxy keeps its promises: the healthy session answers, still greeting, no crash logged, no login stuck. */
  invariants(opts?: { liveSessions?: number; timeoutMs?: number }): Promise<void>;
  /** Ephemeral users of this proxy still on the server after up to `timeoutMs`, but `keep`. */
  usersLeft(keep?: string[], timeoutMs?: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startMysqlBench(opts: { limits?: Record<string, unknown> } = {}): Promise<MysqlBench> {
  const up = await startMysqlUpstream();
  const ledger = new SecretLedger();
  ledger.add('upstream admin password', up.adminPassword);
  const pgAdminPassword = ledger.add('pg target admin password', randomBytes(18).toString('base64url'));
  const profiles = { reader: ['app_read'], writer: ['app_write'] };
  const target = up.target(profiles);
  let tp: TestProxy;
  try {
    tp = await startTestProxy(up, {
      targetName: TARGET,
      profiles,
      extra: {
        listen: { mysql: '127.0.0.1:0' },
        limits: { handshakeTimeout: '2s', ...opts.limits },
        // Masking on: the relay decodes column definitions and every row.
        masking: { rules: [{ columns: ['ssn'], action: 'redact' }], detectors: ['email'] },
        targets: {
          [TARGET]: { ...target, admin: { user: target.admin.user, password: '${TEST_ADMIN_PASSWORD}' } },
          [PG_TARGET]: {
            protocol: 'postgres',
            host: '127.0.0.1',
            port: 1,
            database: 'app',
            admin: { user: 'jitgate_admin', password: pgAdminPassword },
            roles: { reader: ['app_read'] },
          },
        },
      },
    });
  } catch (e) {
    await up.stop();
    throw e;
  }
  ledger.addJwksFile(tp.config.auth.signingKeys!);
  const port = tp.proxy.addresses.mysql!.port;
  const token = async (sub: string, o: { role?: string; target?: string } = {}) => ledger.add('token', await tp.token(sub, o.role ?? 'reader', { target: o.target }));

  let healthy: mysql.Connection;
  let healthyUser: string;
  let publicKeyPem: string;
  try {
    publicKeyPem = await rsaPublicKey(port);
    healthy = await mysql.createConnection({ host: '127.0.0.1', port, user: 'healthy', password: await token('healthy'), database: TARGET });
    healthy.on('error', () => undefined);
    const [rows] = await healthy.query<mysql.RowDataPacket[]>('select current_user() as u');
    healthyUser = String(rows[0]!.u).split('@')[0]!;
  } catch (e) {
    await tp.stop();
    await up.stop();
    throw e;
  }

  /** Users of this proxy instance: its metadata rows name them (other test runs may share the server). */
  const ours = async (): Promise<string[]> => {
    const rows = await up.query<{ user_name: string }>(`SELECT user_name FROM \`${DEFAULT_META_DATABASE}\`.\`${META_TABLE}\` WHERE instance = ?`, [tp.config.instance]);
    const mine = new Set(rows.map((r) => r.user_name));
    return (await jitMysqlUsers(up)).filter((u) => mine.has(u));
  };

  const invariants: MysqlBench['invariants'] = async ({ liveSessions = 1, timeoutMs = 8000 } = {}) => {
    const [rows] = await healthy.query<mysql.RowDataPacket[]>('select 1 as one');
    assert.equal(rows[0]!.one, 1, 'the healthy session answers');
    // Still accepting: a new connection is greeted with HandshakeV10 at once.
    const w = await MysqlWire.greeted(port);
    assert.equal(w.greeting?.plugin, 'caching_sha2_password', 'the proxy still greets new connections');
    w.destroy();
    const settled = await waitFor(() => tp.proxy.registry.pending === 0 && tp.proxy.registry.size === liveSessions, timeoutMs);
    assert.ok(settled, `logins stuck: pending=${tp.proxy.registry.pending} live=${tp.proxy.registry.size}`);
    const crashes = tp.logs().filter((l) => l.event === 'session.crash');
    assert.deepEqual(crashes, [], 'no session crashed the proxy code');
  };

  return {
    up,
    tp,
    port,
    healthy,
    healthyUser,
    publicKeyPem,
    ledger,
    token,
    invariants,
    async usersLeft(keep = [healthyUser], timeoutMs = 5000) {
      let left: string[] = [];
      await waitFor(async () => (left = (await ours()).filter((u) => !keep.includes(u))).length === 0, timeoutMs);
      return left;
    },
    async stop() {
      await healthy.end().catch(() => undefined);
      await tp.stop();
      await up.stop();
    },
  };
}

/**
 * jitgate's RSA public key. The proxy makes its key on first use, which may take longer than
 * the handshake timeout: a client asking for the key (0x02) meanwhile is refused by the
 * timeout and its login never settles (see the catalogue case about the first RSA key). So
 * the key is made first by logins that answer with a wrong encrypted token (refused with 1045
 * once the key exists, or timed out, neither left pending), then asked for.
 */
async function rsaPublicKey(port: number, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const attempt = async (answer: Buffer): Promise<Buffer> => {
    const w = await MysqlWire.greeted(port);
    try {
      w.write(packet(1, handshakeResponse41()));
      const more = await w.must();
      w.write(packet(more.seq + 1, answer));
      return (await w.must(10_000)).payload;
    } finally {
      w.destroy();
    }
  };
  for (;;) {
    const refused = await attempt(Buffer.alloc(1));
    if (isErr(refused) && parseErr(refused).errno === 1045) break;
    if (Date.now() > deadline) throw new Error('jitgate did not make its RSA key');
  }
  const key = await attempt(Buffer.from([0x02]));
  if (key[0] !== 0x01) throw new Error('jitgate did not send its RSA public key');
  return key.toString('latin1', 1);
}

/** Asserts that nothing the ledger holds appears in the proxy's logs or recordings. */
export function assertNoMysqlSecrets(b: MysqlBench): void {
  const text = b.tp.logs().map((l) => JSON.stringify(l)).join('\n');
  assert.ok(text.length > 0);
  const hits = [...b.ledger.scan(text), ...b.ledger.scanDir(path.join(b.tp.dir, 'recordings'))];
  assert.deepEqual(hits, [], `secrets found in logs/recordings: ${hits.join(', ')}`);
}
