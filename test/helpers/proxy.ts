/**
 * A jitgate proxy for tests, in-process, in front of a prepared upstream: keys in a tmp
 * dir, a config written as a user would write it, tokens minted with the real minting code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { initKeys } from '../../src/auth/keys.js';
import { mintToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/audit/log.js';
import { startProxy, type Proxy, type ProxyOptions } from '../../src/server/proxy.js';
import type { PgUpstream } from './pg-upstream.js';

export interface TestProxy {
  proxy: Proxy;
  config: Config;
  dir: string;
  /** The PostgreSQL listener's port (the MySQL one's when only MySQL listens). */
  port: number;
  /** Log lines written by the proxy (JSON). */
  logs: () => Record<string, unknown>[];
  token(sub: string, role?: string, opts?: { ttlMs?: number; target?: string }): Promise<string>;
  /** A libpq-style URL for `sub` with a fresh token. */
  url(sub: string, role?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestProxyOptions extends ProxyOptions {
  /** Target name = database name clients use. Default "app". */
  targetName?: string;
  profiles?: Record<string, string[]>;
  /** Extra top-level config (merged shallowly). */
  extra?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  /** Extra keys for the target (e.g. warmPool, owner). */
  targetExtra?: Record<string, unknown>;
}

/** `upstream`: a PostgreSQL or MySQL test upstream (test/helpers/pg-upstream.ts, mysql-upstream.ts). */
export async function startTestProxy(upstream: Pick<PgUpstream, 'target' | 'adminPassword'>, opts: TestProxyOptions = {}): Promise<TestProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-test-'));
  await initKeys(path.join(dir, 'keys'));
  const targetName = opts.targetName ?? 'app';
  const profiles = opts.profiles ?? { reader: ['app_read'], writer: ['app_write'] };
  const target = upstream.target(profiles);
  const raw = {
    listen: { postgres: '127.0.0.1:0' },
    auth: {
      issuer: 'jitgate-test',
      signingKeys: './keys/private.jwks.json',
      trust: ['./keys/public.jwks.json'],
      maxTtl: '15m',
      maxSession: '1h',
      ...opts.auth,
    },
    targets: { [targetName]: { ...target, ...opts.targetExtra, admin: { user: target.admin.user, password: '${TEST_ADMIN_PASSWORD}' } } },
    recordings: { dir: './recordings' },
    ...opts.extra,
  };
  fs.writeFileSync(path.join(dir, 'jitgate.yaml'), stringify(raw));
  const config = loadConfig(path.join(dir, 'jitgate.yaml'), { ...process.env, TEST_ADMIN_PASSWORD: upstream.adminPassword });
  const lines: string[] = [];
  const log = createLogger({
    level: 'debug',
    destination: {
      write(s: string) {
        lines.push(s);
        return true;
      },
    } as unknown as NodeJS.WritableStream,
  });
  const proxy = await startProxy(config, { log, ...opts });
  const port = (proxy.addresses.postgres ?? proxy.addresses.mysql)!.port;
  const token = (sub: string, role = Object.keys(profiles)[0]!, o: { ttlMs?: number; target?: string } = {}) =>
    mintToken(config, { sub, target: o.target ?? targetName, role, ttlMs: o.ttlMs ?? 300_000 });
  return {
    proxy,
    config,
    dir,
    port,
    logs: () => lines.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l)),
    token,
    async url(sub, role) {
      return `postgres://${encodeURIComponent(sub)}:${await token(sub, role)}@127.0.0.1:${port}/${targetName}`;
    },
    async stop() {
      await proxy.close(2000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
