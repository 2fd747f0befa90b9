/**
 * `jitgate serve` as its own process (so its CPU and RSS can be read from /proc), run from
 * source like the e2e tests do, with a config written the way a user would write it.
 * Tokens come from `jitgate token`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { initKeys } from '../../src/auth/keys.js';
import { configSchema } from '../../src/config/schema.js';
import { freePort } from '../../src/util/embedded-postgres.js';
import { onCleanup, spawnTracked, stopChild } from '../cleanup.js';
import { waitForPort } from './wait-port.js';
import { REPO_ROOT, type JitgateCommand } from './build.js';
import { ADMIN_USER, BENCH_USER, DATABASE, PROFILE_ROLE, type Upstream } from './upstream.js';
import type { MysqlUpstream } from './mysql-upstream.js';

const execFileP = promisify(execFile);
const ADMIN_PASSWORD_ENV = 'JITGATE_BENCH_ADMIN_PASSWORD';
export const TARGET = 'app';
export const PROFILE = 'reader';

/** Result columns the masking rules match (the masked large-result query names two of them). */
export const MASKED_COLUMNS = ['email', 'ssn'] as const;

/** The upstream a `jitgate serve` fronts: one target, listened for on that protocol's port. */
export interface JitgateTarget {
  protocol: 'postgres' | 'mysql';
  host: string;
  port: number;
  adminPassword: string;
}

export const postgresTarget = (u: Upstream): JitgateTarget => ({ protocol: 'postgres', host: u.host, port: u.port, adminPassword: u.adminPassword });
export const mysqlTarget = (u: MysqlUpstream): JitgateTarget => ({ protocol: 'mysql', host: u.host, port: u.port, adminPassword: u.adminPassword });

export interface JitgateVariant {
  masking: boolean;
  recording: boolean;
}

export interface Jitgate {
  port: number;
  pid: number;
  token: string;
  dir: string;
  recordingsDir: string;
  /** Config keys this build's schema lacks, left out of the config (so that feature is off). */
  missingKeys: string[];
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
}


function configFor(upstream: JitgateTarget, port: number, v: JitgateVariant, maxSessions: number, drop: Set<string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {
    listen: { [upstream.protocol]: `127.0.0.1:${port}` },
    auth: {
      issuer: 'jitgate-bench',
      signingKeys: './keys/private.jwks.json',
      trust: ['./keys/public.jwks.json'],
      maxTtl: '1h',
      maxSession: '2h',
    },
    targets: {
      [TARGET]: {
        protocol: upstream.protocol,
        host: upstream.host,
        port: upstream.port,
        database: DATABASE,
        admin: { user: ADMIN_USER, password: `\${${ADMIN_PASSWORD_ENV}}` },
        roles: { [PROFILE]: [PROFILE_ROLE] },
        // Users (and their upstream logins) prepared ahead of demand: what a deployment
        // that cares about connection rate configures (README "Warm pool"; PostgreSQL only).
        ...(upstream.protocol === 'postgres' ? { warmPool: { size: 8 } } : {}),
      },
    },
    limits: { maxSessions, drainTimeout: '2s' },
    log: { level: 'info', file: './jitgate.log' },
  };
  if (v.masking && !drop.has('masking.rules')) {
    raw.masking = {
      rules: [
        { columns: ['email', '*_email'], action: 'email' },
        { columns: ['ssn'], action: 'redact' },
        { columns: ['card_number'], action: 'partial' },
      ],
    };
  }
  if (!drop.has('recordings.enabled')) raw.recordings = { dir: './recordings', enabled: v.recording };
  else if (v.recording) raw.recordings = { dir: './recordings' };
  return raw;
}

/** Keys of the bench config this build's schema rejects (checked before anything starts). */
export function unsupportedKeys(): string[] {
  const probe = (raw: Record<string, unknown>) => configSchema.safeParse(raw).success;
  const base = {
    listen: { postgres: '127.0.0.1:1' },
    auth: { trust: [] },
    targets: { t: { protocol: 'postgres', database: 'd', admin: { user: 'a' }, roles: { r: ['x'] } } },
  };
  const missing: string[] = [];
  if (!probe({ ...base, masking: { rules: [{ columns: ['email'], action: 'email' }] } })) missing.push('masking.rules');
  if (!probe({ ...base, recordings: { dir: './r', enabled: false } })) missing.push('recordings.enabled');
  return missing;
}

export async function startJitgate(cmd: JitgateCommand, upstream: JitgateTarget, name: string, v: JitgateVariant, opts: { maxSessions: number }): Promise<Jitgate> {
  const jitgateArgs = (args: string[]): [string, string[]] => [cmd.argv[0]!, [...cmd.argv.slice(1), ...args]];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `jitgate-bench-${name}-`));
  onCleanup(`${name} folder`, () => fs.rmSync(dir, { recursive: true, force: true }));
  await initKeys(path.join(dir, 'keys'));
  const port = await freePort();
  const missingKeys = unsupportedKeys();
  const configPath = path.join(dir, 'jitgate.yaml');
  fs.writeFileSync(configPath, stringify(configFor(upstream, port, v, opts.maxSessions, new Set(missingKeys))), { mode: 0o600 });
  const env = { ...process.env, [ADMIN_PASSWORD_ENV]: upstream.adminPassword };

  const [node, args] = jitgateArgs(['token', '--config', configPath, '--sub', BENCH_USER, '--target', TARGET, '--role', PROFILE, '--ttl', '1h']);
  const { stdout } = await execFileP(node, args, { cwd: REPO_ROOT, env, timeout: 60_000 });
  const token = stdout.trim();

  const [n2, a2] = jitgateArgs(['serve', '--config', configPath]);
  const child = spawnTracked(n2, a2, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  onCleanup(`jitgate serve (${name})`, () => stopChild(child, 'SIGTERM', 20_000));
  try {
    await waitForPort('127.0.0.1', port, 60_000, () => child.exitCode === null && child.signalCode === null);
  } catch (e) {
    const log = path.join(dir, 'jitgate.log');
    throw new Error(`jitgate serve (${name}) did not start: ${(e as Error).message}\n${out}${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : ''}`);
  }
  return { port, pid: child.pid!, token, dir, recordingsDir: path.join(dir, 'recordings'), missingKeys, stop: () => stopChild(child, 'SIGTERM', 20_000) };
}

/** Number of files under the recordings folder (0 when there is none). */
export function recordingFiles(j: Jitgate): number {
  if (!fs.existsSync(j.recordingsDir)) return 0;
  return fs.readdirSync(j.recordingsDir, { recursive: true }).length;
}
