import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { ScramClient, deriveScramKeys, scramVerifier } from '../../src/provision/scram.js';
import { ephemeralPassword } from '../../src/provision/names.js';
import { quoteIdent, quoteLiteral } from '../../src/provision/sql.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/util/embedded-postgres.js';

// RFC 7677 §3 example.
const rfc = {
  password: 'pencil',
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('SCRAM-SHA-256 keys and client', () => {
  test('matches the RFC 7677 example exchange', async () => {
    const keys = await deriveScramKeys(rfc.password, { salt: rfc.salt });
    assert.equal(keys.iterations, 4096);
    const client = new ScramClient(keys, 'user', { nonce: rfc.clientNonce });
    assert.equal(client.clientFirstMessage(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.equal(client.handleServerFirst(rfc.serverFirst), rfc.clientFinal);
    assert.doesNotThrow(() => client.verifyServerFinal(rfc.serverFinal));
  });

  test('verifier has PostgreSQL’s stored form', async () => {
    const keys = await deriveScramKeys(rfc.password, { salt: rfc.salt });
    assert.equal(
      scramVerifier(keys),
      `SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$${keys.storedKey.toString('base64')}:${keys.serverKey.toString('base64')}`,
    );
  });

  test('refuses a bad server signature, an error, a foreign salt or iteration count, a nonce it did not start', async () => {
    const keys = await deriveScramKeys(rfc.password, { salt: rfc.salt });
    const start = () => {
      const c = new ScramClient(keys, 'user', { nonce: rfc.clientNonce });
      c.clientFirstMessage();
      return c;
    };
    let c = start();
    c.handleServerFirst(rfc.serverFirst);
    assert.throws(() => c.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')), /bad server signature/);
    c = start();
    c.handleServerFirst(rfc.serverFirst);
    assert.throws(() => c.verifyServerFinal('e=invalid-proof'), /invalid-proof/);
    assert.throws(() => start().handleServerFirst(rfc.serverFirst.replace('i=4096', 'i=8192')), /does not match/);
    assert.throws(() => start().handleServerFirst(rfc.serverFirst.replace('W22ZaJ0SNY7soEsUEjb6gQ==', 'AAAAAAAAAAAAAAAAAAAAAA==')), /does not match/);
    assert.throws(() => start().handleServerFirst('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), /nonce/);
    assert.throws(() => start().handleServerFirst(rfc.serverFirst.replace(rfc.clientNonce + '%', rfc.clientNonce).slice(0, 20)), /nonce|lacks|malformed/);
    assert.throws(() => new ScramClient(keys).handleServerFirst(rfc.serverFirst), /unexpected/);
  });
});

/** Minimal PostgreSQL startup + SASL exchange driven by ScramClient: no PBKDF2 at login. */
function scramLogin(port: number, user: string, database: string, scram: ScramClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const fail = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    const send = (type: string, body: Buffer) => {
      const head = Buffer.alloc(5);
      head.write(type, 0, 'latin1');
      head.writeInt32BE(body.length + 4, 1);
      sock.write(Buffer.concat([head, body]));
    };
    sock.on('error', fail);
    sock.on('connect', () => {
      const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
      const head = Buffer.alloc(8);
      head.writeInt32BE(params.length + 8, 0);
      head.writeInt32BE(196608, 4);
      sock.write(Buffer.concat([head, params]));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const type = String.fromCharCode(buf[0]!);
        const body = buf.subarray(5, 1 + buf.readInt32BE(1));
        buf = buf.subarray(1 + buf.readInt32BE(1));
        try {
          if (type === 'E') {
            const fields = body.toString('utf8').split('\0');
            return fail(new Error(fields.find((f) => f.startsWith('M'))?.slice(1) ?? 'server error'));
          }
          if (type === 'Z') {
            send('X', Buffer.alloc(0));
            sock.end();
            return resolve();
          }
          if (type !== 'R') continue;
          const code = body.readInt32BE(0);
          if (code === 10) {
            assert.ok(body.subarray(4).toString().split('\0').includes('SCRAM-SHA-256'));
            const first = Buffer.from(scram.clientFirstMessage());
            const len = Buffer.alloc(4);
            len.writeInt32BE(first.length);
            send('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), len, first]));
          } else if (code === 11) {
            send('p', Buffer.from(scram.handleServerFirst(body.subarray(4).toString())));
          } else if (code === 12) {
            scram.verifyServerFinal(body.subarray(4).toString());
          } else if (code !== 0) {
            return fail(new Error(`unexpected auth request ${code}`));
          }
        } catch (e) {
          return fail(e as Error);
        }
      }
    });
  });
}

describe('SCRAM against a real PostgreSQL (embedded, scram-sha-256)', () => {
  let server: EmbeddedPostgres;
  let admin: pg.Client;
  before(async () => {
    server = await startEmbeddedPostgres();
    admin = new pg.Client({ connectionString: server.url() });
    await admin.connect();
  });
  after(async () => {
    await admin?.end();
    await server?.stop();
  });

  test('a role created with jitgate’s verifier logs in with the plain password and with the precomputed keys', async () => {
    const password = ephemeralPassword();
    const keys = await deriveScramKeys(password);
    await admin.query(`CREATE ROLE ${quoteIdent('jit_scram_test')} LOGIN PASSWORD ${quoteLiteral(scramVerifier(keys))}`);
    const stored = await admin.query(`SELECT rolpassword FROM pg_authid WHERE rolname = 'jit_scram_test'`);
    assert.equal(stored.rows[0].rolpassword, scramVerifier(keys));

    const c = new pg.Client({ host: server.host, port: server.port, database: 'postgres', user: 'jit_scram_test', password });
    await c.connect();
    assert.equal((await c.query('SELECT current_user AS u')).rows[0].u, 'jit_scram_test');
    await c.end();

    await scramLogin(server.port, 'jit_scram_test', 'postgres', new ScramClient(keys));

    const other = await deriveScramKeys(password); // same password, another salt: not the server's verifier
    await assert.rejects(scramLogin(server.port, 'jit_scram_test', 'postgres', new ScramClient(other)), /does not match/);
    const wrong = { ...keys, clientKey: Buffer.alloc(32, 1) };
    await assert.rejects(scramLogin(server.port, 'jit_scram_test', 'postgres', new ScramClient(wrong)), /password authentication failed/);
    await admin.query('DROP ROLE jit_scram_test');
  });
});
