/**
 * A raw MySQL client for hostile-input tests: builds packets byte by byte (independently of
 * protocols/mysql, which is under test), records every byte the server sends and how the
 * connection ended (FIN, RST or still open), and logs in to jitgate the way
 * caching_sha2_password full authentication goes (§ Connection Phase, § Caching_sha2_password).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

// ---- capability flags and command bytes (§ Capabilities Flags, § Text Protocol) ----
export const CAP = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  PROTOCOL_41: 1 << 9,
  SSL: 1 << 11,
  TRANSACTIONS: 1 << 13,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
} as const;

/** What the raw client announces unless told otherwise (EOF packets kept: simpler to read). */
export const CLIENT_CAPS =
  CAP.LONG_PASSWORD | CAP.LONG_FLAG | CAP.CONNECT_WITH_DB | CAP.PROTOCOL_41 | CAP.TRANSACTIONS | CAP.SECURE_CONNECTION |
  CAP.MULTI_STATEMENTS | CAP.MULTI_RESULTS | CAP.PS_MULTI_RESULTS | CAP.PLUGIN_AUTH | CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA;

export const COM = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  STATISTICS: 0x09,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
} as const;

export const SERVER_MORE_RESULTS_EXISTS = 1 << 3;
export const CACHING_SHA2 = 'caching_sha2_password';
/** Largest payload of one physical packet (§ Sending More Than 16Mb). */
export const MAX_PACKET_PAYLOAD = 0xffffff;

// ---- basic data types (§ Basic Data Types), little-endian ----
export const int1 = (v: number): Buffer => Buffer.from([v & 0xff]);
export const int2 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff);
  return b;
};
export const int3 = (v: number): Buffer => {
  const b = Buffer.alloc(3);
  b.writeUIntLE(v & 0xffffff, 0, 3);
  return b;
};
export const int4 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
export const int8 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
};
export function lenenc(n: number): Buffer {
  if (n < 0xfb) return int1(n);
  if (n < 0x10000) return Buffer.concat([int1(0xfc), int2(n)]);
  if (n < 0x1000000) return Buffer.concat([int1(0xfd), int3(n)]);
  return Buffer.concat([int1(0xfe), int8(BigInt(n))]);
}
const bytesOf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
export const lenencStr = (s: string | Buffer): Buffer => Buffer.concat([lenenc(bytesOf(s).length), bytesOf(s)]);
export const nulStr = (s: string | Buffer): Buffer => Buffer.concat([bytesOf(s), Buffer.from([0])]);

/** One physical packet: int<3> length, int<1> sequence id, payload, taken as is (any length up to 0xFFFFFF). */
export function rawPacket(seq: number, payload: Buffer, declaredLength = payload.length): Buffer {
  return Buffer.concat([int3(declaredLength), int1(seq), payload]);
}

/** A logical payload as physical packets from sequence id `seq`: 0xFFFFFF-byte pieces, then the rest (maybe empty). */
export function packet(seq: number, payload: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const n = Math.min(MAX_PACKET_PAYLOAD, payload.length - at);
    parts.push(rawPacket(seq++, payload.subarray(at, at + n)));
    at += n;
    if (n < MAX_PACKET_PAYLOAD) return Buffer.concat(parts);
  }
}

export interface HandshakeResponseOptions {
  capabilities?: number;
  maxPacketSize?: number;
  charset?: number;
  user?: string | Buffer;
  authResponse?: Buffer;
  database?: string;
  plugin?: string;
  attributes?: [string, string][];
}

/** § Protocol::HandshakeResponse41; fields follow the capability flags given. */
export function handshakeResponse41(o: HandshakeResponseOptions = {}): Buffer {
  const caps = o.capabilities ?? CLIENT_CAPS | (o.attributes ? CAP.CONNECT_ATTRS : 0);
  const auth = o.authResponse ?? Buffer.alloc(0);
  const parts = [int4(caps), int4(o.maxPacketSize ?? 0x1000000), int1(o.charset ?? 45), Buffer.alloc(23), nulStr(o.user ?? 'alice')];
  if (caps & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) parts.push(lenencStr(auth));
  else if (caps & CAP.SECURE_CONNECTION) parts.push(int1(auth.length), auth);
  else parts.push(nulStr(auth));
  if (caps & CAP.CONNECT_WITH_DB) parts.push(nulStr(o.database ?? 'shop'));
  if (caps & CAP.PLUGIN_AUTH) parts.push(nulStr(o.plugin ?? CACHING_SHA2));
  if (caps & CAP.CONNECT_ATTRS) {
    const attrs = Buffer.concat((o.attributes ?? []).flatMap(([k, v]) => [lenencStr(k), lenencStr(v)]));
    parts.push(lenencStr(attrs));
  }
  return Buffer.concat(parts);
}

/** § Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41 with CLIENT_SSL. */
export function sslRequest(capabilities = CLIENT_CAPS): Buffer {
  return Buffer.concat([int4(capabilities | CAP.SSL), int4(0x1000000), int1(45), Buffer.alloc(23)]);
}

export const command = (byte: number, ...body: Buffer[]): Buffer => Buffer.concat([int1(byte), ...body]);
export const comQuery = (sql: string | Buffer): Buffer => command(COM.QUERY, bytesOf(sql));

export interface Greeting {
  serverVersion: string;
  connectionId: number;
  /** The 20-byte scramble (auth-plugin-data without its NUL). */
  scramble: Buffer;
  capabilities: number;
  plugin: string;
}

/** § Protocol::HandshakeV10, the fields a client needs. */
export function parseHandshakeV10(p: Buffer): Greeting {
  if (p[0] !== 10) throw new Error(`not a HandshakeV10 (protocol version ${p[0]})`);
  let at = p.indexOf(0, 1);
  const serverVersion = p.toString('utf8', 1, at);
  at++;
  const connectionId = p.readUInt32LE(at);
  at += 4;
  const part1 = p.subarray(at, at + 8);
  at += 9;
  const capsLow = p.readUInt16LE(at);
  at += 2 + 1 + 2;
  const capabilities = (capsLow | (p.readUInt16LE(at) << 16)) >>> 0;
  at += 2;
  const dataLength = p[at]!;
  at += 1 + 10;
  const part2Length = Math.max(13, dataLength - 8);
  const part2 = p.subarray(at, at + part2Length - 1);
  at += part2Length;
  const end = p.indexOf(0, at);
  return { serverVersion, connectionId, scramble: Buffer.concat([part1, part2]), capabilities, plugin: p.toString('utf8', at, end < 0 ? p.length : end) };
}

export interface ErrPacket {
  errno: number;
  sqlstate: string;
  message: string;
}

/** § ERR_Packet (with the '#' SQLSTATE marker). */
export function parseErr(p: Buffer): ErrPacket {
  if (p[0] !== 0xff) throw new Error(`not an ERR_Packet (0x${(p[0] ?? 0).toString(16)})`);
  const marked = p[3] === 0x23;
  return { errno: p.readUInt16LE(1), sqlstate: marked ? p.toString('latin1', 4, 9) : 'HY000', message: p.toString('utf8', marked ? 9 : 3) };
}

export const isErr = (p: Buffer): boolean => p[0] === 0xff;
export const isOk = (p: Buffer): boolean => p[0] === 0x00 && p.length >= 7;
export const isEof = (p: Buffer): boolean => p[0] === 0xfe && p.length < 9;

/** caching_sha2_password full authentication without TLS: RSA-OAEP (SHA-1) of (token + NUL) XOR the scramble. */
export function rsaEncryptToken(publicKeyPem: string, token: string, scramble: Buffer): Buffer {
  const plain = Buffer.from(`${token}\0`, 'utf8');
  for (let i = 0; i < plain.length; i++) plain[i]! ^= scramble[i % scramble.length]!;
  return crypto.publicEncrypt({ key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
}

export interface WirePacket {
  seq: number;
  payload: Buffer;
}

export interface Resultset {
  /** Column names of the last resultset. */
  columns: string[];
  /** Rows of every resultset, text values (null for NULL). */
  rows: (string | null)[][];
  /** The OK_Packet or EOF that ended the response, or the ERR_Packet. */
  end: Buffer;
  err?: ErrPacket;
}

export class MysqlWire {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private waiters = new Set<() => void>();
  /** Bytes received in total (plaintext after a TLS upgrade). */
  received = 0;
  closed = false;
  /** The server reset the connection instead of closing it. */
  reset = false;
  greeting: Greeting | null = null;
  private socket: net.Socket | tls.TLSSocket;
  /** Connections not yet closed: a test destroys what a failed case left open. */
  static readonly open = new Set<MysqlWire>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
    MysqlWire.open.add(this);
  }

  /** Destroys every connection still open. */
  static destroyAll(): void {
    for (const w of MysqlWire.open) w.destroy();
  }

  static connect(port: number): Promise<MysqlWire> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => {
        s.off('error', reject);
        resolve(new MysqlWire(s));
      });
      s.once('error', reject);
    });
  }

  /** Connects and reads the server's HandshakeV10. */
  static async greeted(port: number): Promise<MysqlWire> {
    const w = await MysqlWire.connect(port);
    const p = await w.packet();
    if (!p || p.seq !== 0) throw new Error('no HandshakeV10 from the server');
    w.greeting = parseHandshakeV10(p.payload);
    return w;
  }

  private listen(s: net.Socket | tls.TLSSocket): void {
    s.on('data', this.onData);
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.reset = true;
    });
    s.on('close', () => {
      this.closed = true;
      MysqlWire.open.delete(this);
      this.wake();
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.pos > 0 && this.pos === this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
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
      if (left <= 0) throw new Error(`mysql wire: timed out waiting for ${what} (got ${this.received} bytes, closed=${this.closed})`);
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

  write(b: Buffer): void {
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
    const raw = this.socket instanceof tls.TLSSocket ? null : this.socket;
    if (raw?.resetAndDestroy) raw.resetAndDestroy();
    else this.socket.destroy();
  }

  /** The next physical packet, or null once the server closed. */
  async packet(timeoutMs = 5000): Promise<WirePacket | null> {
    const complete = () => this.buf.length - this.pos >= 4 && this.buf.length - this.pos >= 4 + this.buf.readUIntLE(this.pos, 3);
    await this.until(() => complete() || this.closed, timeoutMs, 'a packet');
    if (!complete()) return null;
    const len = this.buf.readUIntLE(this.pos, 3);
    const p = { seq: this.buf[this.pos + 3]!, payload: Buffer.from(this.buf.subarray(this.pos + 4, this.pos + 4 + len)) };
    this.pos += 4 + len;
    return p;
  }

  /** The next packet, which must exist. */
  async must(timeoutMs = 5000): Promise<WirePacket> {
    const p = await this.packet(timeoutMs);
    if (!p) throw new Error(`mysql wire: the server closed the connection (after ${this.received} bytes)`);
    return p;
  }

  /** Waits for the server to close; true when orderly (FIN), false on a reset. */
  async closedByServer(timeoutMs = 5000): Promise<boolean> {
    await this.until(() => this.closed, timeoutMs, 'the server to close');
    return !this.reset;
  }

  /** Waits until the server has sent nothing for `quietMs` (or closed), at most `maxMs`. */
  async settle(quietMs: number, maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let seen = -1;
    while (!this.closed && seen !== this.received && Date.now() < deadline) {
      seen = this.received;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  }

  /** True when the connection is still open after `ms`. */
  async staysOpen(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.closed;
  }

  /** TLS client handshake over this connection (after an SSLRequest); certificate not checked. */
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
      MysqlWire.open.delete(this);
      this.wake();
    });
  }

  /**
   * Logs in as jitgate expects: HandshakeResponse41 (after SSLRequest + TLS when `tls`), then
   * answers "perform full authentication" with the token in clear over TLS, or RSA-encrypted
   * with jitgate's key (asked for with 0x02 unless `publicKeyPem` is given). Returns the packet
   * that ended the login (OK_Packet or ERR_Packet), or null when the server closed without one.
   */
  async login(
    user: string,
    database: string,
    token: string,
    o: { tls?: boolean; publicKeyPem?: string; response?: Partial<HandshakeResponseOptions> } = {},
  ): Promise<{ last: Buffer | null; publicKeyPem?: string }> {
    const g = this.greeting ?? parseHandshakeV10((await this.must()).payload);
    this.greeting = g;
    let seq = 1;
    if (o.tls) {
      this.write(packet(seq++, sslRequest()));
      await this.startTls();
    }
    this.write(packet(seq++, handshakeResponse41({ user, database, ...o.response, ...(o.tls ? { capabilities: (o.response?.capabilities ?? CLIENT_CAPS) | CAP.SSL } : {}) })));
    let p = await this.packet(15_000);
    if (!p || p.payload[0] !== 0x01) return { last: p?.payload ?? null };
    if (p.payload[1] !== 0x04) throw new Error(`expected "perform full authentication", got AuthMoreData 0x${p.payload[1]?.toString(16)}`);
    seq = p.seq + 1;
    let pem = o.publicKeyPem;
    if (o.tls) this.write(packet(seq, nulStr(token)));
    else {
      if (!pem) {
        this.write(packet(seq, int1(0x02)));
        p = await this.must();
        pem = p.payload.toString('latin1', 1);
        seq = p.seq + 1;
      }
      this.write(packet(seq, rsaEncryptToken(pem, token, g.scramble)));
    }
    p = await this.packet(15_000);
    return { last: p?.payload ?? null, publicKeyPem: pem };
  }

  /** Sends one command (sequence id 0) and reads its text-protocol response. */
  async query(sql: string | Buffer, timeoutMs = 10_000): Promise<Resultset> {
    this.write(packet(0, comQuery(sql)));
    return this.response(timeoutMs);
  }

  /** Reads one whole text-protocol response (every resultset of a multi-result). */
  async response(timeoutMs = 10_000): Promise<Resultset> {
    const out: Resultset = { columns: [], rows: [], end: Buffer.alloc(0) };
    for (;;) {
      const first = (await this.must(timeoutMs)).payload;
      if (isErr(first)) return { ...out, end: first, err: parseErr(first) };
      let status: number;
      if (isOk(first)) {
        status = okStatus(first);
        out.end = first;
      } else {
        const n = readLenenc(first, 0).value;
        out.columns = [];
        for (let i = 0; i < n; i++) out.columns.push(columnName((await this.must(timeoutMs)).payload));
        const eof = (await this.must(timeoutMs)).payload;
        if (!isEof(eof)) throw new Error('expected EOF after the column definitions');
        for (;;) {
          const row = (await this.must(timeoutMs)).payload;
          if (isErr(row)) return { ...out, end: row, err: parseErr(row) };
          if (isEof(row)) {
            status = row.readUInt16LE(3);
            out.end = row;
            break;
          }
          out.rows.push(textRow(row, n));
        }
      }
      if (!(status & SERVER_MORE_RESULTS_EXISTS)) return out;
    }
  }
}

/** int<lenenc> at `at`; value null for 0xFB. */
export function readLenenc(p: Buffer, at: number): { value: number; next: number } {
  const f = p[at]!;
  if (f < 0xfb) return { value: f, next: at + 1 };
  if (f === 0xfb) return { value: -1, next: at + 1 };
  if (f === 0xfc) return { value: p.readUInt16LE(at + 1), next: at + 3 };
  if (f === 0xfd) return { value: p.readUIntLE(at + 1, 3), next: at + 4 };
  return { value: Number(p.readBigUInt64LE(at + 1)), next: at + 9 };
}

function okStatus(p: Buffer): number {
  const rows = readLenenc(p, 1);
  const id = readLenenc(p, rows.next);
  return p.readUInt16LE(id.next);
}

/** The 5th string<lenenc> of a ColumnDefinition41 (name). */
function columnName(p: Buffer): string {
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const l = readLenenc(p, at);
    at = l.next + l.value;
  }
  const l = readLenenc(p, at);
  return p.toString('utf8', l.next, l.next + l.value);
}

function textRow(p: Buffer, n: number): (string | null)[] {
  const out: (string | null)[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const l = readLenenc(p, at);
    if (l.value < 0) {
      out.push(null);
      at = l.next;
    } else {
      out.push(p.toString('utf8', l.next, l.next + l.value));
      at = l.next + l.value;
    }
  }
  return out;
}
