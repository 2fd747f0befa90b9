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
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { TargetConfig } from '../../src/config/schema.js';
import { DEFAULT_META_DATABASE, META_TABLE, quoteMysqlName as qn } from '../../src/provision/mysql.js';
import { mysqlSetupSql } from '../../src/provision/mysql-setup.js';
import { startEmbeddedMariadb } from '../../src/util/embedded-mariadb.js';

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

  const embedded = local ? undefined : await startEmbeddedMariadb({ small: true });
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
