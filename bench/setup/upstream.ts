/**
 * The database under test: an embedded PostgreSQL 18 with SCRAM auth, pgbench tables,
 * a profile role that may read them, a direct-login user holding that role, and the
 * jitgate admin prepared with `dbaSetupSql`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import { dbaSetupSql } from '../../src/provision/postgres-setup.js';
import { MANAGED_ROLE } from '../../src/provision/postgres.js';
import { quoteIdent as qi, quoteLiteral as ql } from '../../src/provision/sql.js';
import { startEmbeddedPostgres } from '../../src/util/embedded-postgres.js';
import { onCleanup } from '../cleanup.js';

const execFileP = promisify(execFile);

export const DATABASE = 'app';
export const BENCH_USER = 'bench';
export const PROFILE_ROLE = 'bench_read';
export const ADMIN_USER = 'jitgate_admin';

export interface Upstream {
  host: string;
  port: number;
  superPassword: string;
  /** Password of the direct-login user `bench`. */
  benchPassword: string;
  /** SCRAM verifier of `bench` (for PgBouncer's auth_file). */
  benchVerifier: string;
  adminPassword: string;
  /** Runs SQL as the superuser. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
  /** Waits until no ephemeral jit_ user is left (and, with `allIdle`, no client backend in the app database). */
  quiesce(opts?: { allIdle?: boolean; timeoutMs?: number }): Promise<boolean>;
}

export async function startUpstream(opts: { scale: number; maxConnections: number; log: (s: string) => void }): Promise<Upstream> {
  opts.log('starting an embedded PostgreSQL 18 (SCRAM)…');
  const pgServer = await startEmbeddedPostgres({ settings: { max_connections: String(opts.maxConnections) } });
  onCleanup('embedded PostgreSQL', () => pgServer.stop());
  const { host, port, password: superPassword } = pgServer;

  const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[], database = DATABASE): Promise<R[]> => {
    const c = new pg.Client({ connectionString: pgServer.url(database) });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query<R>(sql, params)).rows;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  await query(`CREATE DATABASE ${qi(DATABASE)}`, [], 'postgres');
  opts.log(`pgbench -i -s ${opts.scale}…`);
  await execFileP('pgbench', ['-i', '-q', '-s', String(opts.scale), '-h', host, '-p', String(port), '-U', 'postgres', DATABASE], {
    env: { ...process.env, PGPASSWORD: superPassword, PGSSLMODE: 'disable' },
    timeout: 600_000,
  });
  const benchPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  await query(
    [
      `CREATE ROLE ${qi(PROFILE_ROLE)} NOLOGIN`,
      `GRANT USAGE ON SCHEMA public TO ${qi(PROFILE_ROLE)}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${qi(PROFILE_ROLE)}`,
      `CREATE ROLE ${qi(BENCH_USER)} LOGIN PASSWORD ${ql(benchPassword)} IN ROLE ${qi(PROFILE_ROLE)}`,
      dbaSetupSql({ admin: ADMIN_USER, password: adminPassword, roles: [PROFILE_ROLE], database: DATABASE }),
    ].join(';\n'),
  );
  await query('VACUUM ANALYZE');
  const [{ rolpassword }] = await query<{ rolpassword: string }>(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [BENCH_USER]);
  if (!rolpassword?.startsWith('SCRAM-SHA-256$')) throw new Error('the bench user did not get a SCRAM verifier');

  const quiesce = async ({ allIdle = false, timeoutMs = 30_000 } = {}) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [r] = await query<{ users: number; backends: number }>(
        // Warm-pool users (jit_00000000_…) and their connections stay by design.
        `SELECT (SELECT count(*) FROM pg_roles WHERE rolname LIKE 'jit\\_%' AND rolname <> $1
                   AND rolname NOT LIKE 'jit\\_00000000\\_%')::int AS users,
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = $2
                   AND usename <> $3 AND usename NOT LIKE 'jit\\_00000000\\_%')::int AS backends`,
        [MANAGED_ROLE, DATABASE, ADMIN_USER],
        'postgres',
      );
      if (r!.users === 0 && (!allIdle || r!.backends === 0)) return true;
      if (Date.now() >= until) return false;
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  return { host, port, superPassword, benchPassword, benchVerifier: rolpassword, adminPassword, query, quiesce };
}
