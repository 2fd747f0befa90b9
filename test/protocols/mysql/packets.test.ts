import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as my from '../../../protocols/mysql/index.js';
import { PayloadReader, PayloadWriter, ProtocolError, lenencIntLength } from '../../../protocols/mysql/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('PayloadReader / PayloadWriter: basic data types', () => {
  it('fixed-length integers are little-endian and round-trip', () => {
    const b = new PayloadWriter().int1(0xab).int2(0x1234).int3(0xabcdef).int4(0xfedcba98).int8(0x0102030405060708n).int8(5).finish();
    assert.equal(b.toString('hex'), 'ab' + '3412' + 'efcdab' + '98badcfe' + '0807060504030201' + '0500000000000000');
    const r = new PayloadReader(b);
    assert.deepEqual([r.int1(), r.int2(), r.int3(), r.int4(), r.int8(), r.int8()], [0xab, 0x1234, 0xabcdef, 0xfedcba98, 0x0102030405060708n, 5n]);
    assert.equal(r.remaining, 0);
  });

  const boundaries: [number, string][] = [
    [0, '00'],
    [250, 'fa'],
    [251, 'fcfb00'],
    [252, 'fcfc00'],
    [0xffff, 'fcffff'],
    [0x10000, 'fd000001'],
    [0xffffff, 'fdffffff'],
    [0x1000000, 'fe0000000100000000'],
    [2 ** 32, 'fe0000000001000000'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f00'],
  ];
  for (const [n, encoded] of boundaries) {
    it(`int<lenenc> ${n}: ${encoded}`, () => {
      const b = new PayloadWriter().lenencInt(n).finish();
      assert.equal(b.toString('hex'), encoded);
      assert.equal(lenencIntLength(n), b.length);
      const r = new PayloadReader(b);
      assert.equal(r.lenencInt(), n);
      assert.equal(r.remaining, 0);
    });
  }

  it('int<lenenc>: 0xFB is NULL, 0xFF and values above 2^53 throw ProtocolError, negative or fractional cannot be written', () => {
    assert.equal(new PayloadReader(hex('fb')).lenencInt(), null);
    assert.equal(new PayloadReader(hex('fb')).lenencBytes(), null);
    assert.throws(() => new PayloadReader(hex('fb')).lenencString(), ProtocolError);
    assert.throws(() => new PayloadReader(hex('ff')).lenencInt(), ProtocolError);
    assert.throws(() => new PayloadReader(hex('fe0000000000002000')).lenencInt(), ProtocolError, '2^53');
    assert.throws(() => new PayloadReader(hex('feffffffffffffffff')).lenencInt(), ProtocolError);
    assert.throws(() => new PayloadWriter().lenencInt(-1), ProtocolError);
    assert.throws(() => new PayloadWriter().lenencInt(1.5), ProtocolError);
    assert.throws(() => new PayloadWriter().lenencInt(2 ** 53), ProtocolError);
  });

  it('string<lenenc> at the length boundaries is a view of the payload', () => {
    for (const n of [0, 250, 251, 0xffff, 0x10000]) {
      const s = Buffer.alloc(n, 0x61);
      const b = new PayloadWriter().lenencBytes(s).int1(7).finish();
      assert.equal(b.length, lenencIntLength(n) + n + 1);
      const r = new PayloadReader(b);
      const v = r.lenencBytes()!;
      assert.ok(v.equals(s));
      assert.equal(v.buffer, b.buffer, 'a view');
      assert.equal(r.int1(), 7);
    }
  });

  it('string<NUL>, string<EOF>, bytes, skip', () => {
    const b = new PayloadWriter().nulString('héllo').string('rest').finish();
    const r = new PayloadReader(b);
    assert.equal(r.nulString(), 'héllo');
    assert.equal(r.rest().toString(), 'rest');
    assert.throws(() => new PayloadWriter().nulString('a\0b'), ProtocolError);
    assert.throws(() => new PayloadReader(Buffer.from('abc')).nulString(), ProtocolError, 'unterminated');
    // A NUL after `end` does not count.
    assert.throws(() => new PayloadReader(Buffer.from('abc\0'), 0, 3).nulString(), ProtocolError);
    const r2 = new PayloadReader(Buffer.from('abcdef'), 1, 4);
    r2.skip(1);
    assert.equal(r2.bytes(2).toString(), 'cd');
    assert.throws(() => r2.bytes(1), ProtocolError);
    assert.throws(() => r2.skip(1), ProtocolError);
    assert.throws(() => new PayloadReader(Buffer.alloc(4)).bytes(-1), ProtocolError);
  });

  it('every read past the end throws ProtocolError', () => {
    const reads: ((r: PayloadReader) => unknown)[] = [
      (r) => r.int1(),
      (r) => r.int2(),
      (r) => r.int3(),
      (r) => r.int4(),
      (r) => r.int8(),
      (r) => r.lenencInt(),
      (r) => r.lenencBytes(),
      (r) => r.nulBytes(),
    ];
    for (const read of reads) assert.throws(() => read(new PayloadReader(Buffer.alloc(0))), ProtocolError);
    for (const b of ['fc01', 'fd0100', 'fe01000000000000', '05616263']) {
      assert.throws(() => new PayloadReader(hex(b)).lenencBytes(), ProtocolError, b);
    }
  });

  it('the writer grows', () => {
    const w = new PayloadWriter(1);
    for (let i = 0; i < 1000; i++) w.int4(i);
    const b = w.finish();
    assert.equal(b.length, 4000);
    assert.equal(b.readUInt32LE(3996), 999);
    assert.ok(new PayloadWriter().zeros(5).finish().equals(Buffer.alloc(5)));
  });
});

// ---------- packets: documented examples ----------

describe('documented example payloads', () => {
  it('OK_Packet 00 00 00 02 00 00 00', () => {
    const p = hex('00 00 00 02 00 00 00');
    assert.ok(my.isOkPacket(p));
    const ok = my.decodeOkPacket(p, my.CLIENT_PROTOCOL_41);
    assert.deepEqual(ok, { header: 0, affectedRows: 0, lastInsertId: 0, statusFlags: my.SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' });
    assert.ok(my.encodeOkPacket(ok, my.CLIENT_PROTOCOL_41).equals(p));
  });

  it('ERR_Packet 1096 HY000 No tables used', () => {
    const p = Buffer.concat([hex('ff 48 04 23'), Buffer.from('HY000No tables used')]);
    assert.ok(my.isErrPacket(p));
    const e = my.decodeErrPacket(p);
    assert.deepEqual(e, { errno: 1096, sqlstate: 'HY000', message: 'No tables used' });
    assert.ok(my.encodeErrPacket(e).equals(p));
  });

  it('ERR_Packet without the SQLSTATE marker (sent before the client is known to speak 4.1)', () => {
    const p = Buffer.concat([hex('ff 10 04'), Buffer.from('Too many connections')]);
    assert.deepEqual(my.decodeErrPacket(p), { errno: 1040, sqlstate: 'HY000', message: 'Too many connections' });
    const withMarker = my.encodeErrPacket({ errno: 1045, sqlstate: '28000', message: '#x' });
    assert.equal(my.decodeErrPacket(withMarker, 0).message, '#28000#x', 'pre-4.1: no marker looked for');
  });

  it('EOF_Packet fe 00 00 02 00', () => {
    const p = hex('fe 00 00 02 00');
    assert.ok(my.isEofPacket(p));
    assert.deepEqual(my.decodeEofPacket(p), { warnings: 0, statusFlags: 2 });
    assert.ok(my.encodeEofPacket(2).equals(p));
    assert.equal(my.isEofPacket(hex('fe 00 00 00 00 00 00 00 00')), false, '9 bytes: not an EOF_Packet');
  });

  it('binary row 00 00 06 foobar (one VAR_STRING column)', () => {
    const p = Buffer.concat([hex('00 00 06'), Buffer.from('foobar')]);
    const cols = [{ type: my.MYSQL_TYPE_VAR_STRING, flags: 0 }];
    const row = my.decodeBinaryRow(p, cols);
    assert.equal(row[0]!.toString(), 'foobar');
    assert.ok(my.encodeBinaryRow(cols, row).equals(p));
  });

  it('ColumnDefinition41 of the documented example (def, col1, VAR_STRING)', () => {
    const p = hex('03 64 65 66 00 00 00 04 63 6f 6c 31 00 0c 08 00 06 00 00 00 fd 00 00 1f 00 00');
    const c = my.decodeColumnDefinition41(p);
    assert.deepEqual(c, {
      catalog: 'def',
      schema: '',
      table: '',
      orgTable: '',
      name: 'col1',
      orgName: '',
      characterSet: 8,
      columnLength: 6,
      type: my.MYSQL_TYPE_VAR_STRING,
      flags: 0,
      decimals: 31,
    });
    assert.ok(my.encodeColumnDefinition41(c).equals(p));
  });

  it('LOCAL INFILE request and packet classification', () => {
    assert.ok(my.isLocalInfileRequest(Buffer.from('\xfb/etc/passwd', 'latin1')));
    assert.throws(() => my.decodeColumnCount(hex('fb')), ProtocolError);
    assert.throws(() => my.decodeColumnCount(hex('00 00 00 02 00 00 00')), ProtocolError);
    assert.throws(() => my.decodeColumnCount(hex('ff 48 04')), ProtocolError);
    assert.throws(() => my.decodeColumnCount(hex('fe 00 00 02 00')), ProtocolError);
    assert.throws(() => my.decodeColumnCount(hex('03 00')), ProtocolError, 'trailing bytes');
    assert.equal(my.decodeColumnCount(hex('03')), 3);
    assert.equal(my.decodeColumnCount(hex('fc 2c 01')), 300);
    assert.ok(my.encodeColumnCount(300).equals(hex('fc 2c 01')));
    assert.throws(() => my.encodeColumnCount(0), ProtocolError);
    assert.throws(() => my.encodeColumnCount(0x1000000), ProtocolError);
    assert.equal(my.isResultsetEnd(hex('fe 00 00 02 00 00 00')), true);
    assert.equal(my.isResultsetEnd(Buffer.alloc(my.MAX_PAYLOAD, 0xfe)), false, 'a full 16 MB packet is a row');
  });
});

// ---------- round trips ----------

const scramble = Buffer.from('abcdefghijklmnopqrst');

describe('round trips', () => {
  it('HandshakeV10, MariaDB style (CLIENT_MYSQL clear, extended capabilities)', () => {
    const h: my.HandshakeV10 = {
      protocolVersion: 10,
      serverVersion: '5.5.5-10.11.19-MariaDB',
      connectionId: 0xfffffffe,
      authPluginData: scramble,
      capabilities: 0xfffffffe & ~my.CLIENT_SSL,
      mariadbCapabilities: 0x1d,
      characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
      statusFlags: my.SERVER_STATUS_AUTOCOMMIT,
      authPluginName: my.MYSQL_NATIVE_PASSWORD,
    };
    h.capabilities >>>= 0;
    const p = my.encodeHandshakeV10(h);
    assert.deepEqual(my.decodeHandshakeV10(p), h);
    assert.equal(p[p.length - 1], 0, 'plugin name NUL-terminated');
  });

  it('HandshakeV10, MySQL style: extended bytes ignored, plugin name without NUL accepted, no CLIENT_PLUGIN_AUTH', () => {
    const h: my.HandshakeV10 = {
      protocolVersion: 10,
      serverVersion: '8.4.0',
      connectionId: 12,
      authPluginData: scramble,
      capabilities: (my.CLIENT_LONG_PASSWORD | my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION | my.CLIENT_PLUGIN_AUTH | my.CLIENT_SSL) >>> 0,
      characterSet: 255,
      statusFlags: 2,
      authPluginName: my.CACHING_SHA2_PASSWORD,
    };
    const p = my.encodeHandshakeV10({ ...h, mariadbCapabilities: 99 });
    assert.deepEqual(my.decodeHandshakeV10(p), h, 'mariadbCapabilities not sent when CLIENT_MYSQL is set');
    assert.deepEqual(my.decodeHandshakeV10(p.subarray(0, -1)), h, 'missing final NUL');
    const old = { ...h, capabilities: my.CLIENT_LONG_PASSWORD | my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION, authPluginName: '' };
    const q = my.encodeHandshakeV10(old);
    assert.deepEqual(my.decodeHandshakeV10(q), old);
    assert.throws(() => my.decodeHandshakeV10(Buffer.concat([Buffer.from([9]), q.subarray(1)])), ProtocolError, 'protocol 9');
  });

  it('HandshakeResponse41 in each auth-response encoding, with and without optional fields', () => {
    const base = {
      maxPacketSize: 1 << 24,
      characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
      username: 'alice',
      authResponse: Buffer.alloc(300, 7),
    };
    const lenenc: my.HandshakeResponse41 = {
      ...base,
      capabilities:
        my.CLIENT_PROTOCOL_41 |
        my.CLIENT_SECURE_CONNECTION |
        my.CLIENT_PLUGIN_AUTH |
        my.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
        my.CLIENT_CONNECT_WITH_DB |
        my.CLIENT_CONNECT_ATTRS,
      mariadbCapabilities: my.MARIADB_CLIENT_PROGRESS,
      database: 'app',
      authPluginName: my.CACHING_SHA2_PASSWORD,
      attributes: new Map([
        ['_client_name', 'libmariadb'],
        ['k', 'x'.repeat(300)],
      ]),
    };
    assert.deepEqual(my.decodeHandshakeResponse41(my.encodeHandshakeResponse41(lenenc)), lenenc);

    const secure: my.HandshakeResponse41 = {
      ...base,
      authResponse: scramble,
      capabilities: my.CLIENT_LONG_PASSWORD | my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION | my.CLIENT_PLUGIN_AUTH,
      authPluginName: my.MYSQL_NATIVE_PASSWORD,
    };
    assert.deepEqual(my.decodeHandshakeResponse41(my.encodeHandshakeResponse41(secure)), secure);
    assert.throws(() => my.encodeHandshakeResponse41({ ...secure, authResponse: Buffer.alloc(256) }), ProtocolError);

    const nul: my.HandshakeResponse41 = { ...base, authResponse: Buffer.from('secret'), capabilities: my.CLIENT_LONG_PASSWORD | my.CLIENT_PROTOCOL_41 };
    assert.deepEqual(my.decodeHandshakeResponse41(my.encodeHandshakeResponse41(nul)), nul);

    assert.throws(() => my.decodeHandshakeResponse41(my.encodeHandshakeResponse41({ ...base, capabilities: my.CLIENT_LONG_PASSWORD })), ProtocolError, 'pre-4.1 client');
  });

  it('HandshakeResponse41 with CLIENT_CONNECT_WITH_DB and CLIENT_PLUGIN_AUTH but nothing after the auth response', () => {
    const caps = my.CLIENT_LONG_PASSWORD | my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION;
    const p = my.encodeHandshakeResponse41({ capabilities: caps, maxPacketSize: 0, characterSet: 8, username: 'u', authResponse: scramble });
    p.writeUInt32LE(caps | my.CLIENT_CONNECT_WITH_DB | my.CLIENT_PLUGIN_AUTH, 0);
    const r = my.decodeHandshakeResponse41(p);
    assert.equal(r.database, undefined);
    assert.equal(r.authPluginName, undefined);
    assert.equal(r.username, 'u');
  });

  it('SSLRequest: 32 bytes with CLIENT_SSL; isSSLRequest tells it from a HandshakeResponse41', () => {
    const req = { capabilities: my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION, maxPacketSize: 1 << 24, characterSet: 45, mariadbCapabilities: 4 };
    const p = my.encodeSSLRequest(req);
    assert.equal(p.length, 32);
    assert.ok(my.isSSLRequest(p));
    assert.deepEqual(my.decodeSSLRequest(p), { ...req, capabilities: req.capabilities | my.CLIENT_SSL });
    const response = my.encodeHandshakeResponse41({ ...req, capabilities: req.capabilities | my.CLIENT_SSL, username: '', authResponse: Buffer.alloc(0) });
    assert.ok(!my.isSSLRequest(response));
    const noSsl = Buffer.from(p);
    noSsl.writeUInt32LE(my.CLIENT_PROTOCOL_41, 0);
    assert.ok(!my.isSSLRequest(noSsl));
    assert.throws(() => my.decodeSSLRequest(noSsl), ProtocolError);
  });

  it('AuthSwitchRequest and AuthMoreData', () => {
    const withNul = Buffer.concat([scramble, Buffer.from([0])]);
    const p = my.encodeAuthSwitchRequest(my.MYSQL_NATIVE_PASSWORD, withNul);
    assert.equal(p[0], 0xfe);
    const sw = my.decodeAuthSwitchRequest(p);
    assert.equal(sw.pluginName, my.MYSQL_NATIVE_PASSWORD);
    assert.ok(sw.pluginData.equals(withNul));
    assert.ok(my.scrambleOf(sw.pluginData).equals(scramble));
    assert.ok(my.scrambleOf(scramble).equals(scramble));
    assert.deepEqual(my.decodeAuthSwitchRequest(hex('fe')), { pluginName: 'mysql_old_password', pluginData: Buffer.alloc(0) });
    const more = my.encodeAuthMoreData(Buffer.from([my.FAST_AUTH_SUCCESS]));
    assert.deepEqual([...more], [0x01, 0x03]);
    assert.deepEqual([...my.decodeAuthMoreData(more)], [my.FAST_AUTH_SUCCESS]);
    assert.throws(() => my.decodeAuthMoreData(hex('02 03')), ProtocolError);
    assert.throws(() => my.decodeAuthSwitchRequest(hex('01 03')), ProtocolError);
  });

  it('OK_Packet: 4.1, transactions-only, session tracking, 0xFE header, large counts', () => {
    const cases: [Partial<my.OkPacket>, number][] = [
      [{ affectedRows: 3, lastInsertId: 70000, statusFlags: 3, warnings: 1, info: 'Rows matched: 3  Changed: 3  Warnings: 1' }, my.CLIENT_PROTOCOL_41],
      [{ affectedRows: 2 ** 40, lastInsertId: 0xffffff, statusFlags: 2 }, my.CLIENT_TRANSACTIONS],
      [{ affectedRows: 1 }, 0],
      [{ header: 0xfe, statusFlags: 0x22, warnings: 0 }, my.CLIENT_PROTOCOL_41 | my.CLIENT_DEPRECATE_EOF],
      [
        { statusFlags: my.SERVER_SESSION_STATE_CHANGED | 2, info: '', sessionStateChanges: hex('01 05 04 61 62 63 64') },
        my.CLIENT_PROTOCOL_41 | my.CLIENT_SESSION_TRACK,
      ],
      [{ statusFlags: my.SERVER_SESSION_STATE_CHANGED, info: 'i', sessionStateChanges: hex('00 00') }, my.CLIENT_PROTOCOL_41 | my.CLIENT_SESSION_TRACK],
    ];
    for (const [ok, caps] of cases) {
      const full: my.OkPacket = { header: 0, affectedRows: 0, lastInsertId: 0, statusFlags: 0, warnings: 0, info: '', ...ok };
      const decoded = my.decodeOkPacket(my.encodeOkPacket(ok, caps), caps);
      assert.deepEqual(decoded, full, JSON.stringify(ok));
    }
    assert.throws(() => my.decodeOkPacket(hex('ff 00 00'), my.CLIENT_PROTOCOL_41), ProtocolError);
    assert.throws(() => my.decodeOkPacket(hex('00 00 00 02 00 00 00 05 61'), my.CLIENT_PROTOCOL_41), ProtocolError, 'info truncated');
  });

  it('encodeErrPacket refuses a malformed SQLSTATE', () => {
    assert.throws(() => my.encodeErrPacket({ errno: 1, sqlstate: '2800', message: '' }), ProtocolError);
    assert.throws(() => my.encodeErrPacket({ errno: 1, sqlstate: '28000x', message: '' }), ProtocolError);
    const p = my.encodeErrPacket({ errno: my.ER_CONNECTION_KILLED, sqlstate: my.sqlstateOf(my.ER_CONNECTION_KILLED), message: 'Connection was killed' });
    assert.deepEqual(my.decodeErrPacket(p), { errno: 1927, sqlstate: '70100', message: 'Connection was killed' });
  });

  it('text rows: NULLs, empty strings, values at the length boundaries', () => {
    const values = [null, Buffer.alloc(0), Buffer.alloc(250, 1), Buffer.alloc(251, 2), Buffer.alloc(0xffff, 3), Buffer.alloc(0x10000, 4), null];
    const p = my.encodeTextRow(values);
    assert.deepEqual(my.decodeTextRow(p, values.length), values);
    assert.throws(() => my.decodeTextRow(p, values.length - 1), ProtocolError, 'trailing bytes');
    assert.throws(() => my.decodeTextRow(p, values.length + 1), ProtocolError, 'truncated');
  });

  it('binary rows: every type, the NULL bitmap across bytes, values at the length boundaries', () => {
    const columns = [
      { type: my.MYSQL_TYPE_TINY, flags: 0 },
      { type: my.MYSQL_TYPE_SHORT, flags: 0 },
      { type: my.MYSQL_TYPE_YEAR, flags: 0 },
      { type: my.MYSQL_TYPE_LONG, flags: 0 },
      { type: my.MYSQL_TYPE_INT24, flags: 0 },
      { type: my.MYSQL_TYPE_FLOAT, flags: 0 },
      { type: my.MYSQL_TYPE_LONGLONG, flags: my.UNSIGNED_FLAG },
      { type: my.MYSQL_TYPE_DOUBLE, flags: 0 },
      { type: my.MYSQL_TYPE_DATE, flags: 0 },
      { type: my.MYSQL_TYPE_DATETIME, flags: 0 },
      { type: my.MYSQL_TYPE_TIMESTAMP, flags: 0 },
      { type: my.MYSQL_TYPE_TIME, flags: 0 },
      { type: my.MYSQL_TYPE_NEWDECIMAL, flags: 0 },
      { type: my.MYSQL_TYPE_VAR_STRING, flags: 0 },
      { type: my.MYSQL_TYPE_BLOB, flags: my.BLOB_FLAG | my.BINARY_FLAG },
      { type: my.MYSQL_TYPE_JSON, flags: 0 },
      { type: my.MYSQL_TYPE_NULL, flags: 0 },
      { type: my.MYSQL_TYPE_GEOMETRY, flags: 0 },
    ];
    const values: (Buffer | null)[] = [
      hex('80'),
      hex('ff7f'),
      hex('e807'),
      hex('f9ffffff'),
      hex('00008080'),
      hex('0000a03f'),
      hex('ffffffffffffffff'),
      hex('000000000000f83f'),
      hex('e8070201'),
      hex('e807021d0d0e0f40e20100'),
      Buffer.alloc(0),
      hex('0100000000160a0b'),
      Buffer.from('-12.34'),
      Buffer.alloc(251, 0x61),
      Buffer.alloc(0x10000, 0),
      Buffer.from('{}'),
      null,
      Buffer.alloc(25, 1),
    ];
    const p = my.encodeBinaryRow(columns, values);
    assert.equal(p[0], 0);
    assert.equal(my.binaryRowNullBitmapLength(columns.length), 3);
    assert.equal(p[1 + ((16 + 2) >> 3)]! & (1 << ((16 + 2) & 7)), 1 << 2, 'column 16 NULL: bit 18');
    assert.deepEqual(my.decodeBinaryRow(p, columns), values);
    assert.throws(() => my.encodeBinaryRow(columns, values.slice(1)), ProtocolError, 'one value per column');
    assert.throws(() => my.encodeBinaryRow([{ type: my.MYSQL_TYPE_LONG, flags: 0 }], [hex('01')]), ProtocolError, 'fixed size');
    assert.throws(() => my.encodeBinaryRow([{ type: my.MYSQL_TYPE_DATETIME, flags: 0 }], [Buffer.alloc(256)]), ProtocolError);
    assert.throws(() => my.encodeBinaryRow([{ type: my.MYSQL_TYPE_NULL, flags: 0 }], [hex('01')]), ProtocolError);
    assert.throws(() => my.decodeBinaryRow(hex('01 00'), [{ type: my.MYSQL_TYPE_TINY, flags: 0 }]), ProtocolError, 'header');
    assert.throws(() => my.decodeBinaryRow(Buffer.concat([p, hex('00')]), columns), ProtocolError, 'trailing bytes');
  });

  it('a non-NULL MYSQL_TYPE_NULL column takes no bytes', () => {
    const cols = [{ type: my.MYSQL_TYPE_NULL, flags: 0 }, { type: my.MYSQL_TYPE_TINY, flags: 0 }];
    assert.deepEqual(my.decodeBinaryRow(hex('00 00 05'), cols), [Buffer.alloc(0), hex('05')]);
  });

  it('commands: COM_QUERY, COM_STMT_PREPARE, COM_STMT_PREPARE_OK, COM_STMT_EXECUTE', () => {
    const sql = "select 'é', ?";
    assert.equal(my.decodeComQuery(my.encodeComQuery(sql)), sql);
    assert.equal(my.encodeComQuery(sql)[0], my.COM_QUERY);
    assert.equal(my.decodeComStmtPrepare(my.encodeComStmtPrepare(sql)), sql);
    assert.throws(() => my.decodeComQuery(my.encodeComStmtPrepare(sql)), ProtocolError);
    assert.throws(() => my.decodeComQuery(Buffer.alloc(0)), ProtocolError);
    assert.equal(my.decodeComQuery(Buffer.from([my.COM_QUERY])), '');
    const ok = { statementId: 0xfffffff0, numColumns: 19, numParams: 65535, warnings: 2 };
    assert.deepEqual(my.decodeStmtPrepareOk(my.encodeStmtPrepareOk(ok)), ok);
    assert.deepEqual(my.decodeStmtPrepareOk(my.encodeStmtPrepareOk(ok).subarray(0, 9)), { ...ok, warnings: 0 }, 'without the warning count');
    const exec = { statementId: 7, flags: my.CURSOR_TYPE_READ_ONLY, iterationCount: 1 };
    const params = hex('00 01 08 00 2a 00 00 00 00 00 00 00');
    const p = my.encodeComStmtExecute(exec, params);
    assert.deepEqual(my.decodeComStmtExecute(p), exec);
    assert.ok(p.subarray(10).equals(params));
    assert.throws(() => my.decodeComStmtExecute(my.encodeComQuery('x')), ProtocolError);
  });

  it('codes: names and SQLSTATEs', () => {
    assert.equal(my.commandName(my.COM_QUERY), 'COM_QUERY');
    assert.equal(my.commandName(0x99), 'COM_UNKNOWN(0x99)');
    assert.equal(my.sqlstateOf(my.ER_ACCESS_DENIED_ERROR), '28000');
    assert.equal(my.sqlstateOf(my.ER_CON_COUNT_ERROR), '08004');
    assert.equal(my.sqlstateOf(my.ER_HANDSHAKE_ERROR), '08S01');
    assert.equal(my.sqlstateOf(my.ER_NOT_SUPPORTED_YET), '42000');
    assert.equal(my.sqlstateOf(my.CR_CONN_HOST_ERROR), 'HY000');
    assert.equal(my.sqlstateOf(99999), 'HY000');
    assert.equal(my.CLIENT_REMEMBER_OPTIONS, 0x80000000);
    assert.equal(my.CLIENT_QUERY_ATTRIBUTES, 0x08000000);
    assert.equal(my.CLIENT_DEPRECATE_EOF, 0x01000000);
  });
});

// ---------- truncation: every prefix of every valid payload throws ProtocolError ----------

describe('truncated payloads throw ProtocolError', () => {
  const caps41 = my.CLIENT_PROTOCOL_41 | my.CLIENT_SESSION_TRACK;
  const cols = [
    { type: my.MYSQL_TYPE_LONGLONG, flags: 0 },
    { type: my.MYSQL_TYPE_DATETIME, flags: 0 },
    { type: my.MYSQL_TYPE_VAR_STRING, flags: 0 },
  ];
  const column = my.encodeColumnDefinition41({
    catalog: 'def',
    schema: 's',
    table: 't',
    orgTable: 't',
    name: 'n',
    orgName: 'n',
    characterSet: 45,
    columnLength: 10,
    type: 3,
    flags: 0,
    decimals: 0,
  });
  /** [name, payload, decoder, the cut lengths at which the format legitimately ends (optional trailing fields)] */
  const samples: [string, Buffer, (p: Buffer) => unknown, number[]][] = [
    [
      'HandshakeV10',
      my.encodeHandshakeV10({
        protocolVersion: 10,
        serverVersion: '10.11',
        connectionId: 1,
        authPluginData: scramble,
        capabilities: my.CLIENT_PROTOCOL_41 | my.CLIENT_SECURE_CONNECTION | my.CLIENT_PLUGIN_AUTH,
        mariadbCapabilities: 0,
        characterSet: 45,
        statusFlags: 2,
        authPluginName: 'ab',
      }),
      my.decodeHandshakeV10,
      [-3, -2, -1], // some 5.5 servers send the plugin name without its NUL
    ],
    [
      'HandshakeResponse41',
      my.encodeHandshakeResponse41({
        capabilities: my.CLIENT_PROTOCOL_41 | my.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | my.CLIENT_CONNECT_ATTRS,
        maxPacketSize: 0,
        characterSet: 45,
        username: 'bob',
        authResponse: scramble,
        attributes: new Map([['a', 'b']]),
      }),
      my.decodeHandshakeResponse41,
      [32 + 4 + 21], // attributes left out
    ],
    ['SSLRequest', my.encodeSSLRequest({ capabilities: my.CLIENT_PROTOCOL_41, maxPacketSize: 0, characterSet: 45 }), my.decodeSSLRequest, []],
    ['AuthSwitchRequest', my.encodeAuthSwitchRequest('abc', scramble), my.decodeAuthSwitchRequest, [1, ...Array.from({ length: 21 }, (_, i) => 5 + i)]],
    ['AuthMoreData', my.encodeAuthMoreData(scramble), my.decodeAuthMoreData, Array.from({ length: 20 }, (_, i) => 1 + i)],
    ['OK_Packet', my.encodeOkPacket({ affectedRows: 300, lastInsertId: 70000, info: 'hello' }, caps41), (p) => my.decodeOkPacket(p, caps41), [12]],
    ['ERR_Packet', my.encodeErrPacket({ errno: 1045, sqlstate: '28000', message: 'x' }), my.decodeErrPacket, [3, 4, 5, 6, 7, 8, 9]],
    ['EOF_Packet', my.encodeEofPacket(2), my.decodeEofPacket, []],
    ['ColumnDefinition41', column, my.decodeColumnDefinition41, [-2, -1]], // the filler is not read
    ['column count', my.encodeColumnCount(70000), my.decodeColumnCount, []],
    ['text row', my.encodeTextRow([Buffer.from('abc'), null, Buffer.alloc(300)]), (p) => my.decodeTextRow(p, 3), []],
    ['binary row', my.encodeBinaryRow(cols, [hex('0100000000000000'), hex('e8070201'), Buffer.from('xyz')]), (p) => my.decodeBinaryRow(p, cols), []],
    ['COM_STMT_PREPARE_OK', my.encodeStmtPrepareOk({ statementId: 1, numColumns: 2, numParams: 3, warnings: 0 }), my.decodeStmtPrepareOk, [9]],
    ['COM_STMT_EXECUTE', my.encodeComStmtExecute({ statementId: 1, flags: 0, iterationCount: 1 }), my.decodeComStmtExecute, []],
    ['COM_QUERY', my.encodeComQuery('select 1'), my.decodeComQuery, Array.from({ length: 8 }, (_, i) => 1 + i)],
  ];
  for (const [name, payload, decode, ends] of samples) {
    it(name, () => {
      assert.doesNotThrow(() => decode(payload), 'the whole payload decodes');
      const legitimate = new Set(ends.map((k) => (k < 0 ? payload.length + k : k)));
      for (let k = 0; k < payload.length; k++) {
        if (legitimate.has(k)) assert.doesNotThrow(() => decode(payload.subarray(0, k)), `${name} ends at ${k}`);
        else assert.throws(() => decode(payload.subarray(0, k)), ProtocolError, `${name} cut at ${k}`);
      }
    });
  }
});
