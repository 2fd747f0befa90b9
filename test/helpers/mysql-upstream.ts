/**
 * A MariaDB upstream prepared for jitgate, for tests: an app database with a `customers`
 * table, profile roles, and an admin login set up with `mysqlSetupSql` (so the least-privilege
 * setup is what every test runs on).
 *
 * `server: 'local'` (default) uses the machine's MariaDB at 127.0.0.1:3306 (root, empty
 * password); accounts and roles are server-wide there, so every name gets a random suffix —
 * read the actual names from `roles`, `adminUser` and `database`. `stop()` drops all of it and
 * the `jit_` users that hold its roles.
 * `server: 'embedded'` runs a throwaway `mariadbd` in a temporary folder; `stop()` shuts it
 * down and removes the folder.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import type { TargetConfig } from '../../src/config/schema.js';
import { DEFAULT_META_DATABASE, META_TABLE, quoteMysqlName as qn } from '../../src/provision/mysql.js';
import { mysqlSetupSql } from '../../src/provision/mysql-setup.js';

export interface MysqlUpstreamOptions {
  server?: 'local' | 'embedded';
  /** Profile roles to create. Default: app_read, app_write; a name containing "write" may write. */
  roles?: string[];
}

export interface MysqlUpstream {
  host: string;
  port: number;
  database: string;
  adminUser: string;
  adminPassword: string;
  flavour: 'mariadb';
  /** Requested role name -> actual name (identical on an embedded server). */
  roles: Record<string, string>;
  /** A target config for this upstream; `profiles` maps profile -> requested role names. */
  target(profiles: Record<string, string[]>, extra?: Partial<TargetConfig>): TargetConfig;
  /** Runs SQL as root; the rows of a SELECT, else the result header in a one-element array. */
  query<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

/** Small and quick: a test server holds a few rows. */
const SERVER_OPTIONS = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=4M', '--skip-name-resolve'];

async function onPath(bin: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      await fs.access(path.join(dir, bin), fs.constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
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

interface Embedded {
  port: number;
  stop(): Promise<void>;
}

async function startEmbeddedMariadb(): Promise<Embedded> {
  const missing = [];
  for (const bin of ['mariadbd', 'mariadb-install-db']) if (!(await onPath(bin))) missing.push(bin);
  if (missing.length) {
    throw new Error(`an embedded MariaDB needs ${missing.join(' and ')} on PATH (Debian/Ubuntu: apt-get install mariadb-server; mariadbd is in /usr/sbin)`);
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitgate-mariadb-'));
  const datadir = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  let child: ChildProcess | undefined;
  const kill = () => child?.kill('SIGKILL');
  try {
    await run('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
      ...SERVER_OPTIONS,
    ]);
    const port = await freePort();
    const errorLog = path.join(dir, 'error.log');
    child = spawn(
      'mariadbd',
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
        ...SERVER_OPTIONS,
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
      port,
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

/** A database name in GRANT … ON db.*, where `_` is a wildcard unless escaped. */
const grantDb = (name: string) => qn(name.replace(/[\\_%]/g, '\\$&'));

export async function startMysqlUpstream(opts: MysqlUpstreamOptions = {}): Promise<MysqlUpstream> {
  const local = (opts.server ?? 'local') === 'local';
  const rand = randomBytes(4).toString('hex');
  const suffix = local ? `_${rand}` : '';
  const requested = opts.roles ?? ['app_read', 'app_write'];
  const roles = Object.fromEntries(requested.map((r) => [r, r + suffix]));
  const database = `app_${rand}`;
  const adminUser = `jitgate_admin_${rand}`;
  const adminPassword = randomBytes(18).toString('base64url');
  const host = '127.0.0.1';

  const embedded = local ? undefined : await startEmbeddedMariadb();
  const port = embedded?.port ?? 3306;
  const root = mysql.createPool({ host, port, user: 'root', password: '', connectionLimit: 2, dateStrings: true });
  const query = async <T>(sql: string, params?: unknown[]): Promise<T[]> => {
    const [rows] = await root.query(sql, params);
    return (Array.isArray(rows) ? rows : [rows]) as T[];
  };

  const cleanupLocal = async () => {
    const ours = Object.values(roles);
    // Ephemeral users and session roles holding this upstream's roles, and users of those session roles.
    const holders = await query<{ User: string; Host: string }>(
      `SELECT User, Host FROM mysql.roles_mapping WHERE Role IN (?) AND User LIKE 'jit!_%' ESCAPE '!'`,
      [ours],
    ).catch(() => []);
    const sessionRoles = holders.filter((h) => h.Host === '').map((h) => h.User);
    const users = new Set(holders.filter((h) => h.Host !== '').map((h) => h.User));
    if (sessionRoles.length) {
      for (const r of await query<{ User: string }>(`SELECT User FROM mysql.roles_mapping WHERE Role IN (?) AND Host <> ''`, [sessionRoles])) {
        users.add(r.User);
      }
    }
    for (const u of users) await query(`DROP USER IF EXISTS ${qn(u)}@'%'`).catch(() => undefined);
    for (const r of [...sessionRoles, ...ours]) await query(`DROP ROLE IF EXISTS ${qn(r)}`).catch(() => undefined);
    if (users.size) {
      await query(`DELETE FROM ${qn(DEFAULT_META_DATABASE)}.${qn(META_TABLE)} WHERE user_name IN (?)`, [[...users]]).catch(() => undefined);
    }
    await query(`DROP USER IF EXISTS ${qn(adminUser)}@'%'`).catch(() => undefined);
    await query(`DROP DATABASE IF EXISTS ${qn(database)}`).catch(() => undefined);
  };

  const stop = async () => {
    if (local) await cleanupLocal();
    await root.end().catch(() => undefined);
    await embedded?.stop();
  };

  try {
    await query(`CREATE DATABASE ${qn(database)}`);
    await query(
      `CREATE TABLE ${qn(database)}.customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200), ssn VARCHAR(20))`,
    );
    await query(`INSERT INTO ${qn(database)}.customers VALUES (1, 'Ada Lovelace', 'ada@example.com', '078-05-1120'), ` +
      `(2, 'Alan Turing', 'alan@example.org', '219-09-9999'), (3, 'Grace Hopper', 'grace@example.net', '457-55-5462')`);
    for (const [req, r] of Object.entries(roles)) {
      await query(`CREATE ROLE ${qn(r)}`);
      const privileges = req.includes('write') ? 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER' : 'SELECT';
      await query(`GRANT ${privileges} ON ${grantDb(database)}.* TO ${qn(r)}`);
    }
    for (const stmt of mysqlSetupSql({ adminUser, adminPassword, roles: Object.values(roles) })) await query(stmt);
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }

  return {
    host,
    port,
    database,
    adminUser,
    adminPassword,
    flavour: 'mariadb',
    roles,
    query,
    stop,
    target(profiles, extra = {}) {
      return {
        protocol: 'mysql',
        host,
        port,
        database,
        admin: { user: adminUser, password: adminPassword },
        roles: Object.fromEntries(Object.entries(profiles).map(([p, rs]) => [p, rs.map((r) => roles[r] ?? r)])),
        tls: { mode: 'disable' },
        adminPoolSize: 4,
        warmPool: { size: 0, maxAge: 300_000 },
        ...extra,
      };
    },
  };
}

/** Users (not roles) named `jit_…` on the server. */
export async function jitMysqlUsers(up: MysqlUpstream): Promise<string[]> {
  // is_role is computed in the mysql.user view: compared here, not in SQL (collations differ by connection).
  const rows = await up.query<{ User: string; is_role: string }>(`SELECT User, is_role FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!'`);
  return rows.filter((r) => r.is_role === 'N').map((r) => r.User);
}
