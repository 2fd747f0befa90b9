/**
 * The real `jitgate serve` process for end-to-end tests: keys and a config written into a
 * tmp dir as a user would write them (admin password via ${ENV}), the CLI spawned from
 * source, readiness learned from its `listen` log line (pino JSON on stdout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { initKeys } from '../../src/auth/keys.js';
import { MANAGED_ROLE } from '../../src/provision/postgres.js';
import type { PgUpstream } from './pg-upstream.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const RUN_DEV = path.join(REPO_ROOT, 'src/cli/run-dev.ts');
export const ADMIN_PASSWORD_ENV = 'JITGATE_E2E_ADMIN_PASSWORD';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `jitgate ...` from source to completion. */
export function runJitgate(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEV, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface ServeConfigOptions {
  /** host:port for listen.postgres. Default 127.0.0.1:0 (the port is read from the `listen` line). */
  listen?: string;
  profiles?: Record<string, string[]>;
  /** Merged into the target config (e.g. owner). */
  target?: Record<string, unknown>;
  tls?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  /** Extra top-level keys. */
  extra?: Record<string, unknown>;
}

export interface ServeConfig {
  dir: string;
  configPath: string;
  /** Environment for the serve process (holds the admin password). */
  env: NodeJS.ProcessEnv;
  adminPassword: string;
  /** Mints a token with `jitgate token`. */
  token(sub: string, role: string, ttl?: string): Promise<string>;
  cleanup(): void;
}

/** Writes keys and a `jitgate.yaml` for `upstream` into a new tmp dir. */
/** `upstream`: a PostgreSQL or MySQL test upstream. */
export async function writeServeConfig(upstream: Pick<PgUpstream, 'target' | 'adminPassword'>, opts: ServeConfigOptions = {}): Promise<ServeConfig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-e2e-'));
  await initKeys(path.join(dir, 'keys'));
  const target = upstream.target(opts.profiles ?? { reader: ['app_read'], writer: ['app_write'] });
  const raw = {
    listen: { postgres: opts.listen ?? '127.0.0.1:0' },
    ...(opts.tls ? { tls: opts.tls } : {}),
    auth: {
      issuer: 'jitgate-e2e',
      signingKeys: './keys/private.jwks.json',
      trust: ['./keys/public.jwks.json'],
      maxTtl: '15m',
      maxSession: '1h',
      ...opts.auth,
    },
    targets: {
      app: {
        ...target,
        admin: { user: target.admin.user, password: `\${${ADMIN_PASSWORD_ENV}}` },
        ...opts.target,
      },
    },
    recordings: { dir: './recordings' },
    limits: { drainTimeout: '2s', ...opts.limits },
    log: { level: 'debug' },
    ...opts.extra,
  };
  const configPath = path.join(dir, 'jitgate.yaml');
  fs.writeFileSync(configPath, stringify(raw));
  const env = { ...process.env, [ADMIN_PASSWORD_ENV]: upstream.adminPassword };
  return {
    dir,
    configPath,
    env,
    adminPassword: upstream.adminPassword,
    async token(sub, role, ttl = '10m') {
      const r = await runJitgate(['token', '--config', configPath, '--sub', sub, '--target', 'app', '--role', role, '--ttl', ttl], { env });
      if (r.code !== 0) throw new Error(`jitgate token exited ${r.code}: ${r.stderr}`);
      return r.stdout.trim();
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export type LogLine = Record<string, unknown> & { event?: string; msg?: string };

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines (lines that are not JSON are skipped). */
  logs(): LogLine[];
  /** Resolves with the first log line matching `pred` (past or future). */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `jitgate serve --config F` and waits for its `listen` log line. */
export async function startServe(
  cfg: Pick<ServeConfig, 'configPath' | 'env'>,
  opts: { readyTimeoutMs?: number; protocol?: 'postgres' | 'mysql' } = {},
): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEV, 'serve', '--config', cfg.configPath], {
    cwd: REPO_ROOT,
    env: cfg.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  child.stdout!.on('data', (d) => {
    out += d;
    notify();
  });
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      // Let the last stdout chunks arrive before waiters give up.
      setImmediate(notify);
    }),
  );
  let done = false;
  void exited.then(() => (done = true));

  const logs = (): LogLine[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = logs().find(pred);
        if (hit) return finish(() => resolve(hit));
        if (done) return finish(() => reject(new Error(`jitgate serve exited before the awaited log line\nstdout:\n${out}\nstderr:\n${err}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`timed out waiting for a log line\nstdout:\n${out}\nstderr:\n${err}`))),
        timeoutMs,
      );
      const finish = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });

  let listen: LogLine;
  try {
    listen = await waitForLog((l) => l.event === 'listen' && l.protocol === (opts.protocol ?? 'postgres'), opts.readyTimeoutMs ?? 60_000);
  } catch (e) {
    if (!done) child.kill('SIGKILL');
    throw e;
  }
  return {
    child,
    pid: child.pid!,
    port: Number(listen.port),
    stdout: () => out,
    stderr: () => err,
    logs,
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Names of the secrets that occur in `text` (never their values). A token counts as leaked
 * when the whole token or its signature occurs.
 */
export function leakedSecrets(text: string, secrets: { tokens?: string[]; passwords?: string[] }): string[] {
  const leaks: string[] = [];
  (secrets.tokens ?? []).forEach((t, i) => {
    const signature = t.split('.')[2] ?? t;
    if (text.includes(t) || (signature.length >= 16 && text.includes(signature))) leaks.push(`token #${i}`);
  });
  (secrets.passwords ?? []).forEach((p, i) => {
    if (p.length >= 8 && text.includes(p)) leaks.push(`password #${i}`);
  });
  return leaks;
}

/** Names of the upstream roles starting with `jit_` (ephemeral users; not the jit_managed marker). */
export async function jitUsers(upstream: PgUpstream): Promise<string[]> {
  const r = await upstream.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%' AND rolname <> $1 ORDER BY 1`,
    [MANAGED_ROLE],
  );
  return r.rows.map((x) => x.rolname);
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
