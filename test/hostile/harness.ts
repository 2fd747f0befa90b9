/**
 * The bench the hostile suites stand on: an upstream, an in-process proxy with tight limits,
 * a healthy session opened first and kept open, the proxy's invariants after each case, and
 * the secrets ledger.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import pg from 'pg';
import type { MaskingHook, StatementHook } from '../../src/engine/types.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy, type TestProxyOptions } from '../helpers/proxy.js';
import { jitUsers, waitFor } from '../helpers/e2e.js';
import { SecretLedger } from './secrets.js';
import { Chaos } from './chaos.js';
import { GSSENC_REQUEST, Wire } from './wire.js';

/** Masking and a statement hook that pass everything but make the relay decode every message. */
export const decodingPipeline: TestProxyOptions['pipeline'] = {
  masking: (): MaskingHook => ({
    planResult: (cols) =>
      cols.some((c) => c.name === 'secret') ? { mask: (i, v) => (cols[i]!.name === 'secret' && v ? Buffer.from('***') : v) } : null,
    maskText: (t) => t,
  }),
  statements: [(): StatementHook => ({ check: () => undefined })],
};

export interface Bench {
  up: PgUpstream;
  tp: TestProxy;
  healthy: pg.Client;
  healthyUser: string;
  ledger: SecretLedger;
  chaos?: Chaos;
  /** A token for `sub` (noted in the ledger). */
  token(sub: string, role?: string): Promise<string>;
  /** The proxy keeps its promises: no crash logged, no login stuck, only the healthy session live, still accepting. */
  invariants(opts?: { liveSessions?: number; timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startBench(opts: { limits?: Record<string, unknown>; proxy?: TestProxyOptions; chaos?: boolean } = {}): Promise<Bench> {
  const up = await startPgUpstream();
  const ledger = new SecretLedger();
  ledger.add('upstream admin password', up.adminPassword);
  let tp: TestProxy;
  // All upstream traffic (sessions and the admin pool) through a breakable forwarder.
  const chaos = opts.chaos ? await Chaos.start(up.host, up.port) : undefined;
  try {
    tp = await startTestProxy(up, {
      pipeline: decodingPipeline,
      ...opts.proxy,
      ...(chaos ? { targetExtra: { port: chaos.port } } : {}),
      extra: { limits: { handshakeTimeout: '2s', ...opts.limits }, ...opts.proxy?.extra },
    });
  } catch (e) {
    await chaos?.stop();
    await up.stop();
    throw e;
  }
  ledger.addJwksFile(tp.config.auth.signingKeys!);
  const token = async (sub: string, role?: string) => ledger.add('token', await tp.token(sub, role));
  const healthy = new pg.Client({ host: '127.0.0.1', port: tp.port, user: 'healthy', database: 'app', password: await token('healthy') });
  healthy.on('error', () => undefined);
  await healthy.connect();
  const healthyUser = (await healthy.query('select current_user as u')).rows[0].u as string;

  const invariants: Bench['invariants'] = async ({ liveSessions = 1, timeoutMs = 8000 } = {}) => {
    const r = await healthy.query('select 1 as one');
    assert.equal(r.rows[0].one, 1, 'the healthy session answers');
    const settled = await waitFor(() => tp.proxy.registry.pending === 0 && tp.proxy.registry.size === liveSessions, timeoutMs);
    assert.ok(settled, `logins stuck: pending=${tp.proxy.registry.pending} live=${tp.proxy.registry.size}`);
    const crashes = tp.logs().filter((l) => l.event === 'session.crash');
    assert.deepEqual(crashes, [], 'no session crashed the proxy code');
    // Still accepting: a GSSENCRequest is answered 'N' at once.
    const w = await Wire.connect(tp.port);
    w.write(GSSENC_REQUEST);
    assert.equal(await w.byte(), 'N', 'the proxy still accepts connections');
    w.destroy();
  };

  return {
    up,
    tp,
    healthy,
    healthyUser,
    ledger,
    chaos,
    token,
    invariants,
    async stop() {
      await healthy.end().catch(() => undefined);
      await tp.stop();
      await chaos?.stop();
      await up.stop();
    },
  };
}

/** Waits until the only ephemeral users upstream are `keep`. */
export async function onlyUsers(b: Bench, keep: string[], timeoutMs = 5000): Promise<string[]> {
  let users: string[] = [];
  await waitFor(async () => {
    users = await jitUsers(b.up);
    return users.filter((u) => !keep.includes(u)).length === 0;
  }, timeoutMs);
  return users.filter((u) => !keep.includes(u));
}

/** Asserts that nothing the ledger holds appears in the proxy's logs or recordings. */
export function assertNoSecrets(b: Bench): void {
  const text = b.tp.logs().map((l) => JSON.stringify(l)).join('\n');
  assert.ok(text.length > 0);
  const hits = [...b.ledger.scan(text), ...b.ledger.scanDir(path.join(b.tp.dir, 'recordings'))];
  assert.deepEqual(hits, [], `secrets found in logs/recordings: ${hits.join(', ')}`);
}
