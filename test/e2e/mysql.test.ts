/**
 * The MySQL path end to end with real clients (mysql2, the mariadb CLI) against a real
 * MariaDB: token in, ephemeral user upstream, rows compared with a direct connection,
 * user gone after the session.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { startMysqlUpstream, jitMysqlUsers, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/e2e.js';

const run = promisify(execFile);

describe('MySQL through jitgate', () => {
  let up: MysqlUpstream;
  let tp: TestProxy;
  let port: number;

  before(async () => {
    up = await startMysqlUpstream();
    tp = await startTestProxy(up, {
      targetName: 'shop',
      extra: {
        listen: { mysql: '127.0.0.1:0' },
        masking: { rules: [{ columns: ['ssn'], action: 'redact' }], detectors: ['email'] },
      },
    });
    port = tp.proxy.addresses.mysql!.port;
  });
  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  const connect = async (sub: string, opts: Partial<mysql.ConnectionOptions> = {}) =>
    mysql.createConnection({ host: '127.0.0.1', port, user: sub, password: await tp.token(sub), database: 'shop', ...opts });

  it('logs in with a token (RSA key exchange on a plain connection) as a fresh jit_ user', async () => {
    const c = await connect('alice');
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u, current_role() as r');
      assert.match(rows[0]!.u, /^jit_[0-9a-f]{8}_[a-z2-7]{12}@%$/);
      assert.equal(rows[0]!.r, up.roles.app_read);
    } finally {
      await c.end();
    }
  });

  it('logs in over TLS', async () => {
    const c = await connect('alice-tls', { ssl: { rejectUnauthorized: false } });
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>("select @@ssl_cipher is not null as x, 'ok' as y");
      assert.equal(rows[0]!.y, 'ok');
    } finally {
      await c.end();
    }
  });

  it('returns what a direct connection returns, masked where rules say (text and binary protocol)', async () => {
    const c = await connect('bob');
    try {
      const direct = await up.query<{ id: number; name: string }>(`select id, name from \`${up.database}\`.customers order by id`);
      const [rows] = await c.query<mysql.RowDataPacket[]>('select id, name, email, ssn from customers order by id');
      assert.ok(rows.length > 0);
      assert.deepEqual(rows.map((r) => ({ id: r.id, name: r.name })), direct.map((r) => ({ id: r.id, name: r.name })));
      for (const r of rows) {
        assert.equal(r.ssn, '****');
        assert.doesNotMatch(String(r.email), /^[^*]+@/);
      }
      const [prepared] = await c.execute<mysql.RowDataPacket[]>('select id, name, email, ssn from customers where id > ? order by id', [0]);
      assert.deepEqual(prepared, rows);
    } finally {
      await c.end();
    }
  });

  it('drops the user within 5 s of the session end', async () => {
    const c = await connect('carol');
    const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
    const user = String(rows[0]!.u).split('@')[0]!;
    await c.end();
    assert.ok(await waitFor(async () => !(await jitMysqlUsers(up)).includes(user), 5000));
  });

  it('refuses a bad token with 1045', async () => {
    await assert.rejects(
      mysql.createConnection({ host: '127.0.0.1', port, user: 'mallory', password: 'not-a-token', database: 'shop' }),
      (e: { errno?: number; message: string }) => e.errno === 1045,
    );
  });

  it('routes KILL QUERY of its own connection id (the MariaDB client\'s Ctrl-C) to the upstream, for the same sub only', async () => {
    const a = await connect('erin');
    const b = await connect('erin');
    const other = await connect('frank');
    try {
      const started = Date.now();
      const slow = a.query('select sleep(30) as s').then(
        ([rows]) => (rows as mysql.RowDataPacket[])[0]!.s,
        (e: { errno?: number }) => e.errno,
      );
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(other.query(`KILL QUERY ${a.threadId}`), (e: { errno?: number }) => e.errno === 1094);
      await b.query(`KILL QUERY ${a.threadId}`);
      // MariaDB ends an interrupted SLEEP() early with 1 (or error 1317).
      assert.ok([1, 1317].includes(Number(await slow)));
      assert.ok(Date.now() - started < 10_000);
      const [rows] = await a.query<mysql.RowDataPacket[]>('select 1 as one');
      assert.equal(rows[0]!.one, 1, 'the session goes on');
    } finally {
      await Promise.all([a.end(), b.end(), other.end()]);
    }
  });

  it('refuses COM_CHANGE_USER with 1235 (a session is one ephemeral user) and goes on', async () => {
    const c = await connect('gina');
    try {
      const [before] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
      await assert.rejects(c.changeUser({ user: 'root', password: '' }), (e: { errno?: number }) => e.errno === 1235);
      const [after] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
      assert.equal(after[0]!.u, before[0]!.u);
    } finally {
      await c.end();
    }
  });

  it('works with the mariadb CLI over TLS', async () => {
    const token = await tp.token('dave');
    const { stdout } = await run('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'dave', `-p${token}`, '--ssl', '--skip-ssl-verify-server-cert', 'shop', '-N', '-e', 'select 41 + 1'], { timeout: 20_000 }).catch((e) => {
      throw new Error(`mariadb CLI failed: ${e.stderr ?? e.message}`);
    });
    assert.equal(stdout.trim(), '42');
  });

  it('tls.require: a plain login is refused with 1045 saying so, a TLS one works', async () => {
    const strict = await startTestProxy(up, { targetName: 'shop', extra: { listen: { mysql: '127.0.0.1:0' }, tls: { require: true } } });
    try {
      const p = strict.proxy.addresses.mysql!.port;
      const opts = async (sub: string) => ({ host: '127.0.0.1', port: p, user: sub, password: await strict.token(sub), database: 'shop' });
      await assert.rejects(mysql.createConnection(await opts('plain')), (e: { errno?: number; message: string }) => e.errno === 1045 && /requires TLS/.test(e.message));
      const c = await mysql.createConnection({ ...(await opts('secure')), ssl: { rejectUnauthorized: false } });
      const [rows] = await c.query<mysql.RowDataPacket[]>('select 1 as one');
      assert.equal(rows[0]!.one, 1);
      await c.end();
    } finally {
      await strict.stop();
    }
  });

  it('limits.idleTimeout ends an idle session with 4031, and its user is dropped', async () => {
    const idle = await startTestProxy(up, { targetName: 'shop', extra: { listen: { mysql: '127.0.0.1:0' }, limits: { idleTimeout: '1s' } } });
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: idle.proxy.addresses.mysql!.port, user: 'idler', password: await idle.token('idler'), database: 'shop' });
      const errors: Error[] = [];
      c.on('error', (e) => errors.push(e));
      const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
      const user = String(rows[0]!.u).split('@')[0]!;
      assert.ok(await waitFor(() => errors.length > 0, 5000), 'the client hears of the end');
      // mysql2 reports an unsolicited ERR_Packet (sequence id 0) with its number as `code`.
      const e = errors[0] as { errno?: number; code?: unknown; message: string };
      assert.equal(e.errno ?? e.code, 4031, e.message);
      assert.match(e.message, /idle timeout/);
      assert.ok(await waitFor(async () => !(await jitMysqlUsers(up)).includes(user), 5000));
      c.destroy();
    } finally {
      await idle.stop();
    }
  });

  it('limits.maxMessage bounds a command spanning 16 MB packets: 1047, the session ends, its user is dropped', async () => {
    const small = await startTestProxy(up, { targetName: 'shop', extra: { listen: { mysql: '127.0.0.1:0' }, limits: { maxMessage: 17 * 2 ** 20 } } });
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: small.proxy.addresses.mysql!.port, user: 'big', password: await small.token('big'), database: 'shop' });
      c.on('error', () => undefined);
      const [rows] = await c.query<mysql.RowDataPacket[]>('select current_user() as u');
      const user = String(rows[0]!.u).split('@')[0]!;
      const sql = `select length('${'z'.repeat(18 * 2 ** 20)}') as n`;
      await assert.rejects(c.query(sql), (e: { errno?: number; code?: unknown; message: string }) => (e.errno ?? e.code) === 1047 && /maxMessage/.test(e.message));
      assert.ok(await waitFor(async () => !(await jitMysqlUsers(up)).includes(user), 5000));
      c.destroy();
    } finally {
      await small.stop();
    }
  });

  it('a row too large to hold for masking (over limits.maxMessage) fails its statement closed (1105); the session goes on', async () => {
    const small = await startTestProxy(up, {
      targetName: 'shop',
      extra: { listen: { mysql: '127.0.0.1:0' }, limits: { maxMessage: 2 ** 24 }, masking: { detectors: ['email'] } },
    });
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: small.proxy.addresses.mysql!.port, user: 'row', password: await small.token('row'), database: 'shop' });
      // 16 MB of value: the row takes two packets, 9 bytes more than limits.maxMessage.
      await assert.rejects(c.query(`select repeat('z', ${2 ** 24}) as big`), (e: { errno?: number; message: string }) => e.errno === 1105 && /maxMessage/.test(e.message));
      const [rows] = await c.query<mysql.RowDataPacket[]>('select 1 as one');
      assert.equal(rows[0]!.one, 1);
      await c.end();
    } finally {
      await small.stop();
    }
  });
});
