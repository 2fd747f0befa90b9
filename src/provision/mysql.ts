/**
 * Ephemeral upstream users on MariaDB (tested: 10.11) and MySQL 8 (written from the
 * documentation, untested here): one account `'jit_…'@'%'` per session, dropped when the
 * session ends, reaped when a crash left one behind.
 *
 * Metadata. MySQL accounts have no VALID UNTIL and MariaDB ones no comment, so each user's
 * metadata lives in a jitgate-owned table (`jitgate.ephemeral_users`, created on first use).
 * Its row is inserted before CREATE USER and deleted after DROP USER: DDL commits at once, so
 * a crash in between leaves a row the reaper acts on, and a `jit_` user without a row is a
 * leftover too. Token claims (sub, profile) only ever travel as bound parameters.
 *
 * Creating (MariaDB). `CREATE USER … IDENTIFIED BY PASSWORD '<native hash>'`: the hash is
 * computed here, the plaintext never reaches the server. MAX_USER_CONNECTIONS 2 leaves room for
 * the session and one KILL QUERY connection. MariaDB activates one default role per user, and
 * `SET DEFAULT ROLE … FOR <other user>` needs UPDATE on the whole `mysql` schema (which amounts
 * to root), so the new user sets its own default role: the lease names the role
 * (`credentials.role`) and the engine's first upstream login — without a database, which the
 * user cannot enter before its role is active — runs `SET DEFAULT ROLE`, `SET ROLE`, then
 * COM_INIT_DB (COM_RESET_CONNECTION later falls back to that default). A profile
 * of several roles gets a per-session role `<user>_r` holding them, dropped with the user.
 * MySQL 8 takes `IDENTIFIED WITH caching_sha2_password BY '<password>'` (the plaintext does
 * travel, inside the admin connection), all roles, and `SET DEFAULT ROLE ALL TO`.
 *
 * Teardown. DROP USER first: from then on nobody can log in as the user and its privileges are
 * gone; then the connections it still has are killed (MariaDB `KILL CONNECTION USER`, which
 * needs no PROCESS privilege; MySQL ids from the processlist), the session role dropped and the
 * row deleted. Transient failures are retried within TEARDOWN_BUDGET_MS.
 *
 * Every name in SQL text is backtick-quoted (mode-independent, unlike backslash escapes under
 * NO_BACKSLASH_ESCAPES); the only literals are a password hash and `'%'`.
 *
 * Two jitgate deployments sharing one server must share the metadata database too: each
 * treats a `jit_` user without a row in its own table as a leftover.
 */
import { ReaperSchedule } from './reaper.js';
import { retryTransient } from './retry.js';
import fs from 'node:fs';
import mysql from 'mysql2/promise';
import { nativePasswordHash } from '../../protocols/mysql/auth.js';
import type { TargetConfig } from '../config/schema.js';
import type { Grant, Lease, Provisioner, TeardownResult } from '../engine/types.js';
import { JitError } from '../errors.js';
import { EPHEMERAL_NAME, ephemeralPassword, ephemeralUserName } from './names.js';
import type { ProvisionLogger } from './postgres.js';

export type MysqlFlavour = 'mariadb' | 'mysql';

export interface MysqlProvisionerOptions {
  targetName: string;
  target: TargetConfig;
  /** Stable name of this proxy instance, written into each user's metadata row for the reaper. */
  instance: string;
  maxSessionMs: number;
  /** Key for the HMAC tag in user names. */
  nameKey: Buffer;
  log: ProvisionLogger;
  /** Database holding the metadata table. Default: jitgate. */
  metaDatabase?: string;
}

export const DEFAULT_META_DATABASE = 'jitgate';
export const META_TABLE = 'ephemeral_users';

/** Budget for one teardown including retries: the contract says gone within 5 s. */
const TEARDOWN_BUDGET_MS = 4_000;
/**
 * Admin statements give up after this: lock_wait_timeout bounds metadata locks (its default is
 * a day), and on MariaDB max_statement_time also bounds the table-level locks of the Aria grant
 * tables, which lock_wait_timeout does not.
 */
const STATEMENT_TIMEOUT_S = 2;


// Server error numbers (MariaDB/MySQL share them).
const ER_DBACCESS_DENIED = 1044;
const ER_ACCESS_DENIED = 1045;
const ER_TABLEACCESS_DENIED = 1142;
const ER_NO_SUCH_THREAD = 1094;
const ER_SPECIFIC_ACCESS_DENIED = 1227;
const ER_ACCESS_DENIED_NO_PASSWORD = 1698;
const ER_INVALID_ROLE = 1959;
/** MySQL 8: "Unknown authorization ID" for a missing role. */
const ER_UNKNOWN_AUTHID = 3523;

const TRANSIENT_ERRNOS = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1203, // the admin's max_user_connections
  1205, // lock wait timeout
  1213, // deadlock
  1927, // connection killed
  1969, // max_statement_time exceeded (MariaDB)
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/** The server's error number, or undefined for client-side and network errors. */
export function mysqlErrno(err: unknown): number | undefined {
  const e = err as { errno?: unknown; sqlState?: unknown } | null;
  return typeof e?.errno === 'number' && typeof e.sqlState === 'string' ? e.errno : undefined;
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Worth retrying: lock conflicts, connection limits, shutdowns and lost connections. */
export function isTransientMysql(err: unknown): boolean {
  const errno = mysqlErrno(err);
  if (errno !== undefined) return TRANSIENT_ERRNOS.has(errno);
  const code = errCode(err);
  return (code !== undefined && NETWORK_CODES.has(code)) || (err as { fatal?: unknown } | null)?.fatal === true;
}

/** Quotes an identifier (database, table, role or account part) with backticks, doubling embedded ones. */
export function quoteMysqlName(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL character');
  return '`' + name.replace(/`/g, '``') + '`';
}

/** A user account reachable from any host. */
function account(user: string): string {
  return `${quoteMysqlName(user)}@'%'`;
}

/** A string literal for values from a fixed alphabet (hashes, base64url passwords): the same under every sql_mode. */
function plainLiteral(value: string): string {
  if (!/^[A-Za-z0-9*_-]*$/.test(value)) throw new Error('value is outside the literal-safe alphabet');
  return `'${value}'`;
}

/** The per-session role of a user whose profile has several roles (MariaDB). */
export function sessionRoleName(user: string): string {
  return `${user}_r`;
}

const SESSION_ROLE = new RegExp(EPHEMERAL_NAME.source.replace(/\$$/, '_r$'));

/** DDL of the metadata table (one row per ephemeral user, UTC times). */
export function metaTableSql(metaDatabase: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${quoteMysqlName(metaDatabase)}`,
    `CREATE TABLE IF NOT EXISTS ${quoteMysqlName(metaDatabase)}.${quoteMysqlName(META_TABLE)} (
       user_name VARCHAR(64) NOT NULL PRIMARY KEY,
       role_name VARCHAR(64) NULL,
       instance TEXT NOT NULL,
       target TEXT NOT NULL,
       profile TEXT NOT NULL,
       sub TEXT NOT NULL,
       session_id TEXT NOT NULL,
       created_at DATETIME(3) NOT NULL,
       expires_at DATETIME(3) NOT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  ];
}

/** Connection settings shared by the admin pool and the users' own logins (no user, no database). */
export function mysqlConnectOptions(target: TargetConfig): mysql.ConnectionOptions {
  let ssl: mysql.SslOptions | undefined;
  if (target.tls.mode === 'verify-full') {
    ssl = { ...(target.tls.ca ? { ca: fs.readFileSync(target.tls.ca, 'utf8') } : {}), rejectUnauthorized: true, verifyIdentity: true };
  } else if (target.tls.mode === 'require') {
    ssl = { rejectUnauthorized: false };
  }
  return { host: target.host, port: target.port ?? 3306, ...(ssl ? { ssl } : {}), connectTimeout: 5_000, supportBigNumbers: true, dateStrings: true };
}

export function flavourOf(version: string): MysqlFlavour {
  return /mariadb/i.test(version) ? 'mariadb' : 'mysql';
}

/** Waits until the server has closed a connection (and so no longer counts it against the user). */

type Step =
  | { kind: 'connect' }
  | { kind: 'metadata' }
  | { kind: 'create' }
  | { kind: 'session_role' }
  | { kind: 'grant'; role: string }
  | { kind: 'default_role' };

function provisioningError(step: Step, err: unknown, admin: string, metaDatabase: string): JitError {
  const errno = mysqlErrno(err);
  let msg: string;
  if (step.kind === 'connect') {
    msg = errno === ER_ACCESS_DENIED ? `jitgate admin ${admin} cannot log in upstream` : 'cannot connect to the upstream as the jitgate admin';
  } else if (step.kind === 'metadata' && (errno === ER_DBACCESS_DENIED || errno === ER_TABLEACCESS_DENIED)) {
    msg = `jitgate admin lacks CREATE, SELECT, INSERT or DELETE on database ${metaDatabase}`;
  } else if ((step.kind === 'create' || step.kind === 'session_role') && errno === ER_SPECIFIC_ACCESS_DENIED) {
    msg = 'jitgate admin lacks the CREATE USER privilege';
  } else if (step.kind === 'grant' && (errno === ER_INVALID_ROLE || errno === ER_UNKNOWN_AUTHID)) {
    msg = `upstream role ${step.role} does not exist`;
  } else if (step.kind === 'grant' && (errno === ER_ACCESS_DENIED_NO_PASSWORD || errno === ER_SPECIFIC_ACCESS_DENIED)) {
    msg = `jitgate admin lacks ADMIN OPTION on role ${step.role}`;
  } else if (step.kind === 'default_role') {
    msg = 'the ephemeral user could not log in to activate its role';
  } else {
    msg = `could not create the ephemeral user (${step.kind}${step.kind === 'grant' ? ` ${step.role}` : ''} failed)`;
  }
  // Server errors by number (MariaDB-only ones have no mysql2 code name), others by their code.
  return new JitError('provisioning_failed', msg, { detail: errno !== undefined ? String(errno) : errCode(err), cause: err });
}

/** A step failure carried out of the creation sequence with the step it happened in. */
class StepError extends Error {
  constructor(readonly step: Step, override readonly cause: unknown) {
    super('provisioning step failed');
  }
}

interface Plan {
  user: string;
  roles: string[];
  /** The per-session role (MariaDB, several roles), else undefined. */
  sessionRole: string | undefined;
  /** MariaDB: the role the session's first login makes its default and activates. */
  activate: string | undefined;
  expiresAt: Date;
}

type CoreConnection = {
  on(event: 'error', fn: (err: Error) => void): void;
  query(sql: string, cb: (err: unknown) => void): void;
};

export class MysqlProvisioner implements Provisioner {
  readonly #opts: MysqlProvisionerOptions;
  readonly #pool: mysql.Pool;
  readonly #meta: string;
  /** Users this process created and has not finished tearing down: never reaped from under it. */
  readonly #held = new Set<string>();
  readonly #inflight = new Set<Promise<unknown>>();
  #prepared: Promise<MysqlFlavour> | undefined;
  #flavour: MysqlFlavour | undefined;
  readonly #reaper = new ReaperSchedule();
  #closed = false;

  constructor(opts: MysqlProvisionerOptions) {
    this.#opts = opts;
    this.#meta = `${quoteMysqlName(opts.metaDatabase ?? DEFAULT_META_DATABASE)}.${quoteMysqlName(META_TABLE)}`;
    const { target, targetName, log } = opts;
    this.#pool = mysql.createPool({
      ...mysqlConnectOptions(target),
      user: target.admin.user,
      password: target.admin.password,
      connectionLimit: target.adminPoolSize,
      maxIdle: target.adminPoolSize,
      idleTimeout: 30_000,
      enableKeepAlive: true,
    });
    // mysql2 removes a failed connection from the pool on its first 'error' only: a second one
    // (a write after the socket died) would be unhandled and crash the process.
    this.#pool.on('connection', (c) => {
      const conn = c as unknown as CoreConnection;
      conn.on('error', (err) => {
        log.warn({ event: 'admin.connection_failed', target: targetName, code: errCode(err) }, 'admin connection failed');
      });
      // Queued ahead of the caller's first statement on this connection. `/*M!…*/` runs on MariaDB only.
      conn.query(
        `SET SESSION lock_wait_timeout = ${STATEMENT_TIMEOUT_S}, innodb_lock_wait_timeout = ${STATEMENT_TIMEOUT_S}` +
          ` /*M!, max_statement_time = ${STATEMENT_TIMEOUT_S} */`,
        () => undefined,
      );
    });
  }

  get instance(): string {
    return this.#opts.instance;
  }

  /** The flavour detected from the admin connection's version(), once it has connected. */
  get flavour(): MysqlFlavour | undefined {
    return this.#flavour;
  }

  get #metaDatabase(): string {
    return this.#opts.metaDatabase ?? DEFAULT_META_DATABASE;
  }

  #error(step: Step, err: unknown): JitError {
    return provisioningError(step, err, this.#opts.target.admin.user, this.#metaDatabase);
  }

  /** Detects the flavour and creates the metadata table; retried on the next call after a failure. */
  #prepare(): Promise<MysqlFlavour> {
    this.#prepared ??= (async () => {
      const conn = await this.#pool.getConnection().catch((err: unknown) => {
        throw this.#error({ kind: 'connect' }, err);
      });
      try {
        const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
        const flavour = flavourOf(String(rows[0]!.v));
        try {
          for (const sql of metaTableSql(this.#metaDatabase)) await conn.query(sql);
        } catch (err) {
          throw this.#error({ kind: 'metadata' }, err);
        }
        this.#flavour = flavour;
        return flavour;
      } catch (err) {
        throw err instanceof JitError ? err : this.#error({ kind: 'connect' }, err);
      } finally {
        conn.release();
      }
    })().catch((err: unknown) => {
      this.#prepared = undefined;
      throw err;
    });
    return this.#prepared;
  }

  async provision(grant: Grant, sessionId: string): Promise<Lease> {
    if (this.#closed) throw new JitError('provisioning_failed', 'jitgate is shutting down');
    const { target, targetName, instance, log } = this.#opts;
    const roles = Object.hasOwn(target.roles, grant.role) ? target.roles[grant.role] : undefined;
    if (!roles || roles.length === 0) {
      throw new JitError('provisioning_failed', `role profile ${grant.role} is not configured for target ${targetName}`);
    }
    const flavour = await this.#prepare();
    const user = ephemeralUserName(grant.sub, this.#opts.nameKey);
    const plan: Plan = {
      user,
      roles,
      sessionRole: flavour === 'mariadb' && roles.length > 1 ? sessionRoleName(user) : undefined,
      activate: flavour === 'mariadb' ? (roles.length > 1 ? sessionRoleName(user) : roles[0]) : undefined,
      expiresAt: new Date(Date.now() + this.#opts.maxSessionMs + 60_000),
    };
    const password = ephemeralPassword();
    this.#held.add(user);
    let created = false;
    try {
      const conn = await this.#pool.getConnection().catch((err: unknown) => {
        throw new StepError({ kind: 'connect' }, err);
      });
      try {
        await conn
          .execute(
            `INSERT INTO ${this.#meta} (user_name, role_name, instance, target, profile, sub, session_id, created_at, expires_at) ` +
              'VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3), ?)',
            [user, plan.sessionRole ?? null, instance, targetName, grant.role, grant.sub, sessionId, utcDatetime(plan.expiresAt)],
          )
          .catch((err: unknown) => {
            throw new StepError({ kind: 'metadata' }, err);
          });
        created = true;
        await this.#createUser(conn, plan, password, flavour);
      } finally {
        conn.release();
      }
    } catch (e) {
      const { step, cause } = e instanceof StepError ? e : { step: { kind: 'create' } as Step, cause: e };
      const err = this.#error(step, cause);
      log.warn({ event: 'provision.failed', target: targetName, step: step.kind, code: err.detail }, err.clientMessage);
      // Never leave a user behind: undo whatever was created (idempotent, retried).
      if (created) await this.#track(this.#teardown(user, plan.sessionRole, 'provisioning failed'));
      this.#held.delete(user);
      throw err;
    }
    return this.#lease(plan, password);
  }

  async #createUser(conn: mysql.PoolConnection, plan: Plan, password: string, flavour: MysqlFlavour): Promise<void> {
    const run = async (step: Step, sql: string) => {
      await conn.query(sql).catch((err: unknown) => {
        throw new StepError(step, err);
      });
    };
    const user = account(plan.user);
    if (flavour === 'mysql') {
      await run({ kind: 'create' }, `CREATE USER ${user} IDENTIFIED WITH caching_sha2_password BY ${plainLiteral(password)} WITH MAX_USER_CONNECTIONS 2`);
      for (const role of plan.roles) await run({ kind: 'grant', role }, `GRANT ${quoteMysqlName(role)} TO ${user}`);
      await run({ kind: 'default_role' }, `SET DEFAULT ROLE ALL TO ${user}`);
      return;
    }
    await run({ kind: 'create' }, `CREATE USER ${user} IDENTIFIED BY PASSWORD ${plainLiteral(nativePasswordHash(password))} WITH MAX_USER_CONNECTIONS 2`);
    if (plan.sessionRole) {
      const role = quoteMysqlName(plan.sessionRole);
      await run({ kind: 'session_role' }, `CREATE ROLE ${role}`);
      for (const r of plan.roles) await run({ kind: 'grant', role: r }, `GRANT ${quoteMysqlName(r)} TO ${role}`);
      await run({ kind: 'session_role' }, `GRANT ${role} TO ${user}`);
    } else {
      const r = plan.roles[0]!;
      await run({ kind: 'grant', role: r }, `GRANT ${quoteMysqlName(r)} TO ${user}`);
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /** Drops the user (and its session role, and its row), retrying transient failures. Never throws. */
  async #teardown(user: string, sessionRole: string | undefined, reason: string): Promise<TeardownResult> {
    const { log, targetName } = this.#opts;
    const r = await retryTransient(() => this.#dropOnce(user, sessionRole), {
      budgetMs: TEARDOWN_BUDGET_MS,
      firstDelayMs: 50,
      maxDelayMs: 1_000,
      transient: (err) => isTransientMysql(err) && !this.#poolEnded(),
    });
    const { attempts } = r;
    if (r.ok) {
      log.debug?.({ event: 'teardown.done', user, target: targetName, reason, attempts }, 'ephemeral user dropped');
      return { user, ok: true, attempts };
    }
    const code = errCode(r.error);
    const error = `${code ? `${code}: ` : ''}${(r.error as Error)?.message ?? String(r.error)}`;
    log.error({ event: 'teardown.failed', user, target: targetName, reason, attempts, code }, `ephemeral user teardown failed: ${error}`);
    return { user, ok: false, attempts, error };
  }


  #poolEnded(): boolean {
    return (this.#pool.pool as unknown as { _closed?: boolean })._closed === true;
  }

  /** One teardown pass; every statement is idempotent so a retry starts over. */
  async #dropOnce(user: string, sessionRole: string | undefined): Promise<void> {
    const flavour = this.#flavour ?? (await this.#prepare());
    const conn = await this.#pool.getConnection();
    let broken = false;
    try {
      // Dropped first: logins and privileges end here; connections opened before are killed next.
      await conn.query(`DROP USER IF EXISTS ${account(user)}`);
      if (flavour === 'mariadb') {
        await conn.query(`KILL CONNECTION USER ${quoteMysqlName(user)}`);
      } else {
        const [rows] = await conn.execute<mysql.RowDataPacket[]>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ?', [user]);
        for (const row of rows) {
          await conn.query(`KILL CONNECTION ${Number(row.id)}`).catch((err: unknown) => {
            if (mysqlErrno(err) !== ER_NO_SUCH_THREAD) throw err;
          });
        }
      }
      if (sessionRole) await conn.query(`DROP ROLE IF EXISTS ${quoteMysqlName(sessionRole)}`);
      await conn.execute(`DELETE FROM ${this.#meta} WHERE user_name = ?`, [user]);
    } catch (err) {
      broken = (err as { fatal?: unknown })?.fatal === true;
      throw err;
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  /** The session's hold on its user: release (idempotent) tears it down. */
  #lease(plan: Plan, password: string): Lease {
    let released: Promise<TeardownResult> | undefined;
    const release = (reason: string): Promise<TeardownResult> =>
      (released ??= this.#track(this.#teardown(plan.user, plan.sessionRole, reason)).finally(() => this.#held.delete(plan.user)));
    return {
      credentials: { user: plan.user, password, role: plan.activate },
      expiresAt: plan.expiresAt,
      release,
      async [Symbol.asyncDispose]() {
        await release('disposed');
      },
    };
  }

  async reap(live: ReadonlySet<string>): Promise<string[]> {
    if (this.#closed) return [];
    const { targetName, instance, log } = this.#opts;
    const flavour = await this.#prepare();
    // Accounts first, rows second: a row is written before its user, so every user seen here
    // still has its row below unless a teardown removed both.
    const [accounts] = await this.#pool.query<mysql.RowDataPacket[]>(
      flavour === 'mariadb'
        ? `SELECT User AS name, is_role AS isRole FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!'`
        : `SELECT User AS name, 'N' AS isRole FROM mysql.user WHERE User LIKE 'jit!_%' ESCAPE '!' AND Host = '%'`,
    );
    const [rows] = await this.#pool.query<mysql.RowDataPacket[]>(
      `SELECT user_name, role_name, instance, target, expires_at < UTC_TIMESTAMP(3) AS expired FROM ${this.#meta}`,
    );
    const candidates = new Map<string, { sessionRole: string | undefined; reason: string }>();
    const withRow = new Set<string>();
    for (const row of rows) {
      const name = String(row.user_name);
      withRow.add(name);
      const expired = Number(row.expired) === 1;
      const ours = row.instance === instance && row.target === targetName;
      if (expired || ours) {
        candidates.set(name, { sessionRole: row.role_name ? String(row.role_name) : undefined, reason: expired ? 'reaped: expired' : 'reaped: leftover' });
      }
    }
    for (const a of accounts) {
      const name = String(a.name);
      const isRole = a.isRole === 'Y';
      const user = isRole ? name.slice(0, -2) : name;
      if (!(isRole ? SESSION_ROLE : EPHEMERAL_NAME).test(name) || withRow.has(user)) continue;
      const known = candidates.get(user);
      const sessionRole = isRole ? name : known?.sessionRole;
      candidates.set(user, { sessionRole, reason: 'reaped: no metadata' });
    }
    const removed: string[] = [];
    for (const [user, { sessionRole, reason }] of candidates) {
      if (live.has(user) || this.#held.has(user)) continue;
      const result = await this.#track(this.#teardown(user, sessionRole, reason));
      if (result.ok) removed.push(user);
    }
    if (removed.length) log.info({ event: 'reaper.removed', target: targetName, count: removed.length, users: removed }, 'reaped leftover ephemeral users');
    return removed;
  }

  /** Reaps now and then every `intervalMs`; `getLive` returns the upstream users of this instance's live sessions. */
  startReaper(getLive: () => Set<string>, intervalMs = 60_000): void {
    this.#reaper.start(
      () => (this.#closed ? Promise.resolve() : this.reap(getLive())),
      (err) => this.#opts.log.warn({ event: 'reaper.failed', target: this.#opts.targetName, code: errCode(err) }, 'reaper pass failed'),
      intervalMs,
    );
  }

  /** Ends the running statement (or the whole connection) of one upstream connection: a client's KILL routed by jitgate. */
  async kill(connectionId: number, queryOnly: boolean): Promise<void> {
    if (!Number.isSafeInteger(connectionId) || connectionId < 0) throw new Error('bad connection id');
    await this.#pool.query(`KILL ${queryOnly ? 'QUERY' : 'CONNECTION'} ${connectionId}`).catch((err: unknown) => {
      if (mysqlErrno(err) !== ER_NO_SUCH_THREAD) throw err;
    });
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

/** `YYYY-MM-DD HH:MM:SS.mmm` in UTC, for a DATETIME(3) column. */
function utcDatetime(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}
