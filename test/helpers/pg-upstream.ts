/**
 * A PostgreSQL upstream prepared for jitgate, for tests: an app database, NOLOGIN profile
 * roles, and a non-superuser admin login set up with `dbaSetupSql`.
 *
 * `server: 'embedded'` (default) starts a throwaway PostgreSQL 18 with SCRAM auth.
 * `server: 'local'` uses the machine's PostgreSQL at 127.0.0.1:5432 (user postgres, trust);
 * as roles are cluster-wide there, every name but jit_managed gets a random suffix — read
 * the actual names from `roles`, `adminUser` and `database`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TargetConfig } from '../../src/config/schema.js';
import { dbaSetupSql } from '../../src/provision/postgres-setup.js';
import { MANAGED_ROLE } from '../../src/provision/postgres.js';
import { quoteIdent as qi, quoteLiteral as ql, sqlState } from '../../src/provision/sql.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/util/embedded-postgres.js';

export interface PgUpstreamOptions {
  server?: 'embedded' | 'local';
  /** Profile roles to create (NOLOGIN). Default: app_read, app_write. */
  roles?: string[];
  /** Roles that get CREATE on schema public. Default: the roles whose name contains "write". */
  createRoles?: string[];
  /** Default: app. */
  database?: string;
  /** Default: jitgate_admin. */
  adminUser?: string;
  /** Extra server settings for the embedded server (e.g. ssl). */
  settings?: Record<string, string>;
  /** false: create the database and roles but leave the admin/jit_managed set-up to the test. */
  prepare?: boolean;
}

export interface PgUpstream {
  host: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  database: string;
  /** Superuser URL to the app database. */
  superUrl: string;
  /** Requested role name -> actual name (identical on an embedded server). */
  roles: Record<string, string>;
  serverVersion: number;
  /** URL for any user to the app database (or `database`). */
  url(user: string, password: string, database?: string): string;
  /** A target config for this upstream; `profiles` maps profile -> requested role names. */
  target(profiles: Record<string, string[]>, extra?: Partial<TargetConfig>): TargetConfig;
  /** Runs SQL as the superuser in the app database (or `database`). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<R>>;
  stop(): Promise<void>;
}

export async function startPgUpstream(opts: PgUpstreamOptions = {}): Promise<PgUpstream> {
  const local = opts.server === 'local';
  const suffix = local ? `_${randomBytes(4).toString('hex')}` : '';
  const requested = opts.roles ?? ['app_read', 'app_write'];
  const roles = Object.fromEntries(requested.map((r) => [r, r + suffix]));
  const createRoles = (opts.createRoles ?? requested.filter((r) => r.includes('write'))).map((r) => roles[r] ?? r);
  const database = (opts.database ?? 'app') + suffix;
  const adminUser = (opts.adminUser ?? 'jitgate_admin') + suffix;
  const adminPassword = randomBytes(18).toString('base64url');

  let embedded: EmbeddedPostgres | undefined;
  let host = '127.0.0.1';
  let port = 5432;
  let superUser = 'postgres';
  let superPassword = '';
  if (!local) {
    embedded = await startEmbeddedPostgres({ settings: opts.settings });
    ({ host, port, user: superUser, password: superPassword } = embedded);
  }
  const url = (user: string, password: string, db = database) =>
    `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`;
  const superUrl = url(superUser, superPassword);

  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[], db = database) => {
    const c = new pg.Client({ connectionString: url(superUser, superPassword, db) });
    await c.connect();
    try {
      return await c.query<R>(sql, params);
    } finally {
      await c.end();
    }
  };

  let createdManaged = false;
  const cleanupLocal = async () => {
    await query(`DROP DATABASE IF EXISTS ${qi(database)} WITH (FORCE)`, [], 'postgres').catch(() => undefined);
    // Ephemeral users a test left behind: members of this upstream's roles.
    const left = await query<{ rolname: string }>(
      `SELECT DISTINCT u.rolname FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member JOIN pg_roles g ON g.oid = m.roleid
       WHERE u.rolname LIKE 'jit\\_%' AND g.rolname = ANY($1)`,
      [Object.values(roles)],
      'postgres',
    ).catch(() => ({ rows: [] as { rolname: string }[] }));
    for (const name of [...left.rows.map((r) => r.rolname), adminUser, ...Object.values(roles)]) {
      await query(`DROP ROLE IF EXISTS ${qi(name)}`, [], 'postgres').catch(() => undefined);
    }
    if (createdManaged) {
      await query(
        `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = '${MANAGED_ROLE}')
         THEN DROP ROLE IF EXISTS ${qi(MANAGED_ROLE)}; END IF; END $$`,
        [],
        'postgres',
      ).catch(() => undefined);
    }
  };

  const stop = async () => {
    if (embedded) await embedded.stop();
    else await cleanupLocal();
  };

  try {
    await query(`CREATE DATABASE ${qi(database)}`, [], 'postgres');
    for (const r of Object.values(roles)) await query(`CREATE ROLE ${qi(r)} NOLOGIN`);
    for (const r of Object.values(roles)) await query(`GRANT USAGE ON SCHEMA public TO ${qi(r)}`);
    for (const r of createRoles) await query(`GRANT CREATE ON SCHEMA public TO ${qi(r)}`);
    if (opts.prepare !== false) {
      const managedExists = (await query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [MANAGED_ROLE])).rowCount! > 0;
      const sql = dbaSetupSql({ admin: adminUser, password: adminPassword, roles: Object.values(roles), database });
      for (const stmt of sql.split('\n').filter((l) => l && !l.startsWith('--'))) {
        if (stmt.startsWith(`CREATE ROLE ${qi(MANAGED_ROLE)}`)) {
          if (managedExists) continue;
          // Another run on a shared server may create it at the same moment.
          const created = await query(stmt).then(() => true, (e) => (sqlState(e) === '42710' ? false : Promise.reject(e)));
          createdManaged ||= created;
          continue;
        }
        await query(stmt);
      }
    } else {
      await query(`CREATE ROLE ${qi(adminUser)} LOGIN PASSWORD ${ql(adminPassword)}`);
    }
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  const serverVersion = Number((await query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);

  return {
    host,
    port,
    adminUser,
    adminPassword,
    database,
    superUrl,
    roles,
    serverVersion,
    url,
    query,
    stop,
    target(profiles, extra = {}) {
      return {
        protocol: 'postgres',
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
