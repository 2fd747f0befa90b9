/**
 * PgBouncer (Debian package `pgbouncer`) in session mode as a pass-through: it checks the
 * client's SCRAM proof against the verifier in its auth_file and logs in upstream with the
 * keys it learned from that proof.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/util/embedded-postgres.js';
import { onCleanup, spawnTracked, stopChild } from '../cleanup.js';
import { BENCH_USER, DATABASE, type Upstream } from './upstream.js';
import { waitForPort } from './wait-port.js';

export const PGBOUNCER_BIN = process.env.JITGATE_BENCH_PGBOUNCER ?? '/usr/sbin/pgbouncer';
export const PGBOUNCER_MISSING = `PgBouncer not found at ${PGBOUNCER_BIN}: install it: apt-get install pgbouncer (or point JITGATE_BENCH_PGBOUNCER at its binary)`;

export interface PgBouncer {
  port: number;
  pid: number;
  version: string;
}

export function pgbouncerAvailable(): boolean {
  return fs.existsSync(PGBOUNCER_BIN);
}

export async function startPgBouncer(upstream: Upstream, opts: { maxClients: number }): Promise<PgBouncer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-bench-pgbouncer-'));
  onCleanup('PgBouncer folder', () => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const authFile = path.join(dir, 'userlist.txt');
  fs.writeFileSync(authFile, `"${BENCH_USER}" "${upstream.benchVerifier}"\n`, { mode: 0o600 });
  const ini = `[databases]
${DATABASE} = host=${upstream.host} port=${upstream.port} dbname=${DATABASE}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${authFile}
pool_mode = session
max_client_conn = ${opts.maxClients}
default_pool_size = ${opts.maxClients}
server_idle_timeout = 10
ignore_startup_parameters = extra_float_digits
logfile = ${path.join(dir, 'pgbouncer.log')}
`;
  const iniPath = path.join(dir, 'pgbouncer.ini');
  fs.writeFileSync(iniPath, ini, { mode: 0o600 });
  const version = execFileSync(PGBOUNCER_BIN, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();

  // PgBouncer refuses to run as root: hand it the folder and run it as the postgres OS user.
  let ids: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const f of [dir, authFile, iniPath]) fs.chownSync(f, uid, gid);
    ids = { uid, gid };
  }
  // `exec` keeps the pid: the shell only raises the open-file limit for the idle scenario.
  const child = spawnTracked('/bin/sh', ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; exec ${PGBOUNCER_BIN} "$0"`, iniPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...ids,
  });
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  child.stdout!.resume();
  onCleanup('PgBouncer', () => stopChild(child, 'SIGINT'));
  try {
    await waitForPort('127.0.0.1', port, 15_000, () => child.exitCode === null && child.signalCode === null);
  } catch (e) {
    const log = fs.existsSync(path.join(dir, 'pgbouncer.log')) ? fs.readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8').slice(-2000) : '';
    throw new Error(`PgBouncer did not start: ${(e as Error).message}\n${err}${log}`);
  }
  return { port, pid: child.pid!, version };
}
