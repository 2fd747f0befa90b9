/** Runs the PostgreSQL command-line tools (psql, pgbench) for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';

/** From PATH (Debian: /usr/bin, libpq 15); override with JITGATE_E2E_PSQL / JITGATE_E2E_PGBENCH. */
export const PSQL = process.env.JITGATE_E2E_PSQL ?? 'psql';
export const PGBENCH = process.env.JITGATE_E2E_PGBENCH ?? 'pgbench';

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunningTool {
  child: ChildProcess;
  done: Promise<ToolResult>;
}

/** The environment for a tool: no inherited PG* settings, the password only via PGPASSWORD. */
export function toolEnv(password: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return { ...env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '20', ...extra };
}

export function startTool(bin: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }): RunningTool {
  const started = Date.now();
  const child = spawn(bin, args, { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.end(opts.input ?? '');
  const done = new Promise<ToolResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
  });
  return { child, done };
}

export function runTool(bin: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string }): Promise<ToolResult> {
  return startTool(bin, args, opts).done;
}

/** A libpq keyword/value connection string (no password: give it via PGPASSWORD). */
export function conninfo(p: { host?: string; port: number; dbname: string; user: string; sslmode?: string }): string {
  return `host=${p.host ?? '127.0.0.1'} port=${p.port} dbname=${p.dbname} user=${p.user} sslmode=${p.sslmode ?? 'disable'}`;
}
