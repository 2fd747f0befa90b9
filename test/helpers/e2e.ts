/**
 * Helpers for the end-to-end suites in test/e2e: polling, the upstream's ephemeral users,
 * hand-signed tokens (claims mintToken refuses to produce) and a raw-wire login that shows
 * exactly what a refused client receives.
 */
import net from 'node:net';
import { SignJWT } from 'jose';
import { loadSigningKey } from '../../src/auth/keys.js';
import type { Config } from '../../src/config/schema.js';
import { MANAGED_ROLE } from '../../src/provision/postgres.js';
import type { PgUpstream } from './pg-upstream.js';

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes (then returns the last value). */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Ephemeral users on the upstream (jit_ roles except the jit_managed group). */
export async function jitUsers(up: PgUpstream): Promise<string[]> {
  const r = await up.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%' AND rolname <> $1 ORDER BY rolname`,
    [MANAGED_ROLE],
  );
  return r.rows.map((x) => x.rolname);
}

/** True once `user` no longer exists upstream, within `timeoutMs`. */
export async function userGone(up: PgUpstream, user: string, timeoutMs = 5000): Promise<boolean> {
  return waitFor(async () => (await up.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [user])).rowCount === 0, timeoutMs);
}

/** Number of upstream backends logged in as `user`. */
export async function backendsOf(up: PgUpstream, user: string): Promise<number> {
  const r = await up.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1`, [user]);
  return r.rowCount ?? 0;
}

/** Signs arbitrary claims with the config's signing key (for tokens mintToken would refuse). */
export async function signClaims(config: Config, claims: Record<string, unknown>): Promise<string> {
  const k = await loadSigningKey(config.auth.signingKeys!);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + 300, iss: config.auth.issuer, jti: `e2e-${now}-${Math.random()}`, ...claims })
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' })
    .sign(k.key);
}

export interface RawLoginResult {
  /** Message types the server sent after the password (or instead of asking for it), e.g. ['E'] or ['R', 'S', …, 'Z']. */
  types: string[];
  /** Fields of the first ErrorResponse (S, V, C, M, …), when one came. */
  error?: Record<string, string>;
  /** The server closed the connection in an orderly way (FIN), not by a reset. */
  endedCleanly: boolean;
}

interface RawMessage {
  type: string;
  body: Buffer;
}

const frame = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.write(type);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    out[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}

/**
 * A bare protocol client (§55.2) over plain TCP with cleartext password auth, as jitgate
 * asks for: shows byte for byte what the server sends.
 */
export class RawPgClient {
  private buf = Buffer.alloc(0);
  private queue: RawMessage[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private reset = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length < 1 + len) break;
        this.queue.push({ type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, 1 + len) });
        this.buf = this.buf.subarray(1 + len);
      }
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.reset = true;
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port: number): Promise<RawPgClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.off('error', reject);
        resolve(new RawPgClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** The next message, or null once the server closed the connection. */
  async next(timeoutMs = 10_000): Promise<RawMessage | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0 && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('RawPgClient: no message in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.queue.shift() ?? null;
  }

  /** StartupMessage, then the password when asked; collects messages up to ReadyForQuery or close. */
  async login(user: string, database: string, password: string): Promise<RawLoginResult> {
    const params = Buffer.concat([cstr('user'), cstr(user), cstr('database'), cstr(database), Buffer.from([0])]);
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + params.length, 0);
    startup.writeInt32BE(196608, 4);
    this.socket.write(Buffer.concat([startup, params]));
    const types: string[] = [];
    let error: Record<string, string> | undefined;
    const first = await this.next();
    if (first?.type === 'E') {
      // Refused before the password was asked for (e.g. TLS required).
      return { types: ['E'], error: errorFields(first.body), endedCleanly: await this.closedByServer() };
    }
    if (first?.type !== 'R' || first.body.readInt32BE(0) !== 3) throw new Error(`expected AuthenticationCleartextPassword, got ${first?.type}`);
    this.socket.write(frame('p', cstr(password)));
    for (;;) {
      const m = await this.next();
      if (!m) break;
      types.push(m.type);
      if (m.type === 'E') error ??= errorFields(m.body);
      if (m.type === 'Z') break;
    }
    return { types, error, endedCleanly: this.closed && !this.reset };
  }

  /** Waits for the server to close the connection; true when it did so with a FIN. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    while (!this.closed) if ((await this.next(timeoutMs)) === null) break;
    return !this.reset;
  }

  /** One extended-protocol query with all results in binary; returns the raw cell bytes. */
  async queryBinary(sql: string): Promise<{ oids: number[]; rows: (Buffer | null)[][] }> {
    const bind = Buffer.concat([cstr(''), cstr(''), Buffer.from([0, 0, 0, 0, 0, 1, 0, 1])]);
    const describe = Buffer.concat([Buffer.from('P'), cstr('')]);
    this.socket.write(
      Buffer.concat([
        frame('P', Buffer.concat([cstr(''), cstr(sql), Buffer.from([0, 0])])),
        frame('B', bind),
        frame('D', describe),
        frame('E', Buffer.concat([cstr(''), Buffer.alloc(4)])),
        frame('S', Buffer.alloc(0)),
      ]),
    );
    const oids: number[] = [];
    const rows: (Buffer | null)[][] = [];
    for (;;) {
      const m = await this.next();
      if (!m) throw new Error('connection closed during query');
      if (m.type === 'E') throw Object.assign(new Error(errorFields(m.body).M), { fields: errorFields(m.body) });
      if (m.type === 'T') {
        let at = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          at = m.body.indexOf(0, at) + 1;
          oids.push(m.body.readInt32BE(at + 6));
          at += 18;
        }
      }
      if (m.type === 'D') {
        const row: (Buffer | null)[] = [];
        let at = 2;
        for (let i = 0; i < m.body.readInt16BE(0); i++) {
          const len = m.body.readInt32BE(at);
          at += 4;
          row.push(len < 0 ? null : Buffer.from(m.body.subarray(at, at + len)));
          if (len > 0) at += len;
        }
        rows.push(row);
      }
      if (m.type === 'Z') return { oids, rows };
    }
  }

  end(): void {
    if (!this.closed) this.socket.end(frame('X', Buffer.alloc(0)));
  }
}

/** Logs in with the bare protocol and closes; what a refused client receives. */
export async function rawLogin(port: number, user: string, database: string, password: string): Promise<RawLoginResult> {
  const c = await RawPgClient.connect(port);
  const r = await c.login(user, database, password);
  if (r.types.at(-1) === 'Z') {
    c.end();
    return r;
  }
  return { ...r, endedCleanly: await c.closedByServer() };
}
