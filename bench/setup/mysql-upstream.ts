/**
 * The MySQL database under test: a throwaway MariaDB (`mariadbd` from the machine's
 * packages) with a database holding an `accounts` table keyed by id (pgbench's shape), a
 * profile role that may read it, a direct-login user `bench` holding that role as its
 * default, and the jitgate admin prepared with `mysqlSetupSql`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import mysql from 'mysql2/promise';
import { quoteMysqlName as qn } from '../../src/provision/mysql.js';
import { mysqlSetupSql } from '../../src/provision/mysql-setup.js';
import { findBinary, startEmbeddedMariadb } from '../../src/util/embedded-mariadb.js';
import { onCleanup } from '../cleanup.js';
import { ADMIN_USER, BENCH_USER, DATABASE, PROFILE_ROLE } from './upstream.js';

export { ADMIN_USER as MYSQL_ADMIN_USER, BENCH_USER as MYSQL_BENCH_USER, DATABASE as MYSQL_DATABASE, PROFILE_ROLE as MYSQL_PROFILE_ROLE };

/** The point-select table and its size (ids 1..ACCOUNT_ROWS). */
export const ACCOUNTS = 'accounts';
export const ACCOUNT_ROWS = 100_000;

/** Binaries the MySQL rows need: the server, and the command-line client that reads large results. */
const NEEDED = ['mariadbd', 'mariadb-install-db', 'mariadb'] as const;

/** Why the MySQL rows cannot run here, or null when they can. */
export async function mariadbMissing(): Promise<string | null> {
  const missing: string[] = [];
  for (const bin of NEEDED) if (!(await findBinary(bin))) missing.push(bin);
  if (!missing.length) return null;
  return `${missing.join(', ')} not found: install them: apt-get install mariadb-server mariadb-client`;
}

export interface MysqlUpstream {
  host: string;
  port: number;
  version: string;
  /** mariadbd's process id (one process: its CPU is the server's). */
  pid: number;
  /** Password of the direct-login user `bench`. */
  benchPassword: string;
  adminPassword: string;
  /** Runs SQL as root; the rows of a SELECT. */
  query<T = mysql.RowDataPacket>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Waits until no ephemeral jit_ user is left (and, with `allIdle`, no connection of one). */
  quiesce(opts?: { allIdle?: boolean; timeoutMs?: number }): Promise<boolean>;
}

export async function startMysqlUpstream(opts: { log: (s: string) => void }): Promise<MysqlUpstream> {
  opts.log('starting an embedded MariaDB…');
  const server = await startEmbeddedMariadb();
  onCleanup('embedded MariaDB', () => server.stop());
  const root = mysql.createPool({ host: server.host, port: server.port, user: server.user, password: '', connectionLimit: 2 });
  onCleanup('MariaDB root pool', () => root.end());
  const query = async <T>(sql: string, params?: unknown[]): Promise<T[]> => {
    const [rows] = await root.query(sql, params);
    return (Array.isArray(rows) ? rows : [rows]) as T[];
  };

  const benchPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const db = qn(DATABASE);
  opts.log(`MariaDB: ${ACCOUNT_ROWS.toLocaleString('en-US')} rows in ${DATABASE}.${ACCOUNTS}…`);
  await query(`SET GLOBAL max_connections = 1000`);
  await query(`CREATE DATABASE ${db}`);
  await query(`CREATE TABLE ${db}.${qn(ACCOUNTS)} (id INT PRIMARY KEY, balance INT NOT NULL, filler CHAR(84) NOT NULL) ENGINE=InnoDB`);
  // The SEQUENCE engine's seq_1_to_N tables (MariaDB) generate the rows server-side.
  await query(`INSERT INTO ${db}.${qn(ACCOUNTS)} SELECT seq, 0, '' FROM ${db}.seq_1_to_${ACCOUNT_ROWS}`);
  await query(`ANALYZE TABLE ${db}.${qn(ACCOUNTS)}`);
  await query(`CREATE ROLE ${qn(PROFILE_ROLE)}`);
  await query(`GRANT SELECT ON ${db}.* TO ${qn(PROFILE_ROLE)}`);
  await query(`CREATE USER ${qn(BENCH_USER)}@'%' IDENTIFIED BY ?`, [benchPassword]);
  await query(`GRANT ${qn(PROFILE_ROLE)} TO ${qn(BENCH_USER)}@'%'`);
  await query(`SET DEFAULT ROLE ${qn(PROFILE_ROLE)} FOR ${qn(BENCH_USER)}@'%'`);
  for (const stmt of mysqlSetupSql({ adminUser: ADMIN_USER, adminPassword, roles: [PROFILE_ROLE] })) await query(stmt);
  const [{ v, pidFile }] = await query<{ v: string; pidFile: string }>('SELECT VERSION() AS v, @@pid_file AS pidFile');
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());

  const quiesce = async ({ allIdle = false, timeoutMs = 30_000 } = {}) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      // is_role is computed in the mysql.user view: compared here, not in SQL.
      const users = (await query<{ is_role: string }>(`SELECT is_role FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!'`)).filter((r) => r.is_role === 'N').length;
      const [{ n }] = await query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE (USER LIKE 'jit!_%' ESCAPE '!' OR USER = ?) AND COMMAND <> 'Killed'`,
        [BENCH_USER],
      );
      if (users === 0 && (!allIdle || Number(n) === 0)) return true;
      if (Date.now() >= until) return false;
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  return { host: server.host, port: server.port, version: String(v).replace(/-log$/, ''), pid, benchPassword, adminPassword, query, quiesce };
}
