/**
 * Ephemeral upstream users on PostgreSQL: one login role per session, created in a single
 * transaction, torn down (objects handed to the profile's owner role) when the session ends,
 * and reaped when a crash left one behind.
 */
import pg from 'pg';
import { retryTransient } from './retry.js';
import { ReaperSchedule } from './reaper.js';
import type { TargetConfig } from '../config/schema.js';
import type { Grant, Lease, Provisioner, ScramKeys, TeardownResult } from '../engine/types.js';
import { JitError } from '../errors.js';
import { ephemeralPassword, ephemeralUserName } from './names.js';
import { adminClientConfig, adminPoolConfig } from './pg-admin.js';
import { deriveScramKeys, scramVerifier } from './scram.js';
import { isTransient, quoteIdent as qi, quoteLiteral as ql, sqlState } from './sql.js';

/** NOLOGIN marker role every ephemeral user is a member of; the reaper only considers its members. */
export const MANAGED_ROLE = 'jit_managed';

export interface ProvisionLogger {
  debug?(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PostgresProvisionerOptions {
  targetName: string;
  target: TargetConfig;
  /** Stable name of this proxy instance, written into each user's comment for the reaper. */
  instance: string;
  maxSessionMs: number;
  /** Key for the HMAC tag in user names. */
  nameKey: Buffer;
  log: ProvisionLogger;
}

/** Metadata stored as the role's COMMENT. */
export interface RoleComment {
  jitgate: 1;
  sub: string;
  session: string;
  instance: string;
  target: string;
  profile: string;
  expires: string;
}

/** A user made ahead of demand for a warm pool: no roles, NOLOGIN once its connection is up. */
export interface BlankUser {
  user: string;
  password: string;
  scram: ScramKeys;
  createdAt: number;
}

/** How long a warm-pool user can log in after creation: jitgate's own connection only. */
export const BLANK_LOGIN_WINDOW_MS = 30_000;

/** Ephemeral passwords are 32 random bytes: key stretching adds nothing, so PBKDF2 stays cheap. */
const SCRAM_ITERATIONS = 256;

/** A teardown step refused on purpose (never retried). */
class TeardownRefused extends Error {}

const TERMINATE_WAIT_MS = 3_000;
const TEARDOWN_BUDGET_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const SHDEPEND_DATABASES = `
  SELECT DISTINCT coalesce(d.datname, current_database()) AS datname
  FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
  WHERE s.refclassid = 'pg_authid'::regclass
    AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`;

const MANAGED_CANDIDATES = `
  SELECT r.rolname,
         coalesce(r.rolvaliduntil < now(), false) AS expired,
         shobj_description(r.oid, 'pg_authid') AS comment,
         ARRAY(SELECT g.rolname FROM pg_auth_members m2 JOIN pg_roles g ON g.oid = m2.roleid
               WHERE m2.member = r.oid AND g.rolname <> '${MANAGED_ROLE}' ORDER BY g.rolname)::text[] AS granted
  FROM pg_roles r
  WHERE r.rolname LIKE 'jit\\_%'
    AND r.oid IN (SELECT m.member FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE g.rolname = '${MANAGED_ROLE}')`;

function parseComment(text: unknown): Partial<RoleComment> | null {
  if (typeof text !== 'string') return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && (v as RoleComment).jitgate === 1 ? (v as Partial<RoleComment>) : null;
  } catch {
    return null;
  }
}

type Step = { kind: 'connect' } | { kind: 'create' } | { kind: 'grant'; role: string } | { kind: 'comment' } | { kind: 'commit' };

function provisioningError(step: Step, err: unknown, admin: string): JitError {
  const state = sqlState(err);
  let msg: string;
  if (state === '28P01' || state === '28000') msg = `jitgate admin ${admin} cannot log in upstream`;
  else if (step.kind === 'connect') msg = 'cannot connect to the upstream as the jitgate admin';
  else if (step.kind === 'create' && state === '42501') msg = `jitgate admin lacks CREATEROLE or ADMIN OPTION on role ${MANAGED_ROLE}`;
  else if (step.kind === 'create' && state === '42704') msg = `role ${MANAGED_ROLE} does not exist upstream`;
  else if (step.kind === 'grant' && state === '42501') msg = `jitgate admin lacks ADMIN OPTION on role ${step.role}`;
  else if (step.kind === 'grant' && state === '42704') msg = `upstream role ${step.role} does not exist`;
  else if (step.kind === 'comment' && state === '42501') msg = 'jitgate admin may not comment on the ephemeral user';
  else msg = `could not create the ephemeral user (${step.kind}${step.kind === 'grant' ? ` ${step.role}` : ''} failed)`;
  const code = state ?? (err as { code?: unknown })?.code;
  return new JitError('provisioning_failed', msg, { detail: typeof code === 'string' ? code : undefined, cause: err });
}

export class PostgresProvisioner implements Provisioner {
  readonly #opts: PostgresProvisionerOptions;
  readonly #pool: pg.Pool;
  /** Users this process created and has not finished tearing down: never reaped from under it. */
  readonly #held = new Set<string>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #reaper = new ReaperSchedule();
  #closed = false;

  constructor(opts: PostgresProvisionerOptions) {
    this.#opts = opts;
    this.#pool = new pg.Pool(adminPoolConfig(opts.target));
    this.#pool.on('error', (err) => {
      opts.log.warn({ event: 'admin.connection_failed', target: opts.targetName, code: sqlState(err) ?? (err as { code?: string }).code }, 'idle admin connection failed');
    });
    // pg-pool listens for errors only on idle clients: a checked-out client whose connection
    // drops between two queries would emit an unhandled 'error' and crash the process. The
    // failure reaches the caller through its next query.
    this.#pool.on('connect', (client) => {
      client.on('error', (err) => {
        opts.log.warn({ event: 'admin.connection_failed', target: opts.targetName, code: sqlState(err) ?? (err as { code?: string }).code }, 'admin connection failed while in use');
      });
    });
  }

  get instance(): string {
    return this.#opts.instance;
  }

  async provision(grant: Grant, sessionId: string): Promise<Lease> {
    if (this.#closed) throw new JitError('provisioning_failed', 'jitgate is shutting down');
    const { user, roles, expiresAt, comment, owner } = this.#planUser(grant, sessionId);
    const password = ephemeralPassword();
    const scram = await deriveScramKeys(password, { iterations: SCRAM_ITERATIONS });
    this.#held.add(user);
    try {
      await this.#createRole(user, scram, expiresAt, roles, comment, owner);
    } catch (err) {
      this.#held.delete(user);
      throw err;
    }
    return this.#lease(user, password, scram, expiresAt, owner);
  }

  async #createRole(user: string, keys: ScramKeys, expiresAt: Date, roles: string[], comment: RoleComment, owner: string): Promise<void> {
    const admin = this.#opts.target.admin.user;
    let step: Step = { kind: 'connect' };
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw provisioningError(step, err, admin);
    }
    try {
      await client.query('BEGIN');
      step = { kind: 'create' };
      await client.query(
        `CREATE ROLE ${qi(user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ` +
          `CONNECTION LIMIT 2 VALID UNTIL ${ql(expiresAt.toISOString())} IN ROLE ${qi(MANAGED_ROLE)} ` +
          // The verifier is computed here: the plaintext password never reaches the server.
          `PASSWORD ${ql(scramVerifier(keys))}`,
      );
      for (const role of roles) {
        step = { kind: 'grant', role };
        await client.query(`GRANT ${qi(role)} TO ${qi(user)}`);
      }
      step = { kind: 'comment' };
      // The comment carries token claims: it travels as a bind parameter, never as SQL text.
      await client.query(
        `SELECT set_config('jitgate.role_name', $1, true), set_config('jitgate.role_comment', $2, true)`,
        [user, JSON.stringify(comment)],
      );
      await client.query(
        `DO $jit$ BEGIN EXECUTE format('COMMENT ON ROLE %I IS %L', current_setting('jitgate.role_name'), current_setting('jitgate.role_comment')); END $jit$`,
      );
      step = { kind: 'commit' };
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      let broken: Error | undefined;
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      client.release(broken);
      if (step.kind === 'commit') {
        // The commit's outcome is unknown: make sure no user is left behind.
        void this.#track(this.#teardown(user, owner, 'provisioning failed'));
      }
      const jerr = provisioningError(step, err, admin);
      this.#opts.log.warn({ event: 'provision.failed', target: this.#opts.targetName, step: step.kind, sqlstate: jerr.detail }, jerr.clientMessage);
      throw jerr;
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Drops the user, retrying transient failures for about 10 s. Never throws. */
  async #teardown(user: string, owner: string | undefined, reason: string): Promise<TeardownResult> {
    const { log, targetName } = this.#opts;
    const r = await retryTransient(() => this.#dropOnce(user, owner), {
      budgetMs: TEARDOWN_BUDGET_MS,
      firstDelayMs: 100,
      maxDelayMs: 2_000,
      transient: (err) => isTransient(err) && !this.#poolEnded(),
    });
    const { attempts } = r;
    if (r.ok) {
      const reassignedTo = r.value;
      log.debug?.({ event: 'teardown.done', user, target: targetName, reason, attempts, reassignedTo }, 'ephemeral user dropped');
      return reassignedTo ? { user, ok: true, attempts, reassignedTo } : { user, ok: true, attempts };
    }
    const state = sqlState(r.error);
    const error = r.error instanceof TeardownRefused ? r.error.message : `${state ? `SQLSTATE ${state}: ` : ''}${(r.error as Error)?.message ?? String(r.error)}`;
    log.error({ event: 'teardown.failed', user, target: targetName, reason, attempts, sqlstate: state }, `ephemeral user teardown failed: ${error}`);
    return { user, ok: false, attempts, error };
  }


  #poolEnded(): boolean {
    return (this.#pool as unknown as { ending?: boolean }).ending === true;
  }

  /** One teardown pass; every step is idempotent so a retry starts over. Returns the role objects went to. */
  async #dropOnce(user: string, owner: string | undefined): Promise<string | undefined> {
    const client = await this.#pool.connect();
    let failure: Error | undefined;
    try {
      // Fast path, one round trip: end its backends and drop it. DROP ROLE refuses (2BP01)
      // when the user owns objects or holds privileges; then hand them over below.
      try {
        await client.query(
          `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = ${ql(user)} AND pid <> pg_backend_pid(); ` +
            `DROP ROLE IF EXISTS ${qi(user)}`,
        );
        return undefined;
      } catch (err) {
        if (sqlState(err) !== '2BP01') throw err;
      }
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      if (exists.rowCount === 0) return undefined;
      await client.query(`ALTER ROLE ${qi(user)} NOLOGIN`);
      await this.#terminateBackends(client, user);
      const dbs = (await client.query<{ datname: string }>(SHDEPEND_DATABASES, [user])).rows.map((r) => r.datname);
      let reassignedTo: string | undefined;
      if (dbs.length > 0) {
        reassignedTo = await this.#checkOwner(client, owner);
        // REASSIGN/DROP OWNED need the privileges of the role; on PG16+ the creator holds only ADMIN OPTION.
        const has = await client.query<{ ok: boolean }>(`SELECT pg_has_role(current_user, $1, 'USAGE') AS ok`, [user]);
        if (!has.rows[0]!.ok) await client.query(`GRANT ${qi(user)} TO CURRENT_USER`);
        const current = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
        const sql = `REASSIGN OWNED BY ${qi(user)} TO ${qi(reassignedTo)}; DROP OWNED BY ${qi(user)}`;
        for (const db of dbs) {
          if (db === current) await client.query(sql);
          else await this.#inDatabase(db, sql);
        }
      }
      await client.query(`DROP ROLE IF EXISTS ${qi(user)}`);
      return reassignedTo;
    } catch (err) {
      if (isTransient(err) && !sqlState(err)) failure = err as Error;
      throw err;
    } finally {
      client.release(failure);
    }
  }

  async #terminateBackends(client: pg.PoolClient, user: string): Promise<void> {
    const deadline = Date.now() + TERMINATE_WAIT_MS;
    for (;;) {
      const r = await client.query(
        'SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()',
        [user],
      );
      if (r.rowCount === 0 || Date.now() >= deadline) return;
      await sleep(50);
    }
  }

  async #checkOwner(client: pg.PoolClient, owner: string | undefined): Promise<string> {
    if (!owner) throw new TeardownRefused('no owner role is known to receive the objects of this user');
    if (owner === this.#opts.target.admin.user) throw new TeardownRefused(`owner role ${owner} is the jitgate admin; refusing`);
    const r = await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [owner]);
    if (r.rowCount === 0) throw new TeardownRefused(`owner role ${owner} does not exist`);
    if (r.rows[0]!.rolsuper) throw new TeardownRefused(`owner role ${owner} is a superuser; refusing`);
    return owner;
  }

  async #inDatabase(database: string, sql: string): Promise<void> {
    const client = new pg.Client(adminClientConfig(this.#opts.target, database));
    client.on('error', () => undefined);
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Name, roles, expiry, metadata and owner role of a session's user. */
  #planUser(grant: Grant, sessionId: string) {
    const { target, targetName } = this.#opts;
    const roles = Object.hasOwn(target.roles, grant.role) ? target.roles[grant.role] : undefined;
    if (!roles || roles.length === 0) {
      throw new JitError('provisioning_failed', `role profile ${grant.role} is not configured for target ${targetName}`);
    }
    const expiresAt = new Date(Date.now() + this.#opts.maxSessionMs + 60_000);
    const comment: RoleComment = {
      jitgate: 1,
      sub: grant.sub,
      session: sessionId,
      instance: this.#opts.instance,
      target: targetName,
      profile: grant.role,
      expires: expiresAt.toISOString(),
    };
    return { user: ephemeralUserName(grant.sub, this.#opts.nameKey), roles, expiresAt, comment, owner: target.owner ?? roles[0]! };
  }

  /** The session's hold on its user: release (idempotent) tears it down. */
  #lease(user: string, password: string, scram: ScramKeys, expiresAt: Date, owner: string): Lease {
    let released: Promise<TeardownResult> | undefined;
    const release = (reason: string): Promise<TeardownResult> =>
      (released ??= this.#track(this.#teardown(user, owner, reason)).finally(() => this.#held.delete(user)));
    return {
      credentials: { user, password, scram },
      expiresAt,
      release,
      async [Symbol.asyncDispose]() {
        await release('disposed');
      },
    };
  }

  /**
   * Creates a blank user for a warm pool: LOGIN (so jitgate can open its connection), member
   * of jit_managed only, valid for `maxAgeMs`. Call `lockBlank` once it is connected.
   */
  async createBlank(maxAgeMs: number): Promise<BlankUser> {
    if (this.#closed) throw new JitError('provisioning_failed', 'jitgate is shutting down');
    const user = `jit_00000000_${ephemeralUserName('', this.#opts.nameKey).slice(-12)}`;
    const password = ephemeralPassword();
    const scram = await deriveScramKeys(password, { iterations: SCRAM_ITERATIONS });
    const expires = new Date(Date.now() + maxAgeMs);
    // VALID UNTIL is the login window: long enough for jitgate's own connection, after which
    // nobody can log in as this user (no ALTER … NOLOGIN round trip needed).
    const loginWindow = new Date(Date.now() + BLANK_LOGIN_WINDOW_MS);
    const comment = JSON.stringify({ jitgate: 1, pool: true, instance: this.#opts.instance, target: this.#opts.targetName, expires: expires.toISOString() });
    this.#held.add(user);
    const client = await this.#pool.connect().catch((err) => {
      this.#held.delete(user);
      throw provisioningError({ kind: 'connect' }, err, this.#opts.target.admin.user);
    });
    try {
      await client.query(
        `BEGIN; CREATE ROLE ${qi(user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT ` +
          `CONNECTION LIMIT 2 VALID UNTIL ${ql(loginWindow.toISOString())} IN ROLE ${qi(MANAGED_ROLE)} PASSWORD ${ql(scramVerifier(scram))}; ` +
          `COMMENT ON ROLE ${qi(user)} IS ${ql(comment)}; COMMIT`,
      );
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      this.#held.delete(user);
      throw provisioningError({ kind: 'create' }, err, this.#opts.target.admin.user);
    }
    return { user, password, scram, createdAt: Date.now() };
  }

  async #setComment(user: string, comment: RoleComment): Promise<void> {
    const client = await this.#pool.connect().catch(() => null);
    if (!client) return;
    try {
      // The comment carries token claims: it travels as a bind parameter, never as SQL text.
      await client.query('BEGIN');
      await client.query(
        `SELECT set_config('jitgate.role_name', $1, true), set_config('jitgate.role_comment', $2, true)`,
        [user, JSON.stringify(comment)],
      );
      await client.query(
        `DO $jit$ BEGIN EXECUTE format('COMMENT ON ROLE %I IS %L', current_setting('jitgate.role_name'), current_setting('jitgate.role_comment')); END $jit$; COMMIT`,
      );
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      // 42704: the session already ended and its user is gone.
      if (sqlState(err) !== '42704') this.#opts.log.warn({ event: 'provision.comment_failed', user, sqlstate: sqlState(err) }, 'could not record the session on its ephemeral user');
    } finally {
      client.release();
    }
  }

  /** Drops a blank user that was never claimed. */
  discardBlank(user: string, reason: string): Promise<TeardownResult> {
    return this.#track(this.#teardown(user, undefined, reason)).finally(() => this.#held.delete(user));
  }

  /**
   * Turns a blank user into a session's user in one transaction: renamed as a fresh
   * ephemeral user of `grant.sub`, granted the profile's roles, given its expiry and
   * metadata. It stays NOLOGIN: its one connection is already open.
   */
  async claim(blank: BlankUser, grant: Grant, sessionId: string): Promise<Lease> {
    const { target } = this.#opts;
    const { user, roles, expiresAt, comment, owner } = this.#planUser(grant, sessionId);
    this.#held.add(user);
    const client = await this.#pool.connect();
    try {
      // One round trip on the login path: NOLOGIN for good (its one connection is open), the
      // session's expiry for the reaper, the profile's roles.
      await client.query(
        `BEGIN; ALTER ROLE ${qi(blank.user)} RENAME TO ${qi(user)}; ` +
          `ALTER ROLE ${qi(user)} NOLOGIN VALID UNTIL ${ql(expiresAt.toISOString())}; ` +
          roles.map((role) => `GRANT ${qi(role)} TO ${qi(user)}`).join('; ') +
          '; COMMIT',
      );
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      this.#held.delete(user);
      void this.discardBlank(blank.user, 'claim failed');
      throw provisioningError({ kind: 'grant', role: roles.join(', ') }, err, target.admin.user);
    }
    // The session's metadata follows off the login path; until it lands the pool comment
    // (this instance, not expired) keeps the reaper's view right.
    void this.#track(this.#setComment(user, comment));
    this.#held.delete(blank.user);
    return this.#lease(user, blank.password, blank.scram, expiresAt, owner);
  }

  async reap(live: ReadonlySet<string>): Promise<string[]> {
    if (this.#closed) return [];
    const { target, targetName, instance, log } = this.#opts;
    const rows = (
      await this.#pool.query<{ rolname: string; expired: boolean; comment: string | null; granted: string[] }>(MANAGED_CANDIDATES)
    ).rows;
    const removed: string[] = [];
    for (const row of rows) {
      const name = row.rolname;
      if (live.has(name) || this.#held.has(name)) continue;
      const meta = parseComment(row.comment);
      const ours = meta?.instance === instance;
      // A warm-pool user's VALID UNTIL is only its login window: its comment says when it expires.
      const poolExpiry = (meta as { pool?: boolean } | null)?.pool === true && typeof meta?.expires === 'string' ? Date.parse(meta.expires) : NaN;
      const expired = Number.isNaN(poolExpiry) ? row.expired : poolExpiry < Date.now();
      if (!expired && !ours) continue;
      const profileRoles =
        meta?.target === targetName && typeof meta.profile === 'string' && Object.hasOwn(target.roles, meta.profile)
          ? target.roles[meta.profile]
          : undefined;
      const owner = target.owner ?? profileRoles?.[0] ?? row.granted[0];
      const result = await this.#track(this.#teardown(name, owner, expired ? 'reaped: expired' : 'reaped: leftover'));
      if (result.ok) removed.push(name);
    }
    if (removed.length) log.info({ event: 'reaper.removed', target: targetName, count: removed.length, users: removed }, 'reaped leftover ephemeral users');
    return removed;
  }

  /** Reaps now and then every `intervalMs`; `getLive` returns the upstream users of this instance's live sessions. */
  startReaper(getLive: () => Set<string>, intervalMs = 60_000): void {
    this.#reaper.start(
      () => (this.#closed ? Promise.resolve() : this.reap(getLive())),
      (err) => this.#opts.log.warn({ event: 'reaper.failed', target: this.#opts.targetName, sqlstate: sqlState(err) }, 'reaper pass failed'),
      intervalMs,
    );
  }

  stopReaper(): void {
    this.#reaper.stop();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopReaper();
    await this.#reaper.running;
    await Promise.allSettled([...this.#inflight]);
    await this.#pool.end();
  }
}
