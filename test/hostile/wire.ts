/**
 * A raw TCP (or TLS) client for hostile-input tests: writes crafted bytes, records every
 * byte the server sends and how the connection ended (FIN, RST or still open).
 */
import net from 'node:net';
import tls from 'node:tls';

export const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0);
  return b;
};
export const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
export const cstr = (s: string | Buffer): Buffer => Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'utf8') : s, Buffer.from([0])]);

/** Typed message: type byte, Int32 length counting itself, body. */
export function typed(type: string | number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([Buffer.from([t]), i32(b.length + 4), b]);
}

/** Untyped startup-phase message: Int32 length counting itself, body. */
export function untyped(...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([i32(b.length + 4), b]);
}

export const SSL_REQUEST = untyped(i32(80877103));
export const GSSENC_REQUEST = untyped(i32(80877104));
export const version = (major: number, minor: number): number => ((major << 16) | minor) >>> 0;

/** StartupMessage with `params` in order (protocol 3.0 unless `ver` says otherwise). */
export function startup(params: [string, string][] | Record<string, string>, ver = version(3, 0)): Buffer {
  const list = Array.isArray(params) ? params : Object.entries(params);
  return untyped(u32(ver), ...list.flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0]));
}
export const password = (p: string | Buffer): Buffer => typed('p', cstr(p));
export const query = (sql: string): Buffer => typed('Q', cstr(sql));
export const TERMINATE = typed('X');
export const SYNC = typed('S');

export interface WireMessage {
  type: string;
  body: Buffer;
}

export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    out[String.fromCharCode(body[i]!)] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}

export class Wire {
  private buf = Buffer.alloc(0);
  private pos = 0;
  private waiters = new Set<() => void>();
  /** Every byte received, in order (plaintext after a TLS upgrade). */
  received = 0;
  closed = false;
  /** The server reset the connection instead of closing it. */
  reset = false;
  private socket: net.Socket | tls.TLSSocket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  static connect(port: number): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
        s.off('error', reject);
        resolve(new Wire(s));
      });
      s.once('error', reject);
    });
  }

  private listen(s: net.Socket): void {
    s.on('data', this.onData);
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.reset = true;
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = Buffer.concat([this.buf, chunk]);
    this.received += chunk.length;
    this.wake();
  };

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private async until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`wire: timed out waiting for ${what} (got ${this.received} bytes, closed=${this.closed})`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  /** Unread bytes. */
  get pending(): Buffer {
    return this.buf.subarray(this.pos);
  }

  write(b: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** Half-close: FIN our side, keep reading. */
  end(b?: Buffer): void {
    if (b) this.socket.end(b);
    else this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resets the connection (RST) instead of closing it. */
  resetConnection(): void {
    (this.socket as net.Socket).resetAndDestroy?.() ?? this.socket.destroy();
  }

  /** One single-byte answer (SSLRequest/GSSENCRequest: 'S' or 'N'), or an 'E' when the server refused. */
  async byte(timeoutMs = 5000): Promise<string> {
    await this.until(() => this.buf.length > this.pos || this.closed, timeoutMs, 'a byte');
    if (this.buf.length <= this.pos) return '';
    return String.fromCharCode(this.buf[this.pos++]!);
  }

  /** The next typed message, or null once the server closed. */
  async message(timeoutMs = 5000): Promise<WireMessage | null> {
    const complete = () => this.buf.length - this.pos >= 5 && this.buf.length - this.pos >= 1 + this.buf.readInt32BE(this.pos + 1);
    await this.until(() => complete() || this.closed, timeoutMs, 'a message');
    if (!complete()) return null;
    const len = this.buf.readInt32BE(this.pos + 1);
    const m = { type: String.fromCharCode(this.buf[this.pos]!), body: Buffer.from(this.buf.subarray(this.pos + 5, this.pos + 1 + len)) };
    this.pos += 1 + len;
    return m;
  }

  /** Messages up to and including one of `types` (or up to the close). */
  async messagesUntil(types: string, timeoutMs = 5000): Promise<WireMessage[]> {
    const out: WireMessage[] = [];
    for (;;) {
      const m = await this.message(timeoutMs);
      if (!m) return out;
      out.push(m);
      if (types.includes(m.type)) return out;
    }
  }

  /** Waits for the server to close; true when orderly (FIN), false on a reset. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    await this.until(() => this.closed, timeoutMs, 'the server to close');
    return !this.reset;
  }

  /** True when the connection is still open after `ms`. */
  async staysOpen(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.closed;
  }

  /** TLS client handshake over this connection (after an 'S'); certificate not checked. */
  async startTls(): Promise<void> {
    const raw = this.socket as net.Socket;
    raw.off('data', this.onData);
    this.buf = this.buf.subarray(this.pos);
    this.pos = 0;
    const t = tls.connect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    this.socket = t;
    t.on('data', this.onData);
    t.on('error', () => undefined);
    t.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /** Startup + password; returns what came back up to ReadyForQuery or an error. */
  async login(user: string, database: string, token: string, extra: [string, string][] = []): Promise<WireMessage[]> {
    this.write(startup([['user', user], ['database', database], ...extra]));
    const first = await this.messagesUntil('RE');
    const last = first.at(-1);
    if (!last || last.type === 'E') return first;
    this.write(password(token));
    return [...first, ...(await this.messagesUntil('ZE', 15_000))];
  }

  /** A simple query; the messages up to ReadyForQuery (or the close). */
  async query(sql: string): Promise<WireMessage[]> {
    this.write(query(sql));
    return this.messagesUntil('Z', 10_000);
  }
}

/** The SQLSTATE of the first ErrorResponse in `ms`. */
export function firstError(ms: WireMessage[]): Record<string, string> | undefined {
  const e = ms.find((m) => m.type === 'E');
  return e ? errorFields(e.body) : undefined;
}
