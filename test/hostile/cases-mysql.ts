/**
 * The MySQL catalogue of bad inputs: one row per case, each with the exact outcome it expects
 * (an ERR_Packet with a given error number, or a close where nothing the server could say
 * would be understood). Error numbers: 1045 bad token or user, 1047 protocol violation,
 * 1235 not supported (src/engines/mysql/errors.ts).
 */
import assert from 'node:assert/strict';
import { generateKeyPair as generateRsaKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { generateKeyPair, SignJWT } from 'jose';
import { loadSigningKey } from '../../src/auth/keys.js';
import { signClaims, waitFor } from '../helpers/e2e.js';
import { startTestProxy } from '../helpers/proxy.js';
import { PG_TARGET, TARGET, type MysqlBench } from './harness-mysql.js';
import {
  CACHING_SHA2,
  CAP,
  CLIENT_CAPS,
  COM,
  MAX_PACKET_PAYLOAD,
  MysqlWire,
  command,
  comQuery,
  handshakeResponse41,
  int1,
  int4,
  isErr,
  isOk,
  lenenc,
  nulStr,
  packet,
  parseErr,
  rawPacket,
  rsaEncryptToken,
  sslRequest,
  type ErrPacket,
  type HandshakeResponseOptions,
} from './mysql-wire.js';

export interface MysqlCase {
  name: string;
  run(b: MysqlBench): Promise<void>;
  /** Live sessions once the case is over (default: just the healthy one). */
  live?: number;
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const newSub = (): string => `h${randomBytes(3).toString('hex')}`;

/** The next packet is an ERR_Packet `errno` (with sequence id `seq` when given); then the server closes with a FIN. */
async function expectErr(w: MysqlWire, errno: number, why?: RegExp, o: { seq?: number; timeoutMs?: number } = {}): Promise<ErrPacket> {
  const p = await w.packet(o.timeoutMs ?? 5000);
  assert.ok(p, `expected an ERR_Packet ${errno}, the server closed without one`);
  assert.ok(isErr(p.payload), `expected an ERR_Packet ${errno}, got a packet starting 0x${p.payload[0]?.toString(16)}`);
  const e = parseErr(p.payload);
  assert.equal(e.errno, errno, `errno ${e.errno}: ${e.message}`);
  if (why) assert.match(e.message, why);
  if (o.seq !== undefined) assert.equal(p.seq, o.seq, 'sequence id of the ERR_Packet');
  assert.equal(await w.closedByServer(), true, 'closed with a FIN after the error');
  w.destroy();
  return e;
}

/** The server closes without another packet (a TLS alert may come first: it is not a MySQL packet). */
async function expectClose(w: MysqlWire, timeoutMs = 5000): Promise<void> {
  const before = w.pending.length;
  await w.closedByServer(timeoutMs);
  const rest = w.pending;
  assert.ok(rest.length === before || rest[before] === 0x15, `no MySQL packet expected before the close, got ${rest.subarray(before, before + 16).toString('hex')}`);
  w.destroy();
}

/** After the greeting, `bytes` (built from the greeting when a function) → ERR_Packet `errno`. */
function refusal(name: string, bytes: Buffer | ((w: MysqlWire) => Buffer), errno: number, why: RegExp, seq?: number): MysqlCase {
  return {
    name,
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(typeof bytes === 'function' ? bytes(w) : bytes);
      await expectErr(w, errno, why, { seq });
    },
  };
}

/** A HandshakeResponse41 (sequence id 1) with `o` → ERR_Packet `errno` with sequence id 2. */
const responseRefusal = (name: string, o: HandshakeResponseOptions, errno: number, why: RegExp): MysqlCase =>
  refusal(name, packet(1, handshakeResponse41(o)), errno, why, 2);

/** A logged-in raw session for `sub` (RSA key exchange unless `tls`). */
async function loggedIn(b: MysqlBench, sub = newSub(), tls = false): Promise<MysqlWire> {
  const w = await MysqlWire.greeted(b.port);
  const { last } = await w.login(sub, TARGET, await b.token(sub), { tls, publicKeyPem: b.publicKeyPem });
  assert.ok(last && isOk(last), `login failed: ${last && isErr(last) ? parseErr(last).message : 'closed'}`);
  return w;
}

/** The session answers a query, then ends on COM_QUIT. */
async function stillAnswers(w: MysqlWire): Promise<void> {
  const r = await w.query('select 2 as two');
  assert.equal(r.err, undefined, r.err?.message);
  assert.deepEqual(r.rows, [['2']]);
  w.write(packet(0, int1(COM.QUIT)));
  await w.closedByServer();
}

/** Logs in with `token` (for `sub`, to `database`) and expects ERR_Packet `errno` (1045 unless said otherwise). */
function tokenRefusal(
  name: string,
  make: (b: MysqlBench) => Promise<string>,
  why: RegExp,
  o: { errno?: number; sub?: string; database?: string; tls?: boolean } = {},
): MysqlCase {
  return {
    name,
    async run(b) {
      const t = b.ledger.add('hostile token', await make(b));
      const w = await MysqlWire.greeted(b.port);
      const { last } = await w.login(o.sub ?? 'alice', o.database ?? TARGET, t, { tls: o.tls });
      assert.ok(last && isErr(last), `expected an ERR_Packet, got ${last ? `0x${last[0]!.toString(16)}` : 'a close'}`);
      const e = parseErr(last);
      assert.equal(e.errno, o.errno ?? 1045, `errno ${e.errno}: ${e.message}`);
      assert.match(e.message, why);
      if (t.length >= 8) assert.ok(!e.message.includes(t.slice(0, 24)), 'the message does not echo the token');
      assert.equal(await w.closedByServer(), true);
      w.destroy();
    },
  };
}

/** Logs in, sends `bytes`, expects ERR_Packet `errno` answering it (sequence id 1), then the session still answers. */
function recoverable(name: string, bytes: Buffer, errno: number, why: RegExp): MysqlCase {
  return {
    name,
    async run(b) {
      const w = await loggedIn(b);
      w.write(bytes);
      const p = await w.must(10_000);
      assert.ok(isErr(p.payload), `expected an ERR_Packet, got 0x${p.payload[0]?.toString(16)}`);
      const e = parseErr(p.payload);
      assert.equal(e.errno, errno, e.message);
      assert.match(e.message, why);
      assert.equal(p.seq, 1, 'the ERR_Packet answers the command');
      await stillAnswers(w);
    },
  };
}

/** Logs in, sends `bytes`, expects the session to end with ERR_Packet `errno`, and its user dropped. */
function fatal(name: string, bytes: Buffer, errno: number, why: RegExp, seq?: number): MysqlCase {
  return {
    name,
    async run(b) {
      const w = await loggedIn(b);
      w.write(bytes);
      await expectErr(w, errno, why, { seq, timeoutMs: 10_000 });
      assert.deepEqual(await b.usersLeft(), [], 'the session user is dropped');
    },
  };
}

/** The HandshakeResponse41 payload cut to `n` bytes, framed with a consistent length. */
const truncatedResponse = (n: number): Buffer => packet(1, handshakeResponse41({ user: 'alice', authResponse: randomBytes(20) }).subarray(0, n));

const http = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n');
/** The first bytes of a TLS ClientHello record (what a client sends when it starts TLS without asking). */
const clientHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), randomBytes(32), Buffer.from([0x20]), randomBytes(32)]);
/** A PostgreSQL StartupMessage: psql pointed at the MySQL port. */
const pgStartup = (() => {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), nulStr('user'), nulStr('alice'), nulStr('database'), nulStr('shop'), Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
})();

/** A SELECT whose COM_QUERY payload is exactly 0xFFFFFF bytes: it travels as a full packet and an empty one. */
const SIXTEEN_MB_FILL = MAX_PACKET_PAYLOAD - 1 - "SELECT LENGTH('')".length;

export const mysqlCases: MysqlCase[] = [
  // ---- instead of a HandshakeResponse41 ----
  refusal('HTTP GET instead of HandshakeResponse41', http, 1047, /exceeds the limit/, 1),
  refusal('HTTP/2 connection preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 1047, /exceeds the limit/, 1),
  refusal('TLS ClientHello without SSLRequest', clientHello, 1047, /exceeds the limit/, 1),
  refusal('SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), 1047, /exceeds the limit/, 1),
  refusal('PostgreSQL StartupMessage (psql on the MySQL port)', pgStartup, 1047, /out of order/, 1),
  refusal('garbage in a well-formed packet', rawPacket(1, Buffer.from('8f3a91c2d4', 'hex')), 1047, /bad handshake/, 2),
  refusal('empty packet', rawPacket(1, Buffer.alloc(0)), 1047, /bad handshake/, 2),
  refusal('HandshakeResponse41 with sequence id 0', packet(0, handshakeResponse41()), 1047, /out of order/, 1),
  refusal('HandshakeResponse41 with sequence id 2', packet(2, handshakeResponse41()), 1047, /out of order/, 1),
  refusal('16 MB length prefix before auth: refused at once (limits.maxStartupMessage)', Buffer.from([0xff, 0xff, 0xff, 0x01, 0x85, 0xa6]), 1047, /exceeds the limit/, 1),
  refusal('length one past limits.maxStartupMessage', Buffer.concat([rawPacket(1, Buffer.alloc(0), 10_001), Buffer.alloc(64)]), 1047, /exceeds the limit/, 1),
  responseRefusal('without CLIENT_PROTOCOL_41', { capabilities: CLIENT_CAPS & ~CAP.PROTOCOL_41 }, 1047, /protocol 4\.1/),
  responseRefusal('without CLIENT_PLUGIN_AUTH', { capabilities: CLIENT_CAPS & ~CAP.PLUGIN_AUTH }, 1235, /authentication plugins/),
  responseRefusal('without a database (no CLIENT_CONNECT_WITH_DB)', { capabilities: CLIENT_CAPS & ~CAP.CONNECT_WITH_DB }, 1045, /no database given/),
  responseRefusal('with an empty database name', { database: '' }, 1045, /no database given/),
  responseRefusal('without a user (empty user name)', { user: '' }, 1045, /no user name/),
  responseRefusal('CLIENT_SSL announced but TLS never started', { capabilities: CLIENT_CAPS | CAP.SSL }, 1047, /did not start/),
  ...[
    [6, 'the maximum packet size'],
    [10, 'the capability flags'],
    [32, 'the reserved bytes'],
    [34, 'the user name (no NUL)'],
    [40, 'the auth response'],
  ].map(([n, where]) => refusal(`truncated HandshakeResponse41: ends in ${where}`, truncatedResponse(n as number), 1047, /bad handshake/, 2)),
  refusal(
    'auth response with an 8-byte length of 2^60',
    packet(1, Buffer.concat([handshakeResponse41({ authResponse: Buffer.alloc(0) }).subarray(0, 38), Buffer.from([0xfe]), Buffer.from('0000000000000010', 'hex'), nulStr('shop')])),
    1047,
    /bad handshake/,
    2,
  ),
  refusal('connect attributes longer than the packet', packet(1, Buffer.concat([handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.CONNECT_ATTRS, attributes: [] }).subarray(0, -1), lenenc(5000), Buffer.from('\x03abc')])), 1047, /bad handshake/, 2),

  // ---- the connection itself ----
  {
    name: 'connect and close at once (health check): the greeting, then a close',
    async run(b) {
      const w = await MysqlWire.connect(b.port);
      w.end();
      await w.closedByServer();
      const p = await w.packet();
      assert.equal(p?.seq, 0);
      assert.equal(p?.payload[0], 10, 'HandshakeV10');
      assert.equal(w.pending.length, 0, 'nothing but the greeting');
      w.destroy();
    },
  },
  {
    name: 'connect and reset (RST) halfway through HandshakeResponse41',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41()).subarray(0, 20));
      await sleep(50);
      w.resetConnection();
    },
  },
  {
    name: 'half-open: greeted, then silent → handshake timeout',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      await expectErr(w, 1047, /timed out waiting for login/, { seq: 1, timeoutMs: 10_000 });
    },
  },
  {
    name: 'half-open: half a HandshakeResponse41, then silence → handshake timeout',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41()).subarray(0, 30));
      await expectErr(w, 1047, /timed out waiting for login/, { seq: 1, timeoutMs: 10_000 });
    },
  },
  {
    name: 'half-open: HandshakeResponse41, then FIN without the token → AuthMoreData, then a close',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.end(packet(1, handshakeResponse41()));
      const p = await w.must();
      assert.deepEqual([p.seq, ...p.payload], [2, 0x01, 0x04], 'perform full authentication');
      await expectClose(w);
    },
  },
  {
    name: 'slow client: one byte a second → handshake timeout before the packet is complete',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      const bytes = packet(1, handshakeResponse41());
      let i = 0;
      const drip = setInterval(() => (i < bytes.length && !w.closed ? w.write(bytes.subarray(i, ++i)) : clearInterval(drip)), 1000);
      try {
        await expectErr(w, 1047, /timed out waiting for login/, { seq: 1, timeoutMs: 10_000 });
        assert.ok(i < bytes.length);
      } finally {
        clearInterval(drip);
      }
    },
  },
  {
    name: 'slow client: the token never sent → handshake timeout',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41()));
      assert.deepEqual((await w.must()).payload, Buffer.from([0x01, 0x04]));
      w.write(Buffer.from([0x40]));
      await expectErr(w, 1047, /timed out waiting for login/, { seq: 3, timeoutMs: 10_000 });
    },
  },

  // ---- TLS ----
  {
    name: 'SSLRequest, TLS, token in clear over TLS: logs in',
    async run(b) {
      await stillAnswers(await loggedIn(b, 'tlsuser', true));
    },
  },
  {
    name: 'SSLRequest twice (the second instead of a ClientHello) → close',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(Buffer.concat([packet(1, sslRequest()), packet(2, sslRequest())]));
      await expectClose(w);
    },
  },
  {
    name: 'SSLRequest, a pause, SSLRequest again → close',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await sleep(100);
      w.write(packet(2, sslRequest()));
      await expectClose(w);
    },
  },
  {
    name: 'SSLRequest again inside TLS → 1047',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      w.write(packet(2, sslRequest()));
      await expectErr(w, 1047, /bad handshake/, { seq: 3 });
    },
  },
  {
    name: 'SSLRequest, then HTTP instead of a ClientHello → close',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(Buffer.concat([packet(1, sslRequest()), http]));
      await expectClose(w);
    },
  },
  {
    name: 'SSLRequest, then silence during the TLS handshake → closed by the handshake timeout',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await expectClose(w, 10_000);
    },
  },

  // ---- authentication exchange ----
  {
    name: 'mysql_native_password client: AuthSwitchRequest to caching_sha2_password, then logs in over TLS',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      w.write(packet(2, handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.SSL, user: 'native', plugin: 'mysql_native_password', authResponse: randomBytes(20) })));
      const sw = await w.must();
      assert.equal(sw.payload[0], 0xfe, 'AuthSwitchRequest');
      assert.equal(sw.payload.toString('latin1', 1, sw.payload.indexOf(0, 1)), CACHING_SHA2);
      w.write(packet(sw.seq + 1, randomBytes(32)));
      const more = await w.must();
      assert.deepEqual(more.payload, Buffer.from([0x01, 0x04]));
      w.write(packet(more.seq + 1, nulStr(await b.token('native'))));
      assert.ok(isOk((await w.must(15_000)).payload));
      await stillAnswers(w);
    },
  },
  {
    name: 'mysql_clear_password over TLS: logs in',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      w.write(packet(2, handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.SSL, user: 'clear', plugin: 'mysql_clear_password', authResponse: nulStr(await b.token('clear')) })));
      const p = await w.must(15_000);
      assert.ok(isOk(p.payload), isErr(p.payload) ? parseErr(p.payload).message : 'not OK');
      await stillAnswers(w);
    },
  },
  {
    name: 'token in clear WITHOUT TLS (mysql_clear_password in HandshakeResponse41) → 1045, not accepted',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41({ user: 'plain', plugin: 'mysql_clear_password', authResponse: nulStr(await b.token('plain')) })));
      await expectErr(w, 1045, /TLS/, { seq: 2, timeoutMs: 10_000 });
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'token in clear WITHOUT TLS (answering "perform full authentication") → 1045',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41({ user: 'plain2' })));
      assert.deepEqual((await w.must()).payload, Buffer.from([0x01, 0x04]));
      w.write(packet(3, nulStr(await b.token('plain2'))));
      await expectErr(w, 1045, /must be sent over TLS or encrypted/, { seq: 4 });
    },
  },
  {
    name: 'garbage instead of the RSA-encrypted token (after the public key) → 1045',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41()));
      await w.must();
      w.write(packet(3, int1(0x02)));
      const key = await w.must();
      assert.match(key.payload.toString('latin1', 1), /^-----BEGIN PUBLIC KEY-----/);
      w.write(packet(5, randomBytes(512)));
      await expectErr(w, 1045, /must be sent over TLS or encrypted/, { seq: 6 });
    },
  },
  {
    name: 'the token RSA-encrypted with a stranger key → 1045',
    async run(b) {
      // 4096 bits, as jitgate's: a token of ~400 bytes fits RSA-OAEP.
      const { publicKey } = await promisify(generateRsaKeyPair)('rsa', { modulusLength: 4096 });
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41({ user: 'stranger' })));
      await w.must();
      w.write(packet(3, rsaEncryptToken(publicKey.export({ type: 'spki', format: 'pem' }).toString(), await b.token('stranger'), w.greeting!.scramble)));
      await expectErr(w, 1045, /must be sent over TLS or encrypted/, { seq: 4 });
    },
  },
  {
    name: 'auth loop: every AuthMoreData answered with a public key request → 1045 after one key',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41()));
      let keys = 0;
      for (let i = 0; i < 10; i++) {
        const p = await w.packet();
        if (!p || p.payload[0] !== 0x01) {
          assert.ok(p && isErr(p.payload), 'an ERR_Packet ends the loop');
          assert.equal(parseErr(p.payload).errno, 1045);
          break;
        }
        if (p.payload.length > 2) keys++;
        w.write(packet(p.seq + 1, int1(0x02)));
      }
      assert.equal(keys, 1, 'the public key is sent once');
      assert.equal(await w.closedByServer(), true);
    },
  },
  {
    name: 'the first RSA key takes longer than the handshake timeout: the login asking for it does not stay pending',
    async run(b) {
      // A proxy of its own: its key is made on first use, while this login waits for it.
      const tp = await startTestProxy(b.up, {
        targetName: TARGET,
        extra: { listen: { mysql: '127.0.0.1:0' }, limits: { handshakeTimeout: '100ms' } },
      });
      try {
        const w = await MysqlWire.greeted(tp.proxy.addresses.mysql!.port);
        // HandshakeResponse41 and the key request in one write: the proxy is waiting for its key within a few ms.
        w.write(Buffer.concat([packet(1, handshakeResponse41()), packet(3, int1(0x02))]));
        await w.closedByServer(10_000);
        w.destroy();
        const settled = await waitFor(() => tp.proxy.registry.pending === 0, 15_000);
        assert.ok(settled, `pending logins: ${tp.proxy.registry.pending}`);
      } finally {
        await tp.stop();
      }
    },
  },
  {
    name: 'the token packet with a 16 MB length prefix → 1047 at once',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      w.write(packet(2, handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.SSL })));
      await w.must();
      w.write(Buffer.from([0xff, 0xff, 0xff, 0x04, 0x65, 0x79]));
      await expectErr(w, 1047, /exceeds the limit/, { seq: 4 });
    },
  },
  {
    name: 'the token packet with a wrong sequence id → 1047',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41({ user: 'seq' })));
      await w.must();
      w.write(packet(7, int1(0x02)));
      await expectErr(w, 1047, /out of order/, { seq: 3 });
    },
  },
  {
    name: 'garbage pipelined behind a valid token → 1047, no user left',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      w.write(packet(2, handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.SSL, user: 'pipe1' })));
      await w.must();
      w.write(Buffer.concat([packet(4, nulStr(await b.token('pipe1'))), Buffer.from([0xff, 0xff, 0xff, 0x00, 0x03])]));
      await expectErr(w, 1047, /invalid packet after the password/, { seq: 5, timeoutMs: 10_000 });
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'HandshakeResponse41, token and a query in one write (TLS) → answered',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, sslRequest()));
      await w.startTls();
      const token = await b.token('pipe2');
      w.write(Buffer.concat([packet(2, handshakeResponse41({ capabilities: CLIENT_CAPS | CAP.SSL, user: 'pipe2' })), packet(4, nulStr(token)), packet(0, comQuery('select 42'))]));
      assert.deepEqual((await w.must()).payload, Buffer.from([0x01, 0x04]));
      assert.ok(isOk((await w.must(15_000)).payload), 'login completed');
      const r = await w.response();
      assert.deepEqual(r.rows, [['42']]);
      await stillAnswers(w);
    },
  },
  {
    name: 'client closes right after sending its token → no user left',
    async run(b) {
      const w = await MysqlWire.greeted(b.port);
      w.write(packet(1, handshakeResponse41({ user: 'gone' })));
      await w.must();
      w.end(packet(3, rsaEncryptToken(b.publicKeyPem, await b.token('gone'), w.greeting!.scramble)));
      await w.closedByServer(10_000).catch(() => undefined);
      w.destroy();
      assert.deepEqual(await b.usersLeft([b.healthyUser], 8000), []);
    },
  },

  // ---- tokens ----
  tokenRefusal('a PostgreSQL-target token (aud = the PostgreSQL target) → wrong audience', (b) => b.token('alice', { target: PG_TARGET }), /audience does not match database "shop"/),
  tokenRefusal(
    'a PostgreSQL-target token naming the PostgreSQL target as database → 1045 before anything is provisioned',
    (b) => b.token('alice', { target: PG_TARGET }),
    /not a MySQL target|postgres/i,
    { database: PG_TARGET },
  ),
  tokenRefusal('expired', (b) => signClaims(b.tp.config, { sub: 'alice', aud: TARGET, role: 'reader', iat: Math.floor(Date.now() / 1000) - 300, exp: Math.floor(Date.now() / 1000) - 120 }), /expired/),
  tokenRefusal(
    'alg none',
    async (b) => {
      const now = Math.floor(Date.now() / 1000);
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: b.tp.config.auth.issuer, sub: 'alice', aud: TARGET, role: 'reader', iat: now, exp: now + 60 })}.`;
    },
    /algorithm not allowed/,
  ),
  tokenRefusal(
    'the trusted kid, signed by a stranger key',
    async (b) => {
      const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: TARGET, iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'EdDSA', kid: k.kid }).sign(privateKey);
    },
    /bad token signature/,
  ),
  tokenRefusal('role not in the target', (b) => signClaims(b.tp.config, { sub: 'alice', aud: TARGET, role: 'superuser' }), /is not a profile/, { tls: true }),
  tokenRefusal('a user that is not the token sub', (b) => b.token('bob'), /does not match the token subject/),
  tokenRefusal('an empty token over TLS', async () => '', /no token given/, { tls: true }),
  tokenRefusal('a 50 KB token over TLS', async () => `${'a'.repeat(25_000)}.${'b'.repeat(25_000)}.c`, /token too large/, { tls: true }),
  tokenRefusal('a 100 KB token over TLS (over limits.maxMessageBeforeAuth)', async () => `${'a'.repeat(51_200)}.${'b'.repeat(51_200)}.c`, /exceeds the limit/, { tls: true, errno: 1047 }),
  {
    name: 'a sub with backticks, quotes and a semicolon: logs in as a jit_ user, no injection',
    async run(b) {
      const sub = "a`; DROP USER root; -- ' \" \\";
      const w = await MysqlWire.greeted(b.port);
      const { last } = await w.login(sub, TARGET, b.ledger.add('token', await signClaims(b.tp.config, { sub, aud: TARGET, role: 'reader' })), { tls: true });
      assert.ok(last && isOk(last), last && isErr(last) ? parseErr(last).message : 'closed');
      const r = await w.query('select current_user()');
      assert.match(r.rows[0]![0]!, /^jit_[0-9a-f]{8}_[a-z2-7]{12}@%$/);
      await stillAnswers(w);
      assert.equal((await b.up.query(`select 1 from mysql.user where User = 'root'`)).length > 0, true);
    },
  },

  // ---- after login ----
  recoverable('COM_CHANGE_USER → 1235, the session goes on', packet(0, command(COM.CHANGE_USER, nulStr('root'), int1(0), nulStr('mysql'))), 1235, /COM_CHANGE_USER is not supported/),
  recoverable('COM_BINLOG_DUMP → 1235, the session goes on', packet(0, command(COM.BINLOG_DUMP, int4(4), Buffer.from([0, 0]), int4(1), Buffer.from('binlog.000001'))), 1235, /replication is not supported/),
  recoverable('COM_REGISTER_SLAVE → 1235, the session goes on', packet(0, command(COM.REGISTER_SLAVE, int4(7), int1(0), int1(0), int1(0), Buffer.from([0, 0]), int4(0), int4(0))), 1235, /replication is not supported/),
  recoverable('unknown command byte 0x99 → 1047, the session goes on', packet(0, command(0x99, Buffer.from('hello'))), 1047, /unknown command 0x99/),
  recoverable('COM_SLEEP (0x00, server-internal) → 1047, the session goes on', packet(0, command(0x00)), 1047, /unknown command 0x0/),
  fatal('malformed COM_STMT_EXECUTE (truncated statement id) → the session ends with 1047', packet(0, command(COM.STMT_EXECUTE, Buffer.from([1, 0]))), 1047, /malformed COM_STMT_\w+ from the client/),
  fatal('malformed COM_STMT_FETCH (no statement id) → the session ends with 1047', packet(0, command(COM.STMT_FETCH, Buffer.from([1]))), 1047, /malformed COM_STMT_\w+ from the client/),
  fatal('malformed COM_STMT_CLOSE (no statement id) → the session ends with 1047', packet(0, command(COM.STMT_CLOSE)), 1047, /malformed COM_STMT_\w+ from the client/),
  fatal('the ERR_Packet ending the session on a malformed command answers it (sequence id 1)', packet(0, command(COM.STMT_EXECUTE)), 1047, /malformed COM_STMT_EXECUTE from the client/, 1),
  {
    name: 'an empty command packet, then a query: the query is still masked',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([rawPacket(0, Buffer.alloc(0)), packet(0, comQuery('select ssn from customers order by id'))]));
      const first = await w.response().catch(() => null);
      const second = first && !w.closed ? await w.response().catch(() => null) : null;
      const values = [...(first?.rows ?? []), ...(second?.rows ?? [])].flat();
      assert.ok(values.every((v) => v === null || /^\*+$/.test(v)), `ssn values reached the client unmasked: ${values.join(', ')}`);
      w.destroy();
    },
  },
  {
    name: 'multi-statement COM_QUERY: every resultset is masked',
    async run(b) {
      const w = await loggedIn(b);
      const r = await w.query('select 1; select ssn from customers; select email, ssn from customers where id = 2');
      assert.equal(r.err, undefined, r.err?.message);
      assert.deepEqual(r.rows, [['1'], ['****'], ['****'], ['****'], ['a***@example.org', '****']]);
      await stillAnswers(w);
    },
  },
  {
    name: 'prepared statement with a cursor: rows fetched with COM_STMT_FETCH are masked',
    async run(b) {
      const w = await loggedIn(b);
      w.write(packet(0, command(COM.STMT_PREPARE, Buffer.from('select ssn from customers where id < ?'))));
      const ok = (await w.must()).payload;
      assert.equal(ok[0], 0x00, 'COM_STMT_PREPARE_OK');
      const id = ok.readUInt32LE(1);
      // One parameter definition, EOF, one column definition, EOF.
      for (let i = 0; i < 4; i++) await w.must();
      // CURSOR_TYPE_READ_ONLY, one iteration, NULL bitmap, new-params-bound, MYSQL_TYPE_LONG, 10.
      w.write(packet(0, command(COM.STMT_EXECUTE, int4(id), int1(1), int4(1), int1(0), int1(1), Buffer.from([3, 0]), int4(10))));
      const metadata = [await w.must(), await w.must(), await w.must()];
      assert.equal(metadata[2]!.payload[0], 0xfe, 'EOF: the cursor is open, no rows yet');
      w.write(packet(0, command(COM.STMT_FETCH, int4(id), int4(10))));
      const values: string[] = [];
      for (;;) {
        const p = (await w.must()).payload;
        assert.ok(!isErr(p), isErr(p) ? parseErr(p).message : '');
        if (p[0] === 0xfe && p.length < 9) break;
        // Binary row: 0x00, a 1-byte NULL bitmap, one string<lenenc>.
        values.push(p.toString('utf8', 3, 3 + p[2]!));
      }
      assert.deepEqual(values, ['****', '****', '****']);
      await stillAnswers(w);
    },
  },
  {
    name: 'a command with sequence id 1 → jitgate refuses it (out of order, 1047) and the session ends; nothing reaches the upstream',
    async run(b) {
      const w = await loggedIn(b);
      w.write(packet(1, comQuery('select ssn from customers')));
      const e = await expectErr(w, 1047, /out of order/, { timeoutMs: 10_000 });
      assert.equal(e.sqlstate, '08S01');
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'a command of exactly 16 MB, split over two packets → answered, the session goes on',
    async run(b) {
      const w = await loggedIn(b);
      const sql = Buffer.alloc(SIXTEEN_MB_FILL + 17, 'z');
      sql.write("SELECT LENGTH('");
      sql.write("')", sql.length - 2);
      const bytes = packet(0, comQuery(sql));
      assert.equal(bytes.length, MAX_PACKET_PAYLOAD + 8, 'one full packet and an empty one');
      w.write(bytes);
      const r = await w.response(30_000);
      assert.equal(r.err, undefined, r.err?.message);
      assert.deepEqual(r.rows, [[String(SIXTEEN_MB_FILL)]]);
      await stillAnswers(w);
    },
  },
  {
    name: '200 pipelined commands in one write → 200 answers in order, masked',
    async run(b) {
      const w = await loggedIn(b);
      const commands: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        commands.push(packet(0, i % 3 === 2 ? int1(COM.PING) : comQuery(i % 3 === 1 ? `select ssn, ${i} from customers where id = 1` : `select ${i}`)));
      }
      w.write(Buffer.concat(commands));
      for (let i = 0; i < 200; i++) {
        if (i % 3 === 2) {
          assert.ok(isOk((await w.must()).payload), `PING ${i}`);
          continue;
        }
        const r = await w.response();
        assert.deepEqual(r.rows, i % 3 === 1 ? [['****', String(i)]] : [[String(i)]], `answer ${i}`);
      }
      await stillAnswers(w);
    },
  },
  {
    name: 'COM_CHANGE_USER pipelined behind a query → the query is answered in full, then 1235, the session goes on',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([packet(0, comQuery('select seq from seq_1_to_2000')), packet(0, command(COM.CHANGE_USER, nulStr('root'), int1(0)))]));
      const r = await w.response();
      assert.equal(r.err, undefined, `the query got ${r.err?.errno}: ${r.err?.message}`);
      assert.equal(r.rows.length, 2000);
      const p = await w.must();
      assert.equal(p.seq, 1);
      assert.equal(parseErr(p.payload).errno, 1235);
      await stillAnswers(w);
    },
  },
  {
    name: 'COM_QUIT in the middle of a large result → the session ends, its user dropped',
    async run(b) {
      const w = await loggedIn(b);
      w.write(packet(0, comQuery("select seq, repeat('x', 100) from seq_1_to_200000")));
      await w.must(10_000);
      w.write(packet(0, int1(COM.QUIT)));
      await w.closedByServer(20_000);
      w.destroy();
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'COM_QUIT followed by more bytes → closed, user dropped',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([packet(0, int1(COM.QUIT)), packet(0, comQuery('select 1')), Buffer.from('garbage')]));
      await w.closedByServer();
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'client resets the connection mid-query → user dropped',
    async run(b) {
      const w = await loggedIn(b);
      w.write(packet(0, comQuery('select sleep(0.5), seq from seq_1_to_100000')));
      await sleep(100);
      w.resetConnection();
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
  {
    name: 'after login: a 16 MB length header, then the client leaves → user dropped',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.from([0xff, 0xff, 0xff, 0x00, COM.QUERY, 0x73, 0x65]));
      await sleep(100);
      w.destroy();
      assert.deepEqual(await b.usersLeft(), []);
    },
  },
];
