/**
 * The seams between protocol engines (PostgreSQL, MySQL) and the protocol-neutral
 * modules a session carries: token verification, ephemeral users, masking,
 * recording and statement policy.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Config, TargetConfig } from '../config/schema.js';
import type { JitError } from '../errors.js';

export type Protocol = 'postgres' | 'mysql';

/** What a client presented at login, before anything was verified. */
export interface LoginRequest {
  user: string;
  /** Database name the client asked for: selects the target. */
  database: string;
  /** The password field: a JWT. Secret: never log or record it. */
  token: string;
  tls: boolean;
  remoteAddress: string;
  /** Protocol-specific startup parameters, minus user/database/password. */
  params: Record<string, string>;
}

/** A verified token. */
export interface Grant {
  sub: string;
  target: string;
  role: string;
  jti?: string;
  iat: number;
  exp: number;
  issuer: string;
}

/** SCRAM keys derived once from the ephemeral password (RFC 5802 / 7677). */
export interface ScramKeys {
  salt: Buffer;
  iterations: number;
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface UpstreamCredentials {
  user: string;
  /** Random ephemeral password. Secret. */
  password: string;
  scram?: ScramKeys;
  /** MySQL/MariaDB: the role the session's first login makes its default and activates (SET DEFAULT ROLE, SET ROLE). */
  role?: string;
}

/** The ephemeral upstream user held for one session. Disposing it tears the user down. */
export interface Lease extends AsyncDisposable {
  readonly credentials: UpstreamCredentials;
  readonly expiresAt: Date;
  /** Drops the user (idempotent). Resolves with what teardown did; never throws. */
  release(reason: string): Promise<TeardownResult>;
}

export interface TeardownResult {
  user: string;
  ok: boolean;
  attempts: number;
  reassignedTo?: string;
  error?: string;
}

export interface Provisioner {
  provision(grant: Grant, sessionId: string): Promise<Lease>;
  /** Removes leftover ephemeral users (expired, or this instance's and not live). */
  reap(live: ReadonlySet<string>): Promise<string[]>;
  close(): Promise<void>;
}

// ---- per-session pipeline ------------------------------------------------

/** A result column as described by the protocol (PostgreSQL RowDescription, MySQL column definition). */
export interface ColumnInfo {
  name: string;
  /** Source table OID (PostgreSQL) or 0; used to resolve source-column rules. */
  tableOid: number;
  /** Source column number, or 0 when the column is computed. */
  attnum: number;
  /** MySQL carries source names directly. */
  sourceTable?: string;
  sourceSchema?: string;
  sourceColumn?: string;
  typeOid: number;
  format: 'text' | 'binary';
}

/** Masks the cells of one result set. Throws to fail closed: the engine then ends the statement with an error. */
export interface ResultMasker {
  /** Returns `value` itself when unchanged, a new Buffer when masked, null for SQL NULL. */
  mask(column: number, value: Buffer | null): Buffer | null;
}

export interface MaskingHook {
  /** Called for each result description; null means the rows pass untouched. */
  planResult(columns: ColumnInfo[]): ResultMasker | null | Promise<ResultMasker | null>;
  /** Masks free text that carries values: error/notice fields, notification payloads. */
  maskText(text: string): string;
}

/** Who sent a frame. */
export type Direction = 'client' | 'server';

/** Observes every frame both ways exactly as forwarded (after masking). Recording implements it. */
export interface FrameObserver {
  frames(from: Direction, bytes: Buffer): void;
  /** An authentication exchange happened here; its bytes are not given. */
  redacted(from: Direction, what: string): void;
  /** True while the observer can take more without buffering past its bound. */
  readonly ready: boolean;
  /** Calls back once when `ready` turns true again. */
  onReady(cb: () => void): void;
  /** Set when the observer failed: the session must end (fail closed). */
  readonly failure?: Error;
  close(result: SessionSummary): Promise<void>;
}

export interface Statement {
  kind: 'query' | 'parse' | 'prepare' | 'execute';
  sql: string;
  name?: string;
}

/** Guardrails: may throw JitError('statement_refused'). */
export interface StatementHook {
  check(stmt: Statement, session: SessionInfo): void;
}

export interface SessionInfo {
  id: string;
  protocol: Protocol;
  grant: Grant;
  targetName: string;
  target: TargetConfig;
  upstreamUser: string;
  startedAt: Date;
  remoteAddress: string;
}

export interface SessionSummary {
  endedAt: Date;
  reason: string;
  bytesFromClient: number;
  bytesFromServer: number;
  statements: number;
}

export interface SessionPipeline {
  masking: MaskingHook | null;
  observers: FrameObserver[];
  statements: StatementHook[];
}

/** Mutable counters the relay updates. */
export interface SessionStats {
  bytesFromClient: number;
  bytesFromServer: number;
  statements: number;
}

// ---- engines --------------------------------------------------------------

/** A client half-way through login: startup read, password (token) received, nothing sent yet. */
export interface ClientLogin {
  readonly login: LoginRequest;
  readonly socket: Duplex;
  /** Sends a protocol error for a refused login (or an error mid-session) and closes. Never throws. */
  refuse(err: JitError): Promise<void>;
}

/** An authenticated upstream connection as the ephemeral user. */
export interface UpstreamConnection extends AsyncDisposable {
  readonly socket: Duplex;
  close(): void;
}

export interface RelayContext {
  session: SessionInfo;
  pipeline: SessionPipeline;
  stats: SessionStats;
  /** Aborted to end the session (revocation, maxSession, drain); its reason is a JitError. */
  signal: AbortSignal;
}

export interface Engine {
  readonly protocol: Protocol;
  /**
   * Runs the client side of login up to the password. Returns null when the connection
   * needed no session (CancelRequest, health check, refused before startup).
   */
  handshake(socket: Socket): Promise<ClientLogin | null>;
  /**
   * A user and upstream connection prepared ahead of demand, claimed for this session;
   * null when none is ready (then provision + connect).
   */
  claimWarm?(grant: Grant, sessionId: string, client: ClientLogin): Promise<{ lease: Lease; upstream: UpstreamConnection } | null>;
  /** Connects and logs in upstream as the ephemeral user. */
  connect(target: TargetConfig, creds: UpstreamCredentials, client: ClientLogin): Promise<UpstreamConnection>;
  /** Tells the client it is logged in, then relays until either side ends or the signal aborts. */
  relay(client: ClientLogin, upstream: UpstreamConnection, ctx: RelayContext): Promise<string>;
  createProvisioner(targetName: string, target: TargetConfig, config: Config): Provisioner;
  /** Releases what the engine holds (warm pools) before the provisioners close. */
  close?(): Promise<void>;
}

export type { JitError };
