// The codecs against the local MariaDB (127.0.0.1:3306, root with an empty password): a raw node:net socket
// speaks the protocol with nothing but protocols/mysql; mysql2 only creates and drops the throwaway objects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import mysql from 'mysql2/promise';
import * as my from '../../../protocols/mysql/index.js';

const HOST = '127.0.0.1';
const PORT = 3306;

interface Packet {
  seq: number;
  payload: Buffer;
}

/** A raw client socket: physical packets in arrival order, framed with PacketFramer. */
class RawConnection {
  private readonly framer = new my.PacketFramer({ maxLength: my.MAX_PAYLOAD });
  private readonly queue: Packet[] = [];
  private waiter: ((p: Packet) => void) | null = null;
  private failure: Error | null = null;
  /** Raw bytes of every packet received, for byte-identical checks. */
  readonly received: Buffer[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) =>
      this.framer.push(chunk, (seq, buf, start, end) => {
        this.received.push(Buffer.from(buf.subarray(start, end)));
        const p = { seq, payload: Buffer.from(my.payloadOf(buf, start, end)) };
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = null;
          w(p);
        } else this.queue.push(p);
      }),
    );
    socket.on('error', (e) => (this.failure = e));
  }

  static open(): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: HOST, port: PORT }, () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  next(): Promise<Packet> {
    if (this.failure) return Promise.reject(this.failure);
    const p = this.queue.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no packet from the server within 10 s')), 10_000);
      this.waiter = (q) => {
        clearTimeout(timer);
        resolve(q);
      };
    });
  }

  send(seq: number, payload: Buffer): void {
    this.socket.write(my.packet(seq, payload));
  }

  close(): void {
    this.send(0, Buffer.from([my.COM_QUIT]));
    this.socket.end();
  }
}

const suffix = crypto.randomBytes(4).toString('hex');
const USER = `jgcodec_${suffix}`;
const DB = `jgcodec_${suffix}`;
const PASSWORD = `pw-${crypto.randomBytes(8).toString('hex')}`;

let admin: mysql.Connection;

before(async () => {
  admin = await mysql.createConnection({ host: HOST, port: PORT, user: 'root', password: '' });
  await admin.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY PASSWORD '${my.nativePasswordHash(PASSWORD)}'`);
  await admin.query(`CREATE DATABASE \`${DB}\``);
  await admin.query(
    `CREATE TABLE \`${DB}\`.t (
       id INT PRIMARY KEY, i INT, big BIGINT, d DOUBLE, f FLOAT, dec_ DECIMAL(10,2), s VARCHAR(20),
       dt DATETIME(6), dd DATE, tm TIME(6), b BLOB, n INT NULL, ti TINYINT, sm SMALLINT, md MEDIUMINT, y YEAR,
       e ENUM('red','green'), bits BIT(12), j JSON)`,
  );
  await admin.query(
    `INSERT INTO \`${DB}\`.t VALUES
       (1, -7, 9007199254740993, 3.5, 1.25, 12.34, 'héllo', '2024-02-29 13:14:15.123456', '2024-02-29', '-838:59:59', x'00ff10', NULL, -128, 32767, -8388608, 2024, 'green', b'101010101010', '{"k":[1,2]}'),
       (2, 2147483647, -1, -0.0, NULL, -0.01, '', '2024-01-02 00:00:00', '1000-01-01', '00:00:00', '', 5, 127, -1, 1, 1901, 'red', b'0', 'null'),
       (3, NULL, NULL, NULL, NULL, NULL, NULL, '1999-12-31 23:59:59', NULL, '01:02:03.000001', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  );
  await admin.query(`GRANT SELECT, UPDATE ON \`${DB}\`.* TO '${USER}'@'%'`);
});

after(async () => {
  try {
    await admin.query(`DROP USER IF EXISTS '${USER}'@'%'`);
    await admin.query(`DROP DATABASE IF EXISTS \`${DB}\``);
  } finally {
    await admin.end();
  }
});

const BASE_CAPS =
  my.CLIENT_PROTOCOL_41 |
  my.CLIENT_SECURE_CONNECTION |
  my.CLIENT_PLUGIN_AUTH |
  my.CLIENT_TRANSACTIONS |
  my.CLIENT_MULTI_RESULTS |
  my.CLIENT_CONNECT_WITH_DB;

interface Session {
  conn: RawConnection;
  handshake: my.HandshakeV10;
  handshakeBytes: Buffer;
  caps: number;
}

/** Reads the HandshakeV10, answers with HandshakeResponse41 (following an AuthSwitchRequest if one comes), returns after the OK_Packet. */
async function login(caps: number, opts: { password?: string; mariadbCapabilities?: number } = {}): Promise<Session> {
  const conn = await RawConnection.open();
  const first = await conn.next();
  assert.equal(first.seq, 0);
  const handshake = my.decodeHandshakeV10(first.payload);
  const response: my.HandshakeResponse41 = {
    capabilities: caps,
    maxPacketSize: 1 << 24,
    characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
    username: USER,
    authResponse: my.nativePasswordScramble(opts.password ?? PASSWORD, handshake.authPluginData),
    database: DB,
    authPluginName: my.MYSQL_NATIVE_PASSWORD,
    attributes: new Map([
      ['_client_name', 'jitgate-codec-test'],
      ['program_name', 'node'],
    ]),
  };
  if (opts.mariadbCapabilities !== undefined) response.mariadbCapabilities = opts.mariadbCapabilities;
  conn.send(1, my.encodeHandshakeResponse41(response));
  let reply = await conn.next();
  if (reply.payload[0] === my.AUTH_SWITCH_REQUEST_HEADER) {
    const sw = my.decodeAuthSwitchRequest(reply.payload);
    assert.equal(sw.pluginName, my.MYSQL_NATIVE_PASSWORD);
    conn.send(reply.seq + 1, my.nativePasswordScramble(opts.password ?? PASSWORD, my.scrambleOf(sw.pluginData)));
    reply = await conn.next();
  }
  if (my.isErrPacket(reply.payload)) {
    const err = my.decodeErrPacket(reply.payload);
    conn.close();
    throw Object.assign(new Error(err.message), err);
  }
  assert.ok(my.isOkPacket(reply.payload), 'login answered with an OK_Packet');
  const ok = my.decodeOkPacket(reply.payload, caps);
  assert.equal(ok.header, 0x00);
  assert.ok(ok.statusFlags & my.SERVER_STATUS_AUTOCOMMIT);
  assert.ok(my.encodeOkPacket(ok, caps).equals(reply.payload), 'login OK_Packet re-encodes byte-identically');
  return { conn, handshake, handshakeBytes: first.payload, caps };
}

interface Resultset {
  columns: my.ColumnDefinition41[];
  rows: (Buffer | null)[][];
  end: { statusFlags: number; warnings: number };
}

/** Reads `count` ColumnDefinition41 packets and, without CLIENT_DEPRECATE_EOF, the EOF_Packet after them; each re-encodes byte-identically. */
async function readDefinitions(s: Session, count: number): Promise<my.ColumnDefinition41[]> {
  const columns: my.ColumnDefinition41[] = [];
  for (let i = 0; i < count; i++) {
    const p = await s.conn.next();
    const c = my.decodeColumnDefinition41(p.payload);
    assert.ok(my.encodeColumnDefinition41(c).equals(p.payload), `column definition ${c.name} re-encodes byte-identically`);
    columns.push(c);
  }
  if (!(s.caps & my.CLIENT_DEPRECATE_EOF)) {
    const eof = await s.conn.next();
    assert.ok(my.isEofPacket(eof.payload));
    const e = my.decodeEofPacket(eof.payload);
    assert.ok(my.encodeEofPacket(e.statusFlags, e.warnings).equals(eof.payload));
  }
  return columns;
}

/** Reads column definitions, rows and the terminator (EOF_Packet, or OK_Packet 0xFE); every packet re-encodes byte-identically. */
async function readResultset(s: Session, columnCount: number, binary: boolean): Promise<Resultset> {
  const deprecateEof = (s.caps & my.CLIENT_DEPRECATE_EOF) !== 0;
  const columns = await readDefinitions(s, columnCount);
  const rows: (Buffer | null)[][] = [];
  for (;;) {
    const p = await s.conn.next();
    if (deprecateEof ? my.isResultsetEnd(p.payload) : my.isEofPacket(p.payload)) {
      let end: Resultset['end'];
      if (deprecateEof) {
        const ok = my.decodeOkPacket(p.payload, s.caps);
        assert.equal(ok.header, 0xfe);
        assert.ok(my.encodeOkPacket(ok, s.caps).equals(p.payload), 'terminating OK_Packet re-encodes byte-identically');
        end = ok;
      } else {
        end = my.decodeEofPacket(p.payload);
        assert.ok(my.encodeEofPacket(end.statusFlags, end.warnings).equals(p.payload));
      }
      return { columns, rows, end };
    }
    if (binary) {
      const row = my.decodeBinaryRow(p.payload, columns);
      assert.ok(my.encodeBinaryRow(columns, row).equals(p.payload), `binary row ${rows.length} re-encodes byte-identically`);
      rows.push(row);
    } else {
      const row = my.decodeTextRow(p.payload, columnCount);
      assert.ok(my.encodeTextRow(row).equals(p.payload), `text row ${rows.length} re-encodes byte-identically`);
      rows.push(row);
    }
  }
}

async function query(s: Session, sql: string): Promise<Resultset | my.OkPacket | my.ErrPacket> {
  s.conn.send(0, my.encodeComQuery(sql));
  const first = await s.conn.next();
  assert.equal(first.seq, 1);
  if (my.isErrPacket(first.payload)) return my.decodeErrPacket(first.payload);
  if (my.isOkPacket(first.payload)) return my.decodeOkPacket(first.payload, s.caps);
  return readResultset(s, my.decodeColumnCount(first.payload), false);
}

const text = (v: Buffer | null | undefined) => (v === null || v === undefined ? null : v.toString('utf8'));

for (const flavour of ['MySQL 4.1 client, EOF packets', 'MariaDB client, CLIENT_DEPRECATE_EOF and session tracking'] as const) {
  const mariadbClient = flavour.startsWith('MariaDB');
  const caps = mariadbClient
    ? BASE_CAPS | my.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | my.CLIENT_CONNECT_ATTRS | my.CLIENT_DEPRECATE_EOF | my.CLIENT_SESSION_TRACK
    : BASE_CAPS | my.CLIENT_LONG_PASSWORD | my.CLIENT_LONG_FLAG;

  describe(`against the local MariaDB: ${flavour}`, () => {
    let s: Session;

    before(async () => {
      s = await login(caps, mariadbClient ? { mariadbCapabilities: 0 } : {});
    });
    after(() => s?.conn.close());

    it('HandshakeV10: decoded, MariaDB extended capabilities present, re-encodes byte-identically', () => {
      const h = s.handshake;
      assert.equal(h.protocolVersion, 10);
      assert.match(h.serverVersion, /MariaDB/);
      assert.equal(h.authPluginData.length, 20);
      assert.ok(!h.authPluginData.includes(0), 'scramble without NUL');
      assert.equal(h.authPluginName, my.MYSQL_NATIVE_PASSWORD);
      assert.ok(h.capabilities & my.CLIENT_PROTOCOL_41 && h.capabilities & my.CLIENT_PLUGIN_AUTH && h.capabilities & my.CLIENT_DEPRECATE_EOF);
      assert.equal(h.capabilities & my.CLIENT_MYSQL, 0, 'MariaDB clears CLIENT_MYSQL');
      assert.equal(typeof h.mariadbCapabilities, 'number');
      assert.ok(h.mariadbCapabilities! & my.MARIADB_CLIENT_STMT_BULK_OPERATIONS);
      assert.ok(my.encodeHandshakeV10(h).equals(s.handshakeBytes));
    });

    it('COM_QUERY select 1 as a, null as b, \'x\' as c: column count, ColumnDefinition41, text row, end packet', async () => {
      const rs = (await query(s, `select 1 as a, null as b, 'x' as c`)) as Resultset;
      assert.deepEqual(rs.columns.map((c) => c.name), ['a', 'b', 'c']);
      assert.deepEqual(rs.columns.map((c) => c.catalog), ['def', 'def', 'def']);
      assert.equal(rs.columns[1]!.type, my.MYSQL_TYPE_NULL);
      assert.equal(rs.columns[2]!.type, my.MYSQL_TYPE_VAR_STRING);
      assert.deepEqual(rs.rows.map((r) => r.map(text)), [['1', null, 'x']]);
      assert.ok(rs.end.statusFlags & my.SERVER_STATUS_AUTOCOMMIT);
    });

    it('text resultset of a table with many column types', async () => {
      const rs = (await query(s, 'select * from t order by id')) as Resultset;
      assert.equal(rs.columns[0]!.orgTable, 't');
      assert.equal(rs.columns[0]!.schema, DB);
      assert.ok(rs.columns[0]!.flags & my.PRI_KEY_FLAG && rs.columns[0]!.flags & my.NOT_NULL_FLAG);
      assert.ok(rs.columns.find((c) => c.name === 'b')!.flags & my.BLOB_FLAG);
      assert.equal(rs.rows.length, 3);
      const byName = (row: (Buffer | null)[], n: string) => row[rs.columns.findIndex((c) => c.name === n)];
      assert.equal(text(byName(rs.rows[0]!, 'big')), '9007199254740993');
      assert.equal(text(byName(rs.rows[0]!, 's')), 'héllo');
      assert.deepEqual([...byName(rs.rows[0]!, 'b')!], [0x00, 0xff, 0x10]);
      assert.equal(byName(rs.rows[0]!, 'n'), null);
      assert.equal(text(byName(rs.rows[1]!, 's')), '', 'empty string is not NULL');
    });

    it('ERR_Packet with SQLSTATE for a missing table', async () => {
      const err = (await query(s, 'select * from no_such_table')) as my.ErrPacket;
      assert.equal(err.errno, 1146);
      assert.equal(err.sqlstate, '42S02');
      assert.match(err.message, /no_such_table/);
    });

    it('OK_Packet of an UPDATE carries affected rows and the info string', async () => {
      const ok = (await query(s, 'update t set s = s where id < 3')) as my.OkPacket;
      assert.equal(ok.header, 0);
      assert.equal(ok.affectedRows, 0);
      assert.match(ok.info, /Rows matched: 2 +Changed: 0 +Warnings: 0/);
    });

    if (mariadbClient) {
      it('OK_Packet with session state changes (USE, SET) re-encodes byte-identically', async () => {
        for (const sql of [`use \`${DB}\``, 'set autocommit = 1']) {
          s.conn.send(0, my.encodeComQuery(sql));
          const p = await s.conn.next();
          const ok = my.decodeOkPacket(p.payload, caps);
          assert.ok(ok.statusFlags & my.SERVER_SESSION_STATE_CHANGED, sql);
          assert.ok(ok.sessionStateChanges && ok.sessionStateChanges.length > 0, sql);
          assert.ok(my.encodeOkPacket(ok, caps).equals(p.payload), `${sql}: byte-identical`);
        }
      });
    }

    it('COM_STMT_PREPARE / COM_STMT_EXECUTE: binary rows of many types decode and re-encode byte-identically', async () => {
      const sql = 'select i, big, d, f, dec_, s, dt, dd, tm, b, n, ti, sm, md, y, e, bits, j, null as nothing from t order by id';
      s.conn.send(0, my.encodeComStmtPrepare(sql));
      const prep = await s.conn.next();
      const ok = my.decodeStmtPrepareOk(prep.payload);
      assert.ok(my.encodeStmtPrepareOk(ok).equals(prep.payload));
      assert.equal(ok.numParams, 0);
      assert.equal(ok.numColumns, 19);
      const prepared = await readDefinitions(s, ok.numColumns);
      assert.equal(prepared[0]!.name, 'i');

      const exec = { statementId: ok.statementId, flags: my.CURSOR_TYPE_NO_CURSOR, iterationCount: 1 };
      const execPayload = my.encodeComStmtExecute(exec);
      assert.deepEqual(my.decodeComStmtExecute(execPayload), exec);
      s.conn.send(0, execPayload);
      const count = await s.conn.next();
      const n = my.decodeColumnCount(count.payload);
      assert.equal(n, 19);
      const rs = await readResultset(s, n, true);
      assert.equal(rs.rows.length, 3);
      const col = (name: string) => rs.columns.findIndex((c) => c.name === name);
      const [r1, r2, r3] = rs.rows as Buffer[][];
      assert.equal(rs.columns[col('i')]!.type, my.MYSQL_TYPE_LONG);
      assert.equal(r1![col('i')]!.readInt32LE(), -7);
      assert.equal(r2![col('i')]!.readInt32LE(), 2147483647);
      assert.equal(r1![col('big')]!.readBigInt64LE(), 9007199254740993n);
      assert.equal(r2![col('big')]!.readBigInt64LE(), -1n);
      assert.equal(r1![col('d')]!.readDoubleLE(), 3.5);
      assert.equal(r1![col('f')]!.readFloatLE(), 1.25);
      assert.equal(r2![col('f')], null);
      assert.equal(rs.columns[col('dec_')]!.type, my.MYSQL_TYPE_NEWDECIMAL);
      assert.equal(text(r1![col('dec_')]), '12.34');
      assert.equal(text(r2![col('dec_')]), '-0.01');
      assert.equal(text(r1![col('s')]), 'héllo');
      assert.equal(r2![col('s')]!.length, 0);
      // DATETIME: year int<2>, month, day, hour, minute, second, microsecond int<4> (11 bytes with fractions).
      const dt = r1![col('dt')]!;
      assert.equal(dt.length, 11);
      assert.deepEqual([dt.readUInt16LE(0), dt[2], dt[3], dt[4], dt[5], dt[6], dt.readUInt32LE(7)], [2024, 2, 29, 13, 14, 15, 123456]);
      assert.equal(r2![col('dt')]!.length, 4, 'midnight without fractions: date only');
      assert.equal(r3![col('dt')]!.length, 7, 'no fractions: 7 bytes');
      assert.equal(r1![col('dd')]!.length, 4);
      // TIME: is_negative, days int<4>, hour, minute, second (8 bytes), + microseconds (12).
      const tm = r1![col('tm')]!;
      assert.equal(tm[0], 1, 'negative');
      assert.equal(tm.readUInt32LE(1) * 24 + tm[5]!, 838);
      assert.equal(r2![col('tm')]!.length, 0, 'zero time: no bytes');
      assert.equal(r3![col('tm')]!.length, 12);
      assert.deepEqual([...r1![col('b')]!], [0x00, 0xff, 0x10]);
      assert.equal(r1![col('n')], null);
      assert.equal(r2![col('n')]!.readInt32LE(), 5);
      assert.equal(r1![col('ti')]!.readInt8(), -128);
      assert.equal(r1![col('sm')]!.readInt16LE(), 32767);
      assert.equal(r1![col('md')]!.readInt32LE(), -8388608);
      assert.equal(r1![col('y')]!.readUInt16LE(), 2024);
      assert.equal(text(r1![col('e')]), 'green');
      assert.equal(r1![col('bits')]!.readUInt16BE(), 0b101010101010);
      assert.equal(text(r1![col('j')]), '{"k":[1,2]}');
      assert.equal(rs.columns[col('nothing')]!.type, my.MYSQL_TYPE_NULL);
      for (const r of rs.rows) assert.equal(r[col('nothing')], null);
      for (let i = 0; i < rs.columns.length; i++) assert.equal(r3![i] === null, i !== col('dt') && i !== col('tm'), `row 3 column ${i}`);

      s.conn.send(0, new my.PayloadWriter().int1(my.COM_STMT_CLOSE).int4(ok.statementId).finish());
    });
  });
}

describe('against the local MariaDB: refused logins', () => {
  it('a wrong password gets ERR_Packet 1045 / 28000', async () => {
    await assert.rejects(login(BASE_CAPS | my.CLIENT_LONG_PASSWORD, { password: 'wrong' }), (e: my.ErrPacket) => {
      assert.equal(e.errno, my.ER_ACCESS_DENIED_ERROR);
      assert.equal(e.sqlstate, my.sqlstateOf(my.ER_ACCESS_DENIED_ERROR));
      assert.match(e.message, new RegExp(`Access denied for user '${USER}'`));
      return true;
    });
  });
});
