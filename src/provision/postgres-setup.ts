/**
 * Preparing a PostgreSQL upstream for jitgate: the SQL a DBA runs once, and the checks
 * behind `jitgate check` (catalog look-ups plus a dry run in a transaction that is always
 * rolled back).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TargetConfig } from '../config/schema.js';
import type { CheckItem, CheckReport } from './check-report.js';
import { adminClientConfig } from './pg-admin.js';
import { MANAGED_ROLE } from './postgres.js';
import { quoteIdent as qi, quoteLiteral as ql, sqlState } from './sql.js';

export interface DbaSetupOptions {
  admin: string;
  /** When omitted the SQL leaves the password to be set with `\password`. */
  password?: string;
  /** Every upstream role a profile grants (and the owner role). */
  roles: string[];
  database: string;
}

/** SQL a superuser runs once so `admin` can create, grant and drop ephemeral users. */
export function dbaSetupSql(o: DbaSetupOptions): string {
  const admin = qi(o.admin);
  const lines = [
    `-- jitgate: prepare database ${o.database} (run once as a superuser)`,
    o.password === undefined
      ? `CREATE ROLE ${admin} LOGIN CREATEROLE;\n-- then set its password, e.g. in psql: \\password ${admin}`
      : `CREATE ROLE ${admin} LOGIN CREATEROLE PASSWORD ${ql(o.password)};`,
    `CREATE ROLE ${qi(MANAGED_ROLE)} NOLOGIN;`,
    `GRANT ${qi(MANAGED_ROLE)} TO ${admin} WITH ADMIN OPTION;`,
    ...[...new Set(o.roles)].map((r) => `GRANT ${qi(r)} TO ${admin} WITH ADMIN OPTION;`),
    `GRANT pg_signal_backend TO ${admin};`,
    `GRANT CONNECT ON DATABASE ${qi(o.database)} TO ${admin};`,
  ];
  return lines.join('\n') + '\n';
}

/** Upstream roles named by the target's profiles, in first-seen order. */
export function profileRoles(target: TargetConfig): string[] {
  return [...new Set(Object.values(target.roles).flat())];
}

/** Roles that receive an ephemeral user's objects. */
export function ownerRoles(target: TargetConfig): string[] {
  return target.owner ? [target.owner] : [...new Set(Object.values(target.roles).map((r) => r[0]!))];
}

interface AdminFacts {
  versionNum: number;
  version: string;
  superuser: boolean;
  createrole: boolean;
  inherit: boolean;
  canSignal: boolean;
}

interface RoleFacts {
  exists: boolean;
  superuser: boolean;
  /** Admin holds ADMIN OPTION (directly or through membership). */
  adminOption: boolean;
  /** Admin has the role's privileges (needed as REASSIGN OWNED's target). */
  usage: boolean;
}

interface DryRun {
  create: unknown;
  grants: Map<string, unknown>;
  finish: unknown;
}

function describe(err: unknown): string {
  const state = sqlState(err);
  return `${(err as Error)?.message ?? String(err)}${state ? ` (SQLSTATE ${state})` : ''}`;
}

async function roleFacts(client: pg.Client, role: string): Promise<RoleFacts> {
  const r = await client.query<{ rolsuper: boolean; admin_option: boolean; usage: boolean }>(
    `SELECT rolsuper,
            pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS admin_option,
            pg_has_role(current_user, oid, 'USAGE') AS usage
     FROM pg_roles WHERE rolname = $1`,
    [role],
  );
  const row = r.rows[0];
  if (!row) return { exists: false, superuser: false, adminOption: false, usage: false };
  return { exists: true, superuser: row.rolsuper, adminOption: row.admin_option, usage: row.usage };
}

/** Creates, grants, comments, disables and drops a throwaway user inside a transaction that is rolled back. */
async function dryRun(client: pg.Client, withManaged: boolean, roles: string[]): Promise<DryRun> {
  const result: DryRun = { create: null, grants: new Map(), finish: null };
  const user = `jit_check_${randomBytes(6).toString('hex')}`;
  await client.query('BEGIN');
  try {
    try {
      await client.query(
        `CREATE ROLE ${qi(user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ` +
          `CONNECTION LIMIT 2 VALID UNTIL ${ql(new Date(Date.now() + 60_000).toISOString())}` +
          (withManaged ? ` IN ROLE ${qi(MANAGED_ROLE)}` : ''),
      );
    } catch (err) {
      result.create = err;
      return result;
    }
    for (const role of roles) {
      await client.query('SAVEPOINT jit_check');
      try {
        await client.query(`GRANT ${qi(role)} TO ${qi(user)}`);
        await client.query('RELEASE SAVEPOINT jit_check');
        result.grants.set(role, null);
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT jit_check');
        result.grants.set(role, err);
      }
    }
    try {
      await client.query(`SELECT set_config('jitgate.role_name', $1, true)`, [user]);
      await client.query(
        `DO $jit$ BEGIN EXECUTE format('COMMENT ON ROLE %I IS %L', current_setting('jitgate.role_name'), '{"jitgate":1,"check":true}'); END $jit$`,
      );
      await client.query(`ALTER ROLE ${qi(user)} NOLOGIN`);
      await client.query(`GRANT ${qi(user)} TO CURRENT_USER`);
      await client.query(`DROP ROLE ${qi(user)}`);
    } catch (err) {
      result.finish = err;
    }
    return result;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Connects as the target's admin and reports what is missing, with the SQL to fix it. */
export async function checkPostgresTarget(name: string, target: TargetConfig): Promise<CheckReport> {
  const items: CheckItem[] = [];
  const report = (): CheckReport => ({ target: name, protocol: 'postgres', ready: items.every((i) => i.ok), items });
  const adminName = target.admin.user;
  const admin = qi(adminName);
  const where = `${target.host}:${target.port ?? 5432}/${target.database}`;
  const client = new pg.Client(adminClientConfig(target));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    const state = sqlState(err);
    items.push({
      ok: false,
      label: `admin ${adminName} can log in to ${where}`,
      note: describe(err),
      fix:
        state === '3D000'
          ? `CREATE DATABASE ${qi(target.database)};`
          : state === '28P01' || state === '28000'
            ? dbaSetupSql({ admin: adminName, roles: profileRoles(target), database: target.database }).trimEnd()
            : undefined,
    });
    return report();
  }
  try {
    const facts = (
      await client.query<{ ver: number; version: string; rolsuper: boolean; rolcreaterole: boolean; rolinherit: boolean; can_signal: boolean }>(
        `SELECT current_setting('server_version_num')::int AS ver, current_setting('server_version') AS version,
                r.rolsuper, r.rolcreaterole, r.rolinherit,
                pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS can_signal
         FROM pg_roles r WHERE r.rolname = current_user`,
      )
    ).rows[0]!;
    const a: AdminFacts = {
      versionNum: facts.ver,
      version: facts.version,
      superuser: facts.rolsuper,
      createrole: facts.rolcreaterole,
      inherit: facts.rolinherit,
      canSignal: facts.rolsuper || facts.can_signal,
    };
    const pg16 = a.versionNum >= 160000;
    items.push({ ok: true, label: `admin ${adminName} can log in to ${where}`, note: `PostgreSQL ${a.version}` });

    if (a.superuser) {
      items.push({ ok: true, warn: true, label: 'admin may create roles', note: 'admin is a superuser: works, but a dedicated CREATEROLE admin is recommended' });
    } else {
      items.push({ ok: a.createrole, label: 'admin has CREATEROLE', fix: a.createrole ? undefined : `ALTER ROLE ${admin} CREATEROLE;` });
    }
    if (!a.superuser) {
      items.push({ ok: a.inherit, label: 'admin inherits the privileges of roles granted to it', fix: a.inherit ? undefined : `ALTER ROLE ${admin} INHERIT;` });
    }
    items.push({
      ok: a.canSignal,
      label: 'admin can terminate backends (pg_signal_backend)',
      fix: a.canSignal ? undefined : `GRANT pg_signal_backend TO ${admin};`,
    });

    const managed = await roleFacts(client, MANAGED_ROLE);
    const roles = profileRoles(target);
    const facts2 = new Map<string, RoleFacts>();
    for (const r of new Set([...roles, ...ownerRoles(target)])) facts2.set(r, await roleFacts(client, r));
    const canDry = a.superuser || a.createrole;
    const dry = canDry ? await dryRun(client, managed.exists, roles.filter((r) => facts2.get(r)!.exists)) : null;

    // Without a dry run: PG16+ needs ADMIN OPTION, older servers let CREATEROLE grant any non-superuser role.
    const grantable = (f: RoleFacts) => a.superuser || f.adminOption || (!pg16 && a.createrole && !f.superuser);
    const grantFix = (r: string) => `GRANT ${qi(r)} TO ${admin} WITH ADMIN OPTION;`;
    const createFix = (r: string) => `CREATE ROLE ${qi(r)} NOLOGIN;\n${grantFix(r)}`;

    const managedOk = managed.exists && (dry ? dry.create === null : grantable(managed));
    items.push({
      ok: managedOk,
      label: `role ${MANAGED_ROLE} exists and admin can grant it`,
      note: managed.exists && dry?.create ? describe(dry.create) : undefined,
      fix: managedOk ? undefined : managed.exists ? grantFix(MANAGED_ROLE) : createFix(MANAGED_ROLE),
    });
    for (const r of roles) {
      const f = facts2.get(r)!;
      const dryErr = dry && dry.create === null ? dry.grants.get(r) : undefined;
      const ok = f.exists && (dry && dry.create === null ? dryErr === null : grantable(f));
      items.push({
        ok,
        label: `profile role ${r} exists and admin can grant it`,
        note: dryErr ? describe(dryErr) : undefined,
        fix: ok ? undefined : f.exists ? grantFix(r) : createFix(r),
      });
    }
    for (const r of ownerRoles(target)) {
      const f = facts2.get(r)!;
      let problem: string | undefined;
      let fix: string | undefined;
      if (!f.exists) [problem, fix] = ['does not exist', createFix(r)];
      else if (r === adminName || f.superuser) [problem, fix] = ['must be neither the admin nor a superuser', undefined];
      else if (!a.superuser && !f.usage) {
        const inheritFix = pg16 ? `GRANT ${qi(r)} TO ${admin} WITH INHERIT TRUE;` : `GRANT ${qi(r)} TO ${admin};`;
        [problem, fix] = ['admin lacks its privileges (needed for REASSIGN OWNED)', f.adminOption ? inheritFix : grantFix(r)];
      }
      items.push({ ok: !problem, label: `owner role ${r} can receive objects of ephemeral users`, note: problem, fix });
    }
    if (dry) {
      const err = dry.create ?? dry.finish;
      items.push({
        ok: err === null,
        label: 'admin can create, comment on, disable and drop an ephemeral user (dry run, rolled back)',
        note: err === null ? undefined : describe(err),
      });
    }
  } catch (err) {
    items.push({ ok: false, label: 'catalog checks completed', note: describe(err) });
  } finally {
    await client.end().catch(() => undefined);
  }
  return report();
}
