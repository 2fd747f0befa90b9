/**
 * A throwaway MariaDB (`mariadb-install-db` + `mariadbd` from the machine's packages) in a
 * folder of its own, listening on 127.0.0.1 only, root with an empty password: for
 * `jitgate demo` and tests. As root, mariadbd runs with --user=root.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

const SMALL = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=4M'];

/** Where `bin` is: on PATH, else in /usr/sbin or /sbin (where Debian puts mariadbd, off a normal user's PATH). */
export async function findBinary(bin: string): Promise<string | null> {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin']) {
    if (!dir) continue;
    try {
      await fs.access(path.join(dir, bin), fs.constants.X_OK);
      return path.join(dir, bin);
    } catch {
      // next
    }
  }
  return null;
}

/** True when a MariaDB server can be started here (mariadbd and mariadb-install-db found). */
export async function haveMariadbServer(): Promise<boolean> {
  return (await findBinary('mariadbd')) !== null && (await findBinary('mariadb-install-db')) !== null;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  srv.close();
  await once(srv, 'close');
  return port;
}

export interface EmbeddedMariadb {
  host: string;
  port: number;
  /** root, with an empty password (the server listens on 127.0.0.1 only). */
  user: string;
  stop(): Promise<void>;
}

export interface EmbeddedMariadbOptions {
  /** Parent folder for the data (default: a new temporary folder); removed by stop(). */
  dir?: string;
  port?: number;
  /** Small InnoDB sizes: quick to start, for a few rows. */
  small?: boolean;
}

export async function startEmbeddedMariadb(opts: EmbeddedMariadbOptions = {}): Promise<EmbeddedMariadb> {
  const missing = [];
  const mariadbd = await findBinary('mariadbd');
  const installDb = await findBinary('mariadb-install-db');
  if (!mariadbd) missing.push('mariadbd');
  if (!installDb) missing.push('mariadb-install-db');
  if (!mariadbd || !installDb) {
    throw new Error(`an embedded MariaDB needs ${missing.join(' and ')} on PATH (Debian/Ubuntu: apt-get install mariadb-server; mariadbd is in /usr/sbin)`);
  }
  const serverOptions = ['--skip-name-resolve', ...(opts.small ? SMALL : [])];
  const dir = opts.dir ? (await fs.mkdir(opts.dir, { recursive: true }), opts.dir) : await fs.mkdtemp(path.join(os.tmpdir(), 'jitgate-mariadb-'));
  const datadir = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  let child: ChildProcess | undefined;
  const kill = () => child?.kill('SIGKILL');
  try {
    await run(installDb, [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
      ...serverOptions,
    ]);
    const port = opts.port ?? (await freePort());
    const errorLog = path.join(dir, 'error.log');
    child = spawn(
      mariadbd,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${path.join(dir, 'sock')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        ...asRoot,
        '--skip-log-bin',
        `--pid-file=${path.join(dir, 'pid')}`,
        `--log-error=${errorLog}`,
        ...serverOptions,
      ],
      { stdio: 'ignore' },
    );
    process.once('exit', kill);
    const exited = once(child, 'exit');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '' }).catch(() => null);
      if (c) {
        await c.end();
        break;
      }
      const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
      if (gone || Date.now() > deadline) {
        const log = await fs.readFile(errorLog, 'utf8').catch(() => '');
        throw new Error(`mariadbd did not start${gone ? ` (exit ${child.exitCode})` : ' within 30 s'}:\n${log.split('\n').slice(-15).join('\n')}`);
      }
    }
    const proc = child;
    return {
      host: '127.0.0.1',
      port,
      user: 'root',
      async stop() {
        process.off('exit', kill);
        if (proc.exitCode === null && proc.signalCode === null) {
          const done = once(proc, 'exit');
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          await done;
          clearTimeout(timer);
        }
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    process.off('exit', kill);
    kill();
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

