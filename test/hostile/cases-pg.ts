/**
 * The PostgreSQL catalogue of bad inputs: one row per case, each with the exact outcome it
 * expects (an ErrorResponse with a given SQLSTATE, an 'S'/'N' byte, or a close where the
 * protocol allows no error). The MySQL cases join as `cases-mysql.ts` when that engine lands.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import { loadSigningKey } from '../../src/auth/keys.js';
import { signClaims } from '../helpers/e2e.js';
import type { Bench } from './harness.js';
import { onlyUsers } from './harness.js';
import {
  GSSENC_REQUEST,
  SSL_REQUEST,
  SYNC,
  TERMINATE,
  Wire,
  cstr,
  errorFields,
  firstError,
  i32,
  password,
  query,
  startup,
  typed,
  u32,
  untyped,
  version,
  type WireMessage,
} from './wire.js';

export interface HostileCase {
  name: string;
  run(b: Bench): Promise<void>;
  /** Live sessions once the case is over (default: just the healthy one). */
  live?: number;
}

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The next thing the server says is an ErrorResponse with `code` (and `why`); then it closes with a FIN. */
async function expectError(w: Wire, code: string, why?: RegExp, timeoutMs = 5000): Promise<Record<string, string>> {
  const m = await w.message(timeoutMs);
  assert.ok(m, `expected an ErrorResponse ${code}, the server closed without one`);
  assert.equal(m.type, 'E', `expected an ErrorResponse ${code}, got '${m.type}'`);
  const f = errorFields(m.body);
  assert.equal(f.C, code, `SQLSTATE ${f.C}: ${f.M}`);
  if (why) assert.match(f.M ?? '', why);
  assert.equal(await w.closedByServer(), true, 'closed with a FIN after the error');
  w.destroy();
  return f;
}

/** The server closes without sending anything (nothing it could say would be understood). */
async function expectSilentClose(w: Wire, sentBefore = 0): Promise<void> {
  await w.closedByServer();
  assert.equal(w.received, sentBefore, 'no bytes were expected');
  w.destroy();
}

/** Sends `bytes` on a fresh connection and expects an ErrorResponse `code`. */
function refusal(name: string, bytes: Buffer | (() => Buffer), code: string, why?: RegExp): HostileCase {
  return {
    name,
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(typeof bytes === 'function' ? bytes() : bytes);
      await expectError(w, code, why);
    },
  };
}

/** Logs in `sub` over a raw connection (asserting ReadyForQuery), returns the connection. */
async function loggedIn(b: Bench, sub = `h${randomBytes(3).toString('hex')}`): Promise<Wire> {
  const w = await Wire.connect(b.tp.port);
  const ms = await w.login(sub, 'app', await b.token(sub));
  assert.equal(ms.at(-1)?.type, 'Z', `login failed: ${JSON.stringify(firstError(ms))}`);
  return w;
}

/** A login with `token` for `sub` is refused with `code` (28P01 unless said otherwise). */
function tokenRefusal(name: string, make: (b: Bench) => Promise<string>, why: RegExp, code = '28P01', sub = 'alice'): HostileCase {
  return {
    name,
    async run(b) {
      const t = b.ledger.add('hostile token', await make(b));
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: sub, database: 'app' }));
      const r = await w.message();
      assert.equal(r?.type, 'R');
      w.write(password(t));
      const f = await expectError(w, code, why);
      assert.equal(f.S, 'FATAL');
      assert.ok(!(f.M ?? '').includes(t.slice(0, 24)), 'the message does not echo the token');
    },
  };
}

/** Logs in, sends `bytes`, and expects the session to end with `code` (the healthy one is untouched). */
function afterLogin(name: string, bytes: Buffer, code: string, why?: RegExp): HostileCase {
  return {
    name,
    async run(b) {
      const w = await loggedIn(b);
      w.write(bytes);
      const ms = await w.messagesUntil('E', 10_000);
      const f = firstError(ms);
      assert.ok(f, `expected an error, got ${ms.map((m) => m.type).join(',')}`);
      assert.equal(f.C, code, `SQLSTATE ${f.C}: ${f.M}`);
      assert.equal(f.S, 'FATAL');
      if (why) assert.match(f.M ?? '', why);
      await w.closedByServer(10_000);
      w.destroy();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), [], 'the session user is dropped');
    },
  };
}

/** Logs in, sends `bytes`, expects an ERROR (not FATAL) with `code`, then the session still answers. */
function afterLoginRecoverable(name: string, bytes: Buffer, code: string): HostileCase {
  return {
    name,
    async run(b) {
      const w = await loggedIn(b);
      w.write(bytes);
      const ms = await w.messagesUntil('Z', 10_000);
      const f = firstError(ms);
      assert.equal(f?.C, code, `got ${ms.map((m) => m.type).join(',')} ${f?.M ?? ''}`);
      const again = await w.query('select 2');
      assert.equal(again.at(-1)?.type, 'Z');
      assert.ok(again.some((m) => m.type === 'D'));
      w.write(TERMINATE);
      await w.closedByServer();
    },
  };
}

const http = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n');
/** The first bytes of a TLS 1.2/1.3 ClientHello record, as a client with sslnegotiation=direct sends them. */
const clientHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), randomBytes(32), Buffer.from([0x20]), randomBytes(32)]);

export const pgCases: HostileCase[] = [
  // ---- bytes before any startup packet ----
  refusal('HTTP GET before startup', http, '08P01', /invalid startup packet/),
  refusal('HTTP/2 connection preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), '08P01', /invalid startup packet/),
  refusal('TLS ClientHello without SSLRequest', clientHello, '08P01', /invalid startup packet/),
  refusal('SSH banner', Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'), '08P01', /invalid startup packet/),
  refusal('Redis PING', Buffer.from('*1\r\n$4\r\nPING\r\n'), '08P01', /invalid startup packet/),
  refusal('eight zero bytes (length 0)', Buffer.alloc(8), '08P01', /invalid message length 0/),
  refusal('length 3', Buffer.concat([i32(3), u32(version(3, 0))]), '08P01', /invalid message length 3/),
  refusal('length 4: no protocol code', i32(4), '08P01', /invalid startup packet/),
  refusal('length 7: truncated protocol code', Buffer.concat([i32(7), Buffer.from([0, 3, 0])]), '08P01', /invalid startup packet/),
  refusal('negative length -1', Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]), '08P01', /invalid message length -1/),
  refusal('length INT32_MIN', Buffer.concat([u32(0x80000000), u32(version(3, 0))]), '08P01', /invalid message length/),
  refusal('1 GB length prefix', Buffer.concat([i32(1 << 30), u32(version(3, 0))]), '08P01', /exceeds the limit/),
  refusal('length one past limits.maxStartupMessage', Buffer.concat([i32(10_001), u32(version(3, 0))]), '08P01', /exceeds the limit/),
  refusal('random bytes (fixed)', Buffer.from('8f3a91c2d4e5f60718293a4b5c6d7e8f90a1b2c3', 'hex'), '08P01', /invalid startup packet/),
  {
    name: 'connect and close at once (health check)',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.end();
      await expectSilentClose(w);
    },
  },
  {
    name: 'connect, send 3 bytes, close',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.end(Buffer.from([0, 0, 0]));
      await expectSilentClose(w);
    },
  },
  {
    name: 'connect and reset (RST)',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }).subarray(0, 10));
      await new Promise((r) => setTimeout(r, 50));
      w.resetConnection();
    },
  },
  {
    name: 'half-open: connected, silent → handshake timeout',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      await expectError(w, '08P01', /timed out waiting for login/, 10_000);
    },
  },
  {
    name: 'half-open: startup sent, then FIN without a password',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.end(startup({ user: 'alice', database: 'app' }));
      const m = await w.message();
      assert.equal(m?.type, 'R', 'asked for the password');
      await w.closedByServer();
    },
  },
  {
    name: 'half-open: half a startup packet, then silence → handshake timeout',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }).subarray(0, 12));
      await expectError(w, '08P01', /timed out waiting for login/, 10_000);
    },
  },
  {
    name: 'slow client: one byte a second → handshake timeout',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const bytes = startup({ user: 'alice', database: 'app' });
      let i = 0;
      const drip = setInterval(() => (i < bytes.length && !w.closed ? w.write(bytes.subarray(i, ++i)) : clearInterval(drip)), 1000);
      try {
        await expectError(w, '08P01', /timed out waiting for login/, 10_000);
        assert.ok(i < bytes.length, 'the timeout came before the packet was complete');
      } finally {
        clearInterval(drip);
      }
    },
  },
  {
    name: 'slow client: password never sent → handshake timeout',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }));
      assert.equal((await w.message())?.type, 'R');
      w.write(Buffer.from('p'));
      await expectError(w, '08P01', /timed out waiting for login/, 10_000);
    },
  },

  // ---- encryption requests ----
  {
    name: 'SSLRequest → S, TLS, login works',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      await w.startTls();
      const ms = await w.login('tlsuser', 'app', await b.token('tlsuser'));
      assert.equal(ms.at(-1)?.type, 'Z');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'SSLRequest twice in plaintext (second instead of a ClientHello) → close',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      w.write(SSL_REQUEST);
      await w.closedByServer().catch(() => assert.fail('the server must close'));
      w.destroy();
    },
  },
  {
    name: 'SSLRequest again inside TLS → 08P01',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      await w.startTls();
      w.write(SSL_REQUEST);
      await expectError(w, '08P01', /SSLRequest inside TLS/);
    },
  },
  refusal('bytes pipelined behind SSLRequest (CVE-2021-23214)', () => Buffer.concat([SSL_REQUEST, startup({ user: 'alice', database: 'app' })]), '08P01', /unexpected data after encryption request/),
  refusal('one byte pipelined behind SSLRequest', Buffer.concat([SSL_REQUEST, Buffer.from([0x16])]), '08P01', /unexpected data after encryption request/),
  refusal('ClientHello pipelined behind SSLRequest', () => Buffer.concat([SSL_REQUEST, clientHello]), '08P01', /unexpected data after encryption request/),
  {
    name: 'SSLRequest, then a silent client during the TLS handshake → handshake timeout, no stuck login',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      await w.closedByServer(10_000);
      w.destroy();
    },
  },
  {
    name: 'SSLRequest, then garbage instead of a ClientHello → close',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      w.write(http);
      await w.closedByServer().catch(() => assert.fail('the server must close'));
      w.destroy();
    },
  },
  {
    name: 'GSSENCRequest → N, then startup and login work',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(GSSENC_REQUEST);
      assert.equal(await w.byte(), 'N');
      const ms = await w.login('gssuser', 'app', await b.token('gssuser'));
      assert.equal(ms.at(-1)?.type, 'Z');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'GSSENCRequest → N, SSLRequest → S, TLS login works (libpq gssencmode=prefer)',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(GSSENC_REQUEST);
      assert.equal(await w.byte(), 'N');
      w.write(SSL_REQUEST);
      assert.equal(await w.byte(), 'S');
      await w.startTls();
      const ms = await w.login('gsstls', 'app', await b.token('gsstls'));
      assert.equal(ms.at(-1)?.type, 'Z');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'GSSENCRequest twice → N, then 08P01',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(GSSENC_REQUEST);
      assert.equal(await w.byte(), 'N');
      w.write(GSSENC_REQUEST);
      await expectError(w, '08P01', /repeated GSSENCRequest/);
    },
  },
  refusal('bytes pipelined behind GSSENCRequest', () => Buffer.concat([GSSENC_REQUEST, startup({ user: 'alice', database: 'app' })]), '08P01', /unexpected data after encryption request/),
  refusal('SSLRequest with a body', untyped(i32(80877103), i32(0)), '08P01', /invalid startup packet/),
  {
    name: 'CancelRequest with an unknown key → silent close',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(untyped(i32(80877102), i32(12345), randomBytes(4)));
      await expectSilentClose(w);
    },
  },
  {
    name: 'CancelRequest for the healthy session with a guessed key → ignored',
    async run(b) {
      const pid = (b.healthy as unknown as { processID: number }).processID;
      const w = await Wire.connect(b.tp.port);
      w.write(untyped(i32(80877102), i32(pid), Buffer.from([0, 0, 0, 0])));
      await expectSilentClose(w);
      assert.ok(b.tp.logs().some((l) => l.event === 'cancel.ignored'));
    },
  },
  refusal('CancelRequest with a 2-byte key', untyped(i32(80877102), i32(1), Buffer.from([1, 2])), '08P01', /invalid startup packet/),
  refusal('CancelRequest with a 300-byte key', untyped(i32(80877102), i32(1), randomBytes(300)), '08P01', /invalid startup packet/),

  // ---- protocol versions ----
  refusal('protocol 2.0', startup({ user: 'alice', database: 'app' }, version(2, 0)), '0A000', /unsupported frontend protocol 2\.0/),
  refusal('protocol 4.0', startup({ user: 'alice', database: 'app' }, version(4, 0)), '0A000', /unsupported frontend protocol 4\.0/),
  {
    // 1234.5678 is the CancelRequest code: the parameters become its "key" and nothing is answered.
    name: 'protocol 1234.5678 (the CancelRequest code) with startup parameters → silent close',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }, version(1234, 5678)));
      await expectSilentClose(w);
    },
  },
  refusal('protocol 1234.5681 (next to the special codes)', startup({ user: 'alice', database: 'app' }, version(1234, 5681)), '0A000', /unsupported frontend protocol 1234\.5681/),
  refusal('protocol 0.0', startup({ user: 'alice', database: 'app' }, 0), '0A000', /unsupported frontend protocol 0\.0/),
  {
    name: 'protocol 3.99 with _pq_ options → NegotiateProtocolVersion, then the password is asked',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup([['user', 'alice'], ['database', 'app'], ['_pq_.evil', 'on']], version(3, 99)));
      const v = await w.message();
      assert.equal(v?.type, 'v');
      assert.equal(v.body.readInt32BE(0), 0, 'newest minor version supported: 0');
      assert.equal(v.body.readInt32BE(4), 1);
      assert.equal(v.body.toString('utf8', 8, v.body.length - 1), '_pq_.evil');
      assert.equal((await w.message())?.type, 'R');
      w.destroy();
    },
  },

  // ---- startup packet contents ----
  refusal('startup without user', startup({ database: 'app' }), '28000', /no PostgreSQL user name/),
  refusal('startup with an empty user', startup({ user: '', database: 'app' }), '28000', /no PostgreSQL user name/),
  refusal('startup with no parameters at all', startup([]), '28000', /no PostgreSQL user name/),
  refusal('duplicate user parameter', startup([['user', 'alice'], ['user', 'postgres']]), '08P01', /duplicate startup parameter/),
  refusal('parameter name without a value', untyped(u32(version(3, 0)), cstr('user'), cstr('alice'), cstr('database'), Buffer.from([0])), '08P01', /invalid startup packet/),
  refusal('parameters without the final NUL', untyped(u32(version(3, 0)), cstr('user'), cstr('alice')), '08P01', /invalid startup packet/),
  refusal('unterminated parameter', untyped(u32(version(3, 0)), Buffer.from('user\0alice')), '08P01', /invalid startup packet/),
  refusal('bytes after the final NUL', untyped(u32(version(3, 0)), cstr('user'), cstr('alice'), Buffer.from([0]), Buffer.from('junk')), '08P01', /invalid startup packet/),
  refusal('oversized parameter value (20 KB)', () => startup({ user: 'alice', database: 'app', application_name: 'x'.repeat(20_000) }), '08P01', /exceeds the limit/),
  refusal('replication=database', startup({ user: 'alice', database: 'app', replication: 'database' }), '0A000', /replication/),
  refusal('replication=true', startup({ user: 'alice', database: 'app', replication: 'true' }), '0A000', /replication/),
  refusal('replication=yes (any truthy spelling)', startup({ user: 'alice', database: 'app', replication: 'YES' }), '0A000', /replication/),
  {
    name: 'replication=false is allowed',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const ms = await w.login('repfalse', 'app', await b.token('repfalse'), [['replication', 'false']]);
      assert.equal(ms.at(-1)?.type, 'Z');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'options=-c statement_timeout=1234 reaches the upstream as the ephemeral user',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const ms = await w.login('opts', 'app', await b.token('opts'), [['options', '-c statement_timeout=1234']]);
      assert.equal(ms.at(-1)?.type, 'Z', JSON.stringify(firstError(ms)));
      const r = await w.query('show statement_timeout');
      assert.equal(r.find((m) => m.type === 'D')?.body.toString('utf8', 6), '1234ms');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'options setting a superuser-only parameter → the upstream refuses, 42501, user dropped',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const ms = await w.login('optsu', 'app', await b.token('optsu'), [['options', '-c log_statement=none']]);
      const f = firstError(ms);
      assert.equal(f?.C, '42501', f?.M);
      assert.match(f?.M ?? '', /log_statement/);
      await w.closedByServer();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  {
    name: 'options with session_authorization=postgres → refused upstream, user dropped',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const ms = await w.login('optsa', 'app', await b.token('optsa'), [['options', '-c session_authorization=postgres']]);
      const f = firstError(ms);
      assert.ok(f && f.C !== '08006' && f.C.startsWith('42'), `${f?.C} ${f?.M}`);
      await w.closedByServer();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  {
    name: 'unknown startup parameter → upstream 42704 passed through, user dropped',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      const ms = await w.login('unkparam', 'app', await b.token('unkparam'), [['no_such_setting', '1']]);
      const f = firstError(ms);
      assert.equal(f?.C, '42704', f?.M);
      await w.closedByServer();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  {
    name: 'database omitted: defaults to the user name → audience mismatch 28P01',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice' }));
      assert.equal((await w.message())?.type, 'R');
      w.write(password(await b.token('alice')));
      await expectError(w, '28P01', /audience does not match database "alice"/);
    },
  },

  // ---- the password phase ----
  {
    name: 'a Query where the password is expected → 08P01',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }));
      assert.equal((await w.message())?.type, 'R');
      w.write(query('select 1'));
      await expectError(w, '08P01', /expected a password message/);
    },
  },
  {
    name: 'Terminate where the password is expected → 08P01',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'alice', database: 'app' }));
      assert.equal((await w.message())?.type, 'R');
      w.write(TERMINATE);
      await expectError(w, '08P01', /expected a password message/);
    },
  },
  ...(
    [
      ['password message over limits.maxMessageBeforeAuth (200 KB)', () => password('x'.repeat(200_000)), '08P01', /exceeds the limit/],
      ['password message with a negative length', () => Buffer.from([0x70, 0xff, 0xff, 0xff, 0xf0]), '08P01', /invalid message length/],
      ['password message with length 0', () => Buffer.from([0x70, 0, 0, 0, 0]), '08P01', /invalid message length/],
      ['password message without its NUL', () => typed('p', Buffer.from('abc.def.ghi')), '08P01', /invalid startup packet|unterminated/],
      ['password message with bytes after the NUL', () => typed('p', cstr('a.b.c'), Buffer.from('more')), '08P01', /invalid|trailing|unexpected/],
      ['empty password', () => password(''), '28P01', /no token given/],
      ['password that is not a JWT', () => password('hunter2-hunter2'), '28P01', /malformed token/],
      ['password with invalid UTF-8', () => password(Buffer.from([0xff, 0xfe, 0x2e, 0xc3, 0x28, 0x2e, 0x41])), '28P01', /malformed token/],
      ['SASLInitialResponse instead of a password', () => typed('p', cstr('SCRAM-SHA-256'), i32(8), Buffer.from('n,,n=,r=')), '08P01', /invalid|trailing|unexpected/],
      ['a 50 KB token', () => password(`${'a'.repeat(25_000)}.${'b'.repeat(25_000)}.c`), '28P01', /token too large/],
      ['a 100 KB token (over the message limit)', () => password(`${'a'.repeat(50_000)}.${'b'.repeat(50_000)}.c`), '08P01', /exceeds the limit/],
    ] as [string, () => Buffer, string, RegExp][]
  ).map(
    ([name, make, code, why]): HostileCase => ({
      name,
      async run(b) {
        const w = await Wire.connect(b.tp.port);
        w.write(startup({ user: 'alice', database: 'app' }));
        assert.equal((await w.message())?.type, 'R');
        w.write(make());
        await expectError(w, code, why);
      },
    }),
  ),
  {
    name: 'garbage pipelined behind a valid password → 08P01, no user left',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'pipe1', database: 'app' }));
      assert.equal((await w.message())?.type, 'R');
      w.write(Buffer.concat([password(await b.token('pipe1')), Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff])]));
      await expectError(w, '08P01', /invalid/);
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  {
    name: 'startup, password and a query in one write → answered',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(Buffer.concat([startup({ user: 'pipe2', database: 'app' }), password(await b.token('pipe2')), query('select 42')]));
      const ms = await w.messagesUntil('Z', 15_000);
      assert.equal(ms.at(-1)?.type, 'Z', 'login completed');
      const q = await w.messagesUntil('Z');
      assert.equal(q.find((m) => m.type === 'D')?.body.toString('utf8', 6), '42');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'client closes right after sending its token → no user left',
    async run(b) {
      const w = await Wire.connect(b.tp.port);
      w.write(startup({ user: 'gone', database: 'app' }));
      assert.equal((await w.message())?.type, 'R');
      w.end(password(await b.token('gone')));
      await w.closedByServer(10_000).catch(() => undefined);
      w.destroy();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser], 8000), []);
    },
  },

  // ---- JWT attacks through the wire ----
  tokenRefusal(
    'alg none',
    async (b) => {
      const now = Math.floor(Date.now() / 1000);
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', role: 'reader', iat: now, exp: now + 60 })}.`;
    },
    /algorithm not allowed/,
  ),
  tokenRefusal(
    'HS256 signed with the public JWKS as the secret',
    async (b) => {
      const pub = fs.readFileSync(b.tp.config.auth.trust[0]!);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader' })
        .setProtectedHeader({ alg: 'HS256', kid: (await loadSigningKey(b.tp.config.auth.signingKeys!)).kid })
        .setIssuer(b.tp.config.auth.issuer)
        .setSubject('alice')
        .setAudience('app')
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(pub);
    },
    /algorithm not allowed/,
  ),
  tokenRefusal(
    'HS256 signed with the public key bytes (x) as the secret',
    async (b) => {
      const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: k.kid })
        .sign(Buffer.from(k.publicJwk.x!, 'base64url'));
    },
    /algorithm not allowed/,
  ),
  tokenRefusal(
    'unknown kid',
    async (b) => {
      const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: k.alg, kid: 'no-such-kid' })
        .sign(k.key);
    },
    /unknown key/,
  ),
  tokenRefusal(
    'the trusted kid, signed by a stranger key',
    async (b) => {
      const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'EdDSA', kid: k.kid })
        .sign(privateKey);
    },
    /bad token signature/,
  ),
  tokenRefusal(
    'a stranger key embedded in the header (jwk)',
    async (b) => {
      const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', iat: now, exp: now + 60 })
        .setProtectedHeader({ alg: 'EdDSA', jwk: await exportJWK(publicKey) })
        .sign(privateKey);
    },
    /unknown key|bad token signature/,
  ),
  tokenRefusal(
    'ES256 header on an Ed25519 signature (algorithm confusion)',
    async (b) => {
      const t = await b.tp.token('alice');
      const [, p, s] = t.split('.');
      const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
      return `${b64({ alg: 'ES256', kid: k.kid, typ: 'JWT' })}.${p}.${s}`;
    },
    /unknown key|bad token signature|algorithm not allowed/,
  ),
  tokenRefusal('expired', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', iat: Math.floor(Date.now() / 1000) - 300, exp: Math.floor(Date.now() / 1000) - 120 }), /expired/),
  tokenRefusal('nbf in the future', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', nbf: Math.floor(Date.now() / 1000) + 600 }), /not valid yet/),
  tokenRefusal('iat older than auth.maxTtl', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', iat: Math.floor(Date.now() / 1000) - 3600 }), /too old/),
  tokenRefusal('iat in the future', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 3900 }), /issued in the future/),
  tokenRefusal('exp as a string', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', exp: '9999999999' }), /no valid exp/),
  tokenRefusal('wrong aud', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'other', role: 'reader' }), /audience does not match/),
  tokenRefusal('wrong iss', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'reader', iss: 'evil' }), /issuer is not trusted/),
  tokenRefusal('role not in the target', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: 'superuser' }), /role "superuser" is not a profile/),
  tokenRefusal('role __proto__', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app', role: '__proto__' }), /is not a profile/),
  tokenRefusal('no role', (b) => signClaims(b.tp.config, { sub: 'alice', aud: 'app' }), /no role/),
  tokenRefusal('crit header', async (b) => {
    const k = await loadSigningKey(b.tp.config.auth.signingKeys!);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role: 'reader', iss: b.tp.config.auth.issuer, sub: 'alice', aud: 'app', iat: now, exp: now + 60, x: 1 })
      .setProtectedHeader({ alg: k.alg, kid: k.kid, crit: ['x'], x: 1 } as never)
      .sign(k.key)
      .catch(() => `${b64({ alg: k.alg, kid: k.kid, crit: ['x'] })}.${b64({ sub: 'alice' })}.AAAA`);
  }, /malformed token/),
  tokenRefusal('token with a trailing newline', async (b) => `${await b.tp.token('alice')}\n`, /malformed token/),
  tokenRefusal('a valid token for another sub (28000)', (b) => b.tp.token('bob'), /does not match the token subject/, '28000'),
  ...(
    [
      ['sub with quotes and semicolons', `a'; DROP ROLE postgres; --"x`],
      ['sub with unicode and an emoji', 'Zoë-Ω-漢字-👾'],
      ['sub of 4 KB', 's'.repeat(4096)],
      ['sub with backslashes and $$', `\\$$ $jit$ '\\x00`],
    ] as [string, string][]
  ).map(
    ([name, sub]): HostileCase => ({
      name: `${name}: logs in as a jit_ user, no injection`,
      async run(b) {
        const w = await Wire.connect(b.tp.port);
        const ms = await w.login(sub, 'app', b.ledger.add('token', await signClaims(b.tp.config, { sub, aud: 'app', role: 'reader' })));
        assert.equal(ms.at(-1)?.type, 'Z', JSON.stringify(firstError(ms)));
        const r = await w.query('select current_user');
        assert.match(r.find((m) => m.type === 'D')!.body.toString('utf8', 6), /^jit_[0-9a-f]{8}_[a-z2-7]{12}$/);
        w.write(TERMINATE);
        await w.closedByServer();
        assert.equal((await b.up.query(`select 1 from pg_roles where rolname = 'postgres'`)).rowCount, 1);
      },
    }),
  ),

  // ---- after login ----
  afterLogin('typed message with a negative length', Buffer.from([0x51, 0xff, 0xff, 0xff, 0xfe]), '08P01', /invalid message/),
  afterLogin('typed message with length 3', Buffer.from([0x51, 0, 0, 0, 3]), '08P01', /invalid message/),
  afterLogin('unknown message type z', typed('z', Buffer.from('hello')), '08P01', /invalid frontend message type/),
  afterLogin('message type 0x00 (an SSLRequest after login)', Buffer.concat([SSL_REQUEST, Buffer.alloc(0x804 - 3)]), '08P01', /invalid frontend message type/),
  afterLogin('Query without its NUL (decoded by the relay)', typed('Q', Buffer.from('select 1')), '08P01', /invalid message/),
  afterLogin('Parse with a truncated parameter-type list', typed('P', cstr(''), cstr('select $1'), Buffer.from([0, 5, 0, 0])), '08P01', /invalid message/),
  afterLogin('Bind with a negative parameter count', typed('B', cstr(''), cstr(''), Buffer.from([0, 0, 0x80, 0, 0, 0])), '08P01', /invalid message/),
  afterLogin('Describe with an unknown target byte', typed('D', Buffer.from('Zname\0')), '08P01', /invalid message/),
  afterLogin('a password message after login', password('again'), '08P01'),
  {
    name: 'after login: a 1 GB length header, then the client leaves',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([Buffer.from([0x51]), i32((1 << 30) - 8), Buffer.from('select')]));
      await new Promise((r) => setTimeout(r, 100));
      w.destroy();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  afterLoginRecoverable('Execute of an unknown portal', Buffer.concat([typed('E', cstr('nope'), i32(0)), SYNC]), '34000'),
  afterLoginRecoverable('Bind to an unknown statement', Buffer.concat([typed('B', cstr(''), cstr('nope'), Buffer.from([0, 0, 0, 0, 0, 0])), SYNC]), '26000'),
  {
    name: 'CopyData outside COPY is ignored, the session answers',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([typed('d', Buffer.from('stray')), typed('c'), query('select 3')]));
      const ms = await w.messagesUntil('Z');
      assert.equal(ms.find((m) => m.type === 'D')?.body.toString('utf8', 6), '3');
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: '10,000 Syncs in one write → 10,000 ReadyForQuery',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat(Array.from({ length: 10_000 }, () => SYNC)));
      let z = 0;
      while (z < 10_000) {
        const m = await w.message(10_000);
        assert.ok(m, 'closed early');
        if (m.type === 'Z') z++;
      }
      w.write(TERMINATE);
      await w.closedByServer();
    },
  },
  {
    name: 'Terminate followed by more bytes',
    async run(b) {
      const w = await loggedIn(b);
      w.write(Buffer.concat([TERMINATE, query('select 1'), Buffer.from('garbage')]));
      await w.closedByServer();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
  {
    name: 'client resets the connection mid-query',
    async run(b) {
      const w = await loggedIn(b);
      w.write(query('select pg_sleep(0.5), generate_series(1, 100000)'));
      await new Promise((r) => setTimeout(r, 100));
      w.resetConnection();
      assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
    },
  },
];

export type { WireMessage };
