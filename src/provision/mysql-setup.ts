/**
 * Preparing a MariaDB/MySQL upstream for jitgate: the statements a DBA runs once, and the
 * checks behind `jitgate check` (a dry run with a throwaway `jit_check_…` user, always dropped).
 *
 * What the admin login needs, and why (MariaDB ≥ 10.5.2; MySQL 8 in brackets, untested):
 * - CREATE USER on *.*: CREATE/DROP USER, CREATE/DROP ROLE (and MySQL's SET DEFAULT ROLE … TO).
 * - each profile role WITH ADMIN OPTION: to grant it.
 * - CONNECTION ADMIN [CONNECTION_ADMIN + PROCESS]: KILL the connections of another user.
 *   MariaDB's `KILL CONNECTION USER` needs no PROCESS; MySQL finds the ids in the processlist.
 * - SELECT (User, Host, is_role) on mysql.user [(User, Host)]: the reaper lists `jit_` accounts;
 *   column grants keep every password hash out of reach.
 * - CREATE, SELECT, INSERT, DELETE on the metadata database.
 * Not needed (and deliberately avoided): SUPER, PROCESS on MariaDB, UPDATE on `mysql` (what
 * `SET DEFAULT ROLE … FOR` another user requires; each user sets its own instead).
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { nativePasswordHash } from '../../protocols/mysql/auth.js';
import type { TargetConfig } from '../config/schema.js';
import type { CheckItem, CheckReport } from './check-report.js';
import {
  DEFAULT_META_DATABASE,
  META_TABLE,
  type MysqlFlavour,
  flavourOf,
  metaTableSql,
  mysqlConnectOptions,
  mysqlErrno,
  quoteMysqlName as qn,
} from './mysql.js';
import { ephemeralPassword } from './names.js';

export interface MysqlSetupOptions {
  adminUser: string;
  /** Host part of the admin account. Default: %. */
  adminHost?: string;
  /** When given, the admin account is created with it (as its native hash on MariaDB). */
  adminPassword?: string;
  /** Every upstream role a profile grants. */
  roles: string[];
  /** Default: jitgate. */
  metaDatabase?: string;
  /** Default: mariadb. */
  flavour?: MysqlFlavour;
}

/** A database name in GRANT … ON db.*, where `_` and `%` are wildcards unless escaped. */
function grantDatabase(name: string): string {
  return qn(name.replace(/[\\_%]/g, '\\$&'));
}

/** A string literal for the DBA's session (default sql_mode: backslash escapes on). */
function stringLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL character');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The statements (without trailing semicolons) that give `adminUser` exactly what jitgate needs. */
export function mysqlSetupSql(o: MysqlSetupOptions): string[] {
  const flavour = o.flavour ?? 'mariadb';
  const admin = `${qn(o.adminUser)}@${qn(o.adminHost ?? '%')}`;
  const meta = o.metaDatabase ?? DEFAULT_META_DATABASE;
  const out: string[] = [];
  if (o.adminPassword !== undefined) {
    out.push(
      flavour === 'mariadb'
        ? `CREATE USER IF NOT EXISTS ${admin} IDENTIFIED BY PASSWORD '${nativePasswordHash(o.adminPassword)}'`
        : `CREATE USER IF NOT EXISTS ${admin} IDENTIFIED WITH caching_sha2_password BY ${stringLiteral(o.adminPassword)}`,
    );
  }
  out.push(`GRANT CREATE USER ON *.* TO ${admin}`);
  if (flavour === 'mariadb') {
    out.push(`GRANT CONNECTION ADMIN ON *.* TO ${admin}`, `GRANT SELECT (User, Host, is_role) ON mysql.user TO ${admin}`);
  } else {
    out.push(`GRANT CONNECTION_ADMIN, PROCESS ON *.* TO ${admin}`, `GRANT SELECT (User, Host) ON mysql.user TO ${admin}`);
  }
  out.push(`GRANT CREATE, SELECT, INSERT, DELETE ON ${grantDatabase(meta)}.* TO ${admin}`);
  for (const r of new Set(o.roles)) out.push(`GRANT ${qn(r)} TO ${admin} WITH ADMIN OPTION`);
  return out;
}

function describe(err: unknown): string {
  const errno = mysqlErrno(err);
  return `${(err as Error)?.message ?? String(err)}${errno ? ` (error ${errno})` : ''}`;
}

const ER_ACCESS_DENIED = 1045;
const ER_INVALID_ROLE = 1959;
const ER_UNKNOWN_AUTHID = 3523;

async function ended(conn: mysql.Connection): Promise<boolean> {
  return conn.query('SELECT 1').then(
    () => false,
    () => true,
  );
}

/** Connects as the target's admin, dry-runs what jitgate does and reports what is missing with the SQL to fix it. */
export async function checkMysqlTarget(name: string, target: TargetConfig, opts: { metaDatabase?: string } = {}): Promise<CheckReport> {
  const items: CheckItem[] = [];
  const report = (): CheckReport => ({ target: name, protocol: 'mysql', ready: items.every((i) => i.ok), items });
  const meta = opts.metaDatabase ?? DEFAULT_META_DATABASE;
  const adminName = target.admin.user;
  const where = `${target.host}:${target.port ?? 3306}`;
  const roles = [...new Set(Object.values(target.roles).flat())];
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ ...mysqlConnectOptions(target), user: adminName, password: target.admin.password });
  } catch (err) {
    items.push({
      ok: false,
      label: `admin ${adminName} can log in to ${where}`,
      note: describe(err),
      fix: mysqlErrno(err) === ER_ACCESS_DENIED ? mysqlSetupSql({ adminUser: adminName, roles, metaDatabase: meta }).map((s) => s + ';').join('\n') : undefined,
    });
    return report();
  }
  conn.on('error', () => undefined);
  const user = `jit_check_${randomBytes(6).toString('hex')}`;
  const sessionRole = `${user}_r`;
  try {
    const [[facts]] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v, CURRENT_USER() AS u');
    const version = String(facts!.v);
    const flavour = flavourOf(version);
    const currentUser = String(facts!.u);
    const adminHost = currentUser.slice(currentUser.lastIndexOf('@') + 1);
    const admin = `${qn(adminName)}@${qn(adminHost)}`;
    const setup = mysqlSetupSql({ adminUser: adminName, adminHost, roles, metaDatabase: meta, flavour });
    const fixOf = (prefix: string) => setup.filter((s) => s.startsWith(prefix)).map((s) => s + ';').join('\n');
    items.push({ ok: true, label: `admin ${adminName} can log in to ${where}`, note: `${flavour === 'mariadb' ? '' : 'MySQL '}${version}` });

    const metaRow = async () => {
      for (const sql of metaTableSql(meta)) await conn.query(sql);
      const table = `${qn(meta)}.${qn(META_TABLE)}`;
      await conn.execute(
        `INSERT INTO ${table} (user_name, role_name, instance, target, profile, sub, session_id, created_at, expires_at) ` +
          `VALUES (?, NULL, 'jitgate check', ?, '', '', '', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))`,
        [user, name],
      );
      await conn.execute(`DELETE FROM ${table} WHERE user_name = ?`, [user]);
    };
    const metaErr = await metaRow().then(() => null, (e: unknown) => e);
    items.push({
      ok: metaErr === null,
      label: `admin can keep user metadata in database ${meta} (CREATE, SELECT, INSERT, DELETE)`,
      note: metaErr ? describe(metaErr) : undefined,
      fix: metaErr ? fixOf('GRANT CREATE, SELECT, INSERT, DELETE') : undefined,
    });

    const listSql =
      flavour === 'mariadb'
        ? `SELECT User, Host, is_role FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!' LIMIT 0`
        : `SELECT User, Host FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!' LIMIT 0`;
    const listErr = await conn.query(listSql).then(() => null, (e: unknown) => e);
    items.push({
      ok: listErr === null,
      label: 'admin can list ephemeral users (SELECT on columns of mysql.user)',
      note: listErr ? describe(listErr) : undefined,
      fix: listErr ? fixOf('GRANT SELECT (User') : undefined,
    });

    const password = ephemeralPassword();
    const identified =
      flavour === 'mariadb'
        ? `IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`
        : `IDENTIFIED WITH caching_sha2_password BY '${password}'`;
    const account = `${qn(user)}@'%'`;
    const createErr = await (async () => {
      await conn.query(`CREATE USER ${account} ${identified} WITH MAX_USER_CONNECTIONS 2`);
      if (flavour === 'mariadb' && Object.values(target.roles).some((r) => r.length > 1)) {
        await conn.query(`CREATE ROLE ${qn(sessionRole)}`);
        await conn.query(`GRANT ${qn(sessionRole)} TO ${account}`);
        await conn.query(`DROP ROLE ${qn(sessionRole)}`);
      }
    })().then(() => null, (e: unknown) => e);
    items.push({
      ok: createErr === null,
      label: 'admin can create and drop users and roles (CREATE USER)',
      note: createErr ? describe(createErr) : undefined,
      fix: createErr ? fixOf('GRANT CREATE USER') : undefined,
    });
    if (createErr !== null) return report();

    const granted: string[] = [];
    for (const r of roles) {
      const err = await conn.query(`GRANT ${qn(r)} TO ${account}`).then(() => null, (e: unknown) => e);
      const missing = mysqlErrno(err) === ER_INVALID_ROLE || mysqlErrno(err) === ER_UNKNOWN_AUTHID;
      const grantFix = `GRANT ${qn(r)} TO ${admin} WITH ADMIN OPTION;`;
      items.push({
        ok: err === null,
        label: `profile role ${r} exists and admin can grant it`,
        note: err ? describe(err) : undefined,
        fix: err === null ? undefined : missing ? `CREATE ROLE ${qn(r)};\n${grantFix}` : grantFix,
      });
      if (err === null) granted.push(r);
    }

    // The ephemeral user's own login: it activates a role (MariaDB), then the admin kills it.
    let session: mysql.Connection | undefined;
    const loginErr = await (async () => {
      session = await mysql.createConnection({ ...mysqlConnectOptions(target), user, password });
      session.on('error', () => undefined);
      if (flavour === 'mariadb' && granted[0]) await session.query(`SET DEFAULT ROLE ${qn(granted[0])}`);
    })().then(() => null, (e: unknown) => e);
    items.push({
      ok: loginErr === null,
      label: 'an ephemeral user can log in and activate its role',
      note: loginErr ? describe(loginErr) : undefined,
    });
    if (session) {
      const killErr = await (async () => {
        if (flavour === 'mariadb') {
          await conn.query(`KILL CONNECTION USER ${qn(user)}`);
        } else {
          const [rows] = await conn.execute<mysql.RowDataPacket[]>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
          for (const row of rows) await conn.query(`KILL CONNECTION ${Number(row.id)}`);
        }
      })().then(() => null, (e: unknown) => e);
      const gone = killErr === null && (await ended(session));
      session.destroy();
      items.push({
        ok: gone,
        label: `admin can end another user's connections (${flavour === 'mariadb' ? 'CONNECTION ADMIN' : 'CONNECTION_ADMIN, PROCESS'})`,
        note: killErr ? describe(killErr) : gone ? undefined : 'the connection survived KILL',
        fix: gone ? undefined : fixOf(flavour === 'mariadb' ? 'GRANT CONNECTION ADMIN' : 'GRANT CONNECTION_ADMIN'),
      });
    }
  } catch (err) {
    items.push({ ok: false, label: 'checks completed', note: describe(err) });
  } finally {
    await conn.query(`DROP USER IF EXISTS ${qn(user)}@'%'`).catch(() => undefined);
    await conn.query(`DROP ROLE IF EXISTS ${qn(sessionRole)}`).catch(() => undefined);
    await conn.end().catch(() => undefined);
  }
  return report();
}
