/**
 * Replay of MySQL recordings (src/recording/transcript/mysql.ts):
 * - hand-built conversations, with and without CLIENT_DEPRECATE_EOF, in any chunking → the same transcript;
 *   packet names for --raw; values printed as the server prints them;
 * - real MariaDB conversations over a raw socket, recorded as jitgate records them: both layouts give the same
 *   transcript, and binary-protocol rows read the same as the text-protocol rows of the same table;
 * - end to end: mysql2 through jitgate, then `jitgate replay` (text, --json, --raw) of its recording.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import mysql from 'mysql2/promise';
import * as my from '../../protocols/mysql/index.js';
import type { Direction } from '../../src/engine/types.js';
import { ResponseTracker, type ResponseKind } from '../../src/engines/mysql/response-tracker.js';
import { readIndex } from '../../src/recording/index-file.js';
import { decoderFor } from '../../src/recording/transcript/decoders.js';
import { MysqlDecoder } from '../../src/recording/transcript/mysql.js';
import { binaryValueText, formatReal } from '../../protocols/mysql/index.js';
import type { TranscriptEvent } from '../../src/recording/transcript/types.js';
import { startMysqlUpstream, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { jitgate } from './cli.js';
import { waitFor } from './fixtures.js';

type Frame = [Direction, Buffer];

/** Feeds frames in order; the transcript without times. */
function transcript(frames: Frame[], decoder = new MysqlDecoder()): TranscriptEvent[] {
  return frames.flatMap(([from, bytes], n) => decoder.feed(n, from, bytes).map(({ t: _t, ...e }) => e as TranscriptEvent));
}

/** Cuts every frame into pieces of the given sizes (cycling), optionally joining frames of one direction first. */
function rechunk(frames: Frame[], sizes: number[], join: boolean): Frame[] {
  const joined: Frame[] = [];
  for (const [d, b] of frames) {
    const last = joined.at(-1);
    if (join && last && last[0] === d) last[1] = Buffer.concat([last[1], b]);
    else joined.push([d, b]);
  }
  const out: Frame[] = [];
  let k = 0;
  for (const [d, b] of joined) {
    for (let pos = 0; pos < b.length; ) {
      const n = sizes[k++ % sizes.length]!;
      out.push([d, b.subarray(pos, pos + n)]);
      pos += n;
    }
  }
  return out;
}

const AUTOCOMMIT = my.SERVER_STATUS_AUTOCOMMIT;

function column(name: string, type: number, extra: Partial<my.ColumnDefinition41> = {}): Buffer {
  return my.encodeColumnDefinition41({
    catalog: 'def',
    schema: 'shop',
    table: 't',
    orgTable: 't',
    name,
    orgName: name,
    characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
    columnLength: 80,
    type,
    flags: 0,
    decimals: 0,
    ...extra,
  });
}

/** § COM_STMT_EXECUTE parameter block: NULL bitmap, new-params-bound-flag, types, values ('long': sent as long data). */
function paramBlock(types: [number, boolean][] | null, values: (Buffer | null | 'long')[]): Buffer {
  const w = new my.PayloadWriter();
  const bitmap = Buffer.alloc((values.length + 7) >> 3);
  values.forEach((v, i) => v === null && (bitmap[i >> 3]! |= 1 << (i & 7)));
  w.bytes(bitmap).int1(types ? 1 : 0);
  for (const [type, unsigned] of types ?? []) w.int1(type).int1(unsigned ? 0x80 : 0);
  for (const v of values) if (v instanceof Buffer) w.bytes(v);
  return w.finish();
}

const lenenc = (s: string) => new my.PayloadWriter().lenencString(s).finish();

const int8 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return b;
};

function longData(statementId: number, param: number, data: string): Buffer {
  const head = Buffer.alloc(7);
  head[0] = my.COM_STMT_SEND_LONG_DATA;
  head.writeUInt32LE(statementId, 1);
  head.writeUInt16LE(param, 5);
  return Buffer.concat([head, Buffer.from(data)]);
}

const exec = (statementId: number, params: Buffer) => my.encodeComStmtExecute({ statementId, flags: 0, iterationCount: 1 }, params);

/** A session as jitgate records it: the login's OK_Packet, then commands and responses. */
function conversation(deprecateEof: boolean): Frame[] {
  const caps = my.CLIENT_PROTOCOL_41 | (deprecateEof ? my.CLIENT_DEPRECATE_EOF : 0);
  const eof = deprecateEof ? [] : [my.encodeEofPacket(AUTOCOMMIT)];
  const end = (warnings = 0) =>
    deprecateEof ? my.encodeOkPacket({ header: 0xfe, statusFlags: AUTOCOMMIT, warnings }, caps) : my.encodeEofPacket(AUTOCOMMIT, warnings);
  const c = (payload: Buffer): Frame => ['client', my.packet(0, payload)];
  const s = (...payloads: Buffer[]): Frame => ['server', my.packets(1, payloads)];
  const binaryColumns = [
    { type: my.MYSQL_TYPE_LONGLONG, flags: 0 },
    { type: my.MYSQL_TYPE_DOUBLE, flags: 0 },
    { type: my.MYSQL_TYPE_DATETIME, flags: 0 },
    { type: my.MYSQL_TYPE_BLOB, flags: my.BLOB_FLAG | my.BINARY_FLAG },
  ];
  const datetime = Buffer.from([0xe8, 0x07, 2, 29, 13, 14, 15]);
  return [
    ['server', my.packet(2, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps))],
    // A prepared INSERT with one parameter and no columns, its value sent as long data.
    c(my.encodeComStmtPrepare('INSERT INTO notes (body) VALUES (?)')),
    s(my.encodeStmtPrepareOk({ statementId: 1, numColumns: 0, numParams: 1, warnings: 0 }), column('?', my.MYSQL_TYPE_VAR_STRING), ...eof),
    c(longData(1, 0, 'long ')),
    c(longData(1, 0, 'body')),
    c(exec(1, paramBlock([[my.MYSQL_TYPE_BLOB, false]], ['long']))),
    s(my.encodeOkPacket({ affectedRows: 1, lastInsertId: 7, statusFlags: AUTOCOMMIT }, caps)),
    // Text protocol.
    c(my.encodeComQuery('SELECT id, name, ssn FROM customers ORDER BY id')),
    s(
      my.encodeColumnCount(3),
      column('id', my.MYSQL_TYPE_LONG, { characterSet: my.CHARSET_BINARY }),
      column('name', my.MYSQL_TYPE_VAR_STRING),
      column('ssn', my.MYSQL_TYPE_VAR_STRING),
      ...eof,
      my.encodeTextRow([Buffer.from('1'), Buffer.from('Ada'), Buffer.from('****')]),
      my.encodeTextRow([Buffer.from('2'), Buffer.from('Alan'), null]),
      end(),
    ),
    // Binary protocol, parameter types sent once and then reused.
    c(my.encodeComStmtPrepare('SELECT id, amount, at, data FROM orders WHERE id > ?')),
    s(
      my.encodeStmtPrepareOk({ statementId: 2, numColumns: 4, numParams: 1, warnings: 0 }),
      column('?', my.MYSQL_TYPE_VAR_STRING),
      ...eof,
      column('id', my.MYSQL_TYPE_LONGLONG),
      column('amount', my.MYSQL_TYPE_DOUBLE, { decimals: 31 }),
      column('at', my.MYSQL_TYPE_DATETIME),
      column('data', my.MYSQL_TYPE_BLOB, { characterSet: my.CHARSET_BINARY }),
      ...eof,
    ),
    c(exec(2, paramBlock([[my.MYSQL_TYPE_LONGLONG, false]], [int8(0n)]))),
    s(
      my.encodeColumnCount(4),
      column('id', my.MYSQL_TYPE_LONGLONG),
      column('amount', my.MYSQL_TYPE_DOUBLE, { decimals: 31 }),
      column('at', my.MYSQL_TYPE_DATETIME),
      column('data', my.MYSQL_TYPE_BLOB, { characterSet: my.CHARSET_BINARY }),
      ...eof,
      my.encodeBinaryRow(binaryColumns, [int8(-5n), Buffer.from(new Float64Array([0.1 + 0.2]).buffer), datetime, Buffer.from([0, 0xff])]),
      my.encodeBinaryRow(binaryColumns, [int8(6n), null, Buffer.alloc(0), Buffer.alloc(0)]),
      end(1),
    ),
    c(exec(2, paramBlock(null, [int8(5n)]))),
    s(
      my.encodeColumnCount(4),
      column('id', my.MYSQL_TYPE_LONGLONG),
      column('amount', my.MYSQL_TYPE_DOUBLE, { decimals: 31 }),
      column('at', my.MYSQL_TYPE_DATETIME),
      column('data', my.MYSQL_TYPE_BLOB, { characterSet: my.CHARSET_BINARY }),
      ...eof,
      end(),
    ),
    c(my.encodeComQuery('SELECT * FROM nope')),
    s(my.encodeErrPacket({ errno: 1146, sqlstate: '42S02', message: "Table 'shop.nope' doesn't exist" })),
    c(Buffer.from([my.COM_PING])),
    s(my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps)),
    c(Buffer.from([my.COM_QUIT])),
  ];
}

const text = (name: string, typeOid: number) => ({ name, typeOid, format: 'text' as const });
const bin = (name: string, typeOid: number) => ({ name, typeOid, format: 'binary' as const });
const orderColumns = [bin('id', 8), bin('amount', 5), bin('at', 12), bin('data', 252)];

const EXPECTED: TranscriptEvent[] = [
  { type: 'parse', statement: '1', sql: 'INSERT INTO notes (body) VALUES (?)', paramTypes: [] },
  { type: 'execute', portal: '', statement: '1', sql: 'INSERT INTO notes (body) VALUES (?)', params: ['long body'], maxRows: 0 },
  { type: 'complete', tag: 'OK 1 row affected, last insert id 7' },
  { type: 'query', sql: 'SELECT id, name, ssn FROM customers ORDER BY id' },
  { type: 'columns', columns: [text('id', 3), text('name', 253), text('ssn', 253)] },
  { type: 'row', values: ['1', 'Ada', '****'] },
  { type: 'row', values: ['2', 'Alan', null] },
  { type: 'complete', tag: 'SELECT 2' },
  { type: 'parse', statement: '2', sql: 'SELECT id, amount, at, data FROM orders WHERE id > ?', paramTypes: [] },
  { type: 'execute', portal: '', statement: '2', sql: 'SELECT id, amount, at, data FROM orders WHERE id > ?', params: ['0'], maxRows: 0 },
  { type: 'columns', columns: orderColumns },
  { type: 'row', values: ['-5', '0.30000000000000004', '2024-02-29 13:14:15', '\\x00ff'] },
  { type: 'row', values: ['6', null, '0000-00-00 00:00:00', '\\x'] },
  { type: 'complete', tag: 'SELECT 2, 1 warning' },
  { type: 'execute', portal: '', statement: '2', sql: 'SELECT id, amount, at, data FROM orders WHERE id > ?', params: ['5'], maxRows: 0 },
  { type: 'columns', columns: orderColumns },
  { type: 'complete', tag: 'SELECT 0' },
  { type: 'query', sql: 'SELECT * FROM nope' },
  { type: 'error', severity: 'ERROR', code: '42S02', message: "1146: Table 'shop.nope' doesn't exist" },
  { type: 'unknown', from: 'client', message: 'COM_PING' },
  { type: 'complete', tag: 'OK' },
  { type: 'terminate' },
];

describe('MySQL replay: hand-built conversations', () => {
  for (const deprecateEof of [false, true]) {
    const layout = deprecateEof ? 'with CLIENT_DEPRECATE_EOF' : 'with EOF packets';

    it(`${layout}: statements, columns, rows (text and binary), outcomes`, () => {
      assert.deepEqual(transcript(conversation(deprecateEof)), EXPECTED);
    });

    it(`${layout}: the same transcript in any chunking, byte by byte included`, () => {
      const frames = conversation(deprecateEof);
      assert.deepEqual(transcript(rechunk(frames, [1], false)), EXPECTED);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 12 }), fc.boolean(), (sizes, join) => {
          assert.deepEqual(transcript(rechunk(frames, sizes, join)), EXPECTED);
        }),
        { seed: 7, numRuns: 150 },
      );
    });

    it(`${layout}: the capabilities given up front read the same`, () => {
      const caps = my.CLIENT_PROTOCOL_41 | (deprecateEof ? my.CLIENT_DEPRECATE_EOF : 0);
      assert.deepEqual(transcript(conversation(deprecateEof), new MysqlDecoder({ capabilities: caps })), EXPECTED);
    });
  }

  it('reads the layout from a prepare without parameters, and from a first resultset', () => {
    for (const deprecateEof of [false, true]) {
      const caps = my.CLIENT_PROTOCOL_41 | (deprecateEof ? my.CLIENT_DEPRECATE_EOF : 0);
      const eof = deprecateEof ? [] : [my.encodeEofPacket(AUTOCOMMIT)];
      const end = deprecateEof ? my.encodeOkPacket({ header: 0xfe, statusFlags: AUTOCOMMIT }, caps) : my.encodeEofPacket(AUTOCOMMIT);
      const greeting: Frame = ['server', my.packet(2, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps))];
      const prepared: Frame[] = [
        greeting,
        ['client', my.packet(0, my.encodeComStmtPrepare('SELECT 1 AS one'))],
        ['server', my.packets(1, [my.encodeStmtPrepareOk({ statementId: 9, numColumns: 1, numParams: 0, warnings: 0 }), column('one', my.MYSQL_TYPE_LONGLONG), ...eof])],
        ['client', my.packet(0, exec(9, Buffer.alloc(0)))],
        ['server', my.packets(1, [my.encodeColumnCount(1), column('one', my.MYSQL_TYPE_LONGLONG), ...eof, my.encodeBinaryRow([{ type: my.MYSQL_TYPE_LONGLONG, flags: 0 }], [int8(1n)]), end])],
      ];
      assert.deepEqual(transcript(prepared).slice(1), [
        { type: 'execute', portal: '', statement: '9', sql: 'SELECT 1 AS one', params: [], maxRows: 0 },
        { type: 'columns', columns: [bin('one', 8)] },
        { type: 'row', values: ['1'] },
        { type: 'complete', tag: 'SELECT 1' },
      ]);
      // An empty first resultset: the terminator follows the column definitions at once.
      const empty: Frame[] = [
        greeting,
        ['client', my.packet(0, my.encodeComQuery('SELECT 1 FROM DUAL WHERE 0'))],
        ['server', my.packets(1, [my.encodeColumnCount(1), column('1', my.MYSQL_TYPE_LONGLONG), ...eof, end])],
        ['client', my.packet(0, my.encodeComQuery('SELECT 2'))],
        ['server', my.packets(1, [my.encodeColumnCount(1), column('2', my.MYSQL_TYPE_LONGLONG), ...eof, my.encodeTextRow([Buffer.from('2')]), end])],
      ];
      assert.deepEqual(transcript(empty).filter((e) => e.type === 'row' || e.type === 'complete'), [
        { type: 'complete', tag: 'SELECT 0' },
        { type: 'row', values: ['2'] },
        { type: 'complete', tag: 'SELECT 1' },
      ]);
    }
  });

  it('names packets for --raw, including packets split across frames', () => {
    const names = (frames: Frame[]) => {
      const d = new MysqlDecoder();
      return frames.map(([from, bytes]) => d.split(from, bytes).map((p) => p.name));
    };
    const frames = conversation(false);
    const got = names(frames);
    assert.deepEqual(got[0], ['OK']);
    assert.deepEqual(got[1], ['COM_STMT_PREPARE']);
    assert.deepEqual(got[2], ['COM_STMT_PREPARE_OK', 'ColumnDefinition', 'EOF']);
    assert.deepEqual(got[3], ['COM_STMT_SEND_LONG_DATA']);
    assert.deepEqual(got[5], ['COM_STMT_EXECUTE']);
    assert.deepEqual(got[6], ['OK']);
    assert.deepEqual(got[8], ['ColumnCount', 'ColumnDefinition', 'ColumnDefinition', 'ColumnDefinition', 'EOF', 'Row', 'Row', 'EOF']);
    assert.deepEqual(got[16], ['ERR']);
    assert.deepEqual(got[17], ['COM_PING']);
    assert.deepEqual(got.at(-1), ['COM_QUIT']);
    assert.deepEqual(names(conversation(true))[8], ['ColumnCount', 'ColumnDefinition', 'ColumnDefinition', 'ColumnDefinition', 'Row', 'Row', 'OK']);

    // Ranges cover the frame; a packet cut by a frame boundary is named where it ends.
    const d = new MysqlDecoder();
    const [greeting, query, result] = [frames[0]!, frames[7]!, frames[8]!];
    d.split(greeting[0], greeting[1]);
    d.split(query[0], query[1]);
    const cut = 20;
    const first = d.split('server', result[1].subarray(0, cut));
    const second = d.split('server', result[1].subarray(cut));
    assert.deepEqual(first.map((p) => p.name), ['ColumnCount', '(part of a packet)']);
    assert.deepEqual(first.at(-1), { name: '(part of a packet)', start: 5, end: cut });
    assert.equal(second[0]!.name, 'ColumnDefinition (end)');
    assert.equal(second[0]!.start, 0);
    assert.equal(second.at(-1)!.end, result[1].length - cut);
    for (let i = 1; i < second.length; i++) assert.equal(second[i]!.start, second[i - 1]!.end);
  });

  it('joins a statement of 16 MB or more from its physical packets', () => {
    const sql = `SELECT '${'x'.repeat(my.MAX_PAYLOAD)}'`;
    const frame = my.packet(0, my.encodeComQuery(sql));
    const d = new MysqlDecoder();
    d.feed(0, 'server', my.packet(2, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, my.CLIENT_PROTOCOL_41)));
    const items = d.feed(1, 'client', frame);
    assert.equal(items.length, 1);
    assert.equal(items[0]!.type === 'query' && items[0]!.sql === sql, true);
    assert.deepEqual(new MysqlDecoder().split('client', frame).map((p) => p.name), ['(continued in the next packet)', 'COM_QUERY']);
  });

  it('shows errors no command asked for, single-packet answers and unknown packets', () => {
    const caps = my.CLIENT_PROTOCOL_41;
    const items = transcript([
      ['server', my.packet(2, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps))],
      // A command jitgate refused never reaches the recording: only its ERR_Packet does.
      ['server', my.packet(1, my.encodeErrPacket({ errno: 1235, sqlstate: '42000', message: 'COM_CHANGE_USER is not supported through jitgate' }))],
      ['client', my.packet(0, Buffer.concat([Buffer.from([my.COM_INIT_DB]), Buffer.from('shop')]))],
      ['server', my.packet(1, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps))],
      ['client', my.packet(0, Buffer.from([my.COM_STATISTICS]))],
      ['server', my.packet(1, Buffer.from('Uptime: 5  Threads: 1'))],
      ['client', my.packet(0, my.encodeComQuery('UPDATE t SET a = 1'))],
      ['server', my.packet(1, my.encodeOkPacket({ affectedRows: 3, statusFlags: AUTOCOMMIT, info: 'Rows matched: 3  Changed: 3  Warnings: 0' }, caps))],
      ['server', my.packet(5, my.encodeOkPacket({ statusFlags: AUTOCOMMIT }, caps))],
    ]);
    assert.deepEqual(items, [
      { type: 'error', severity: 'ERROR', code: '42000', message: '1235: COM_CHANGE_USER is not supported through jitgate' },
      { type: 'unknown', from: 'client', message: 'COM_INIT_DB: shop' },
      { type: 'complete', tag: 'OK' },
      { type: 'unknown', from: 'client', message: 'COM_STATISTICS' },
      { type: 'complete', tag: 'Uptime: 5  Threads: 1' },
      { type: 'query', sql: 'UPDATE t SET a = 1' },
      { type: 'complete', tag: 'OK 3 rows affected (Rows matched: 3  Changed: 3  Warnings: 0)' },
      { type: 'unknown', from: 'server', message: 'a packet no command asked for (7 bytes)' },
    ]);
  });

  it('is the decoder replay picks for mysql recordings', () => {
    assert.ok(decoderFor('mysql') instanceof MysqlDecoder);
  });
});

describe('MySQL replay: values as the server prints them', () => {
  it('FLOAT and DOUBLE (shortest digits, 6 for a float; e-notation beyond 15 places; fixed decimals)', () => {
    const cases: [number, number, boolean, string][] = [
      [1e15, 31, false, '1e15'],
      [1e14, 31, false, '100000000000000'],
      [1.23e17, 31, false, '1.23e17'],
      [1.5e-10, 31, false, '0.00000000015'],
      [1.2345678901234567e-15, 31, false, '0.0000000000000012345678901234568'],
      [1.2345678901234567e-16, 31, false, '1.2345678901234568e-16'],
      [0.1 + 0.2, 31, false, '0.30000000000000004'],
      [1234567890123456.8, 31, false, '1234567890123456.8'],
      [5e-324, 31, false, '5e-324'],
      [-2.5e-300, 31, false, '-2.5e-300'],
      [-0, 31, false, '0'],
      [Math.fround(3.14159265), 31, true, '3.14159'],
      [Math.fround(123456789), 31, true, '123457000'],
      [Math.fround(1e10), 31, true, '10000000000'],
      [Math.fround(3.4e38), 31, true, '3.4e38'],
      [Math.fround(1.5e-5), 31, true, '0.000015'],
      [Math.fround(-3.14159), 3, true, '-3.142'],
      [1e7, 2, false, '10000000.00'],
    ];
    for (const [x, decimals, float, expected] of cases) assert.equal(formatReal(x, decimals, float), expected, `${x} (${decimals})`);
  });

  it('integers, dates, times, strings and bytes', () => {
    const col = (type: number, extra: Partial<my.ColumnDefinition41> = {}) => ({
      type,
      flags: 0,
      decimals: 0,
      characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
      columnLength: 11,
      ...extra,
    });
    const le = (bytes: number[]) => Buffer.from(bytes);
    assert.equal(binaryValueText(le([0xff]), col(my.MYSQL_TYPE_TINY)), '-1');
    assert.equal(binaryValueText(le([0xff]), col(my.MYSQL_TYPE_TINY, { flags: my.UNSIGNED_FLAG })), '255');
    assert.equal(binaryValueText(le([42, 0, 0, 0]), col(my.MYSQL_TYPE_LONG, { flags: my.UNSIGNED_FLAG | my.ZEROFILL_FLAG, columnLength: 6 })), '000042');
    assert.equal(binaryValueText(Buffer.alloc(8, 0xff), col(my.MYSQL_TYPE_LONGLONG, { flags: my.UNSIGNED_FLAG })), '18446744073709551615');
    assert.equal(binaryValueText(le([0xe8, 0x07]), col(my.MYSQL_TYPE_YEAR, { flags: my.UNSIGNED_FLAG | my.ZEROFILL_FLAG, columnLength: 4 })), '2024');
    assert.equal(binaryValueText(le([0xe8, 0x07, 2, 29]), col(my.MYSQL_TYPE_DATE)), '2024-02-29');
    assert.equal(binaryValueText(Buffer.alloc(0), col(my.MYSQL_TYPE_DATE)), '0000-00-00');
    const micros = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
    const dt = le([0xe8, 0x07, 2, 29, 13, 14, 15, ...micros(123456)]);
    assert.equal(binaryValueText(dt, col(my.MYSQL_TYPE_DATETIME, { decimals: 6 })), '2024-02-29 13:14:15.123456');
    assert.equal(binaryValueText(dt, col(my.MYSQL_TYPE_TIMESTAMP, { decimals: 3 })), '2024-02-29 13:14:15.123');
    assert.equal(binaryValueText(le([0xe8, 0x07, 2, 29]), col(my.MYSQL_TYPE_DATETIME, { decimals: 2 })), '2024-02-29 00:00:00.00');
    assert.equal(binaryValueText(le([1, 34, 0, 0, 0, 22, 59, 59]), col(my.MYSQL_TYPE_TIME)), '-838:59:59');
    assert.equal(binaryValueText(le([0, 0, 0, 0, 0, 1, 2, 3, ...micros(1)]), col(my.MYSQL_TYPE_TIME, { decimals: 6 })), '01:02:03.000001');
    assert.equal(binaryValueText(Buffer.alloc(0), col(my.MYSQL_TYPE_TIME)), '00:00:00');
    assert.equal(binaryValueText(Buffer.from('héllo'), col(my.MYSQL_TYPE_VAR_STRING)), 'héllo');
    assert.equal(binaryValueText(Buffer.from('12.50'), col(my.MYSQL_TYPE_NEWDECIMAL, { characterSet: my.CHARSET_BINARY })), '12.50');
    assert.equal(binaryValueText(le([0, 0xff]), col(my.MYSQL_TYPE_BLOB, { characterSet: my.CHARSET_BINARY })), '\\x00ff');
    assert.equal(binaryValueText(le([0x0a, 0xaa]), col(my.MYSQL_TYPE_BIT, { characterSet: my.CHARSET_BINARY })), '\\x0aaa');
    // A parameter has no character set: text when it is UTF-8, else bytes.
    assert.equal(binaryValueText(Buffer.from('ok'), col(my.MYSQL_TYPE_BLOB, { characterSet: 0 })), 'ok');
    assert.equal(binaryValueText(le([0xc3]), col(my.MYSQL_TYPE_BLOB, { characterSet: 0 })), '\\xc3');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Real MariaDB conversations (127.0.0.1:3306, root with an empty password), recorded the way jitgate records them.
// ---------------------------------------------------------------------------------------------------------------

/** A raw client: logs in, then records what it sends (one frame per packet) and each chunk it receives. */
class RecordedConnection {
  readonly frames: Frame[] = [];
  private readonly framer = new my.PacketFramer({ maxLength: my.MAX_PAYLOAD });
  private readonly inbox: { seq: number; payload: Buffer }[] = [];
  private wake: (() => void) | null = null;
  private recording = false;
  private readonly tracker: ResponseTracker;

  private constructor(
    private readonly socket: net.Socket,
    readonly caps: number,
  ) {
    this.tracker = new ResponseTracker(caps);
    socket.on('data', (chunk: Buffer) => {
      if (this.recording) this.frames.push(['server', Buffer.from(chunk)]);
      this.framer.push(chunk, (seq, buf, start, end) => void this.inbox.push({ seq, payload: Buffer.from(my.payloadOf(buf, start, end)) }));
      this.wake?.();
    });
  }

  static async open(database: string, caps: number): Promise<RecordedConnection> {
    const socket = net.connect({ host: '127.0.0.1', port: 3306 });
    await once(socket, 'connect');
    const c = new RecordedConnection(socket, caps);
    const hello = my.decodeHandshakeV10((await c.next()).payload);
    const capabilities = caps | my.CLIENT_SECURE_CONNECTION | my.CLIENT_PLUGIN_AUTH | my.CLIENT_CONNECT_WITH_DB;
    c.write(1, my.encodeHandshakeResponse41({
      capabilities,
      maxPacketSize: 1 << 24,
      characterSet: my.CHARSET_UTF8MB4_GENERAL_CI,
      username: 'root',
      authResponse: my.nativePasswordScramble('', hello.authPluginData),
      database,
      authPluginName: my.MYSQL_NATIVE_PASSWORD,
    }));
    let reply = await c.next();
    if (reply.payload[0] === my.AUTH_SWITCH_REQUEST_HEADER) {
      c.write(reply.seq + 1, my.nativePasswordScramble('', my.scrambleOf(my.decodeAuthSwitchRequest(reply.payload).pluginData)));
      reply = await c.next();
    }
    assert.ok(my.isOkPacket(reply.payload), my.isErrPacket(reply.payload) ? my.decodeErrPacket(reply.payload).message : 'login');
    c.frames.push(['server', my.packet(reply.seq, reply.payload)]);
    c.recording = true;
    return c;
  }

  private async next(): Promise<{ seq: number; payload: Buffer }> {
    while (this.inbox.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.inbox.shift()!;
  }

  private write(seq: number, payload: Buffer): void {
    const bytes = my.packet(seq, payload);
    if (this.recording) this.frames.push(['client', bytes]);
    this.socket.write(bytes);
  }

  /** Sends a command and waits for its whole response; returns its packets. */
  async command(payload: Buffer, kind: ResponseKind | null, statementId?: number): Promise<Buffer[]> {
    this.write(0, payload);
    if (!kind) return [];
    this.tracker.command(kind, { statementId, sql: kind === 'prepare' ? '' : undefined });
    const answered = this.tracker.completed;
    const got: Buffer[] = [];
    while (this.tracker.completed === answered) {
      const p = await this.next();
      got.push(p.payload);
      this.tracker.next(p.payload);
    }
    return got;
  }

  async prepare(sql: string): Promise<number> {
    return my.decodeStmtPrepareOk((await this.command(my.encodeComStmtPrepare(sql), 'prepare'))[0]!).statementId;
  }

  async quit(): Promise<void> {
    await this.command(Buffer.from([my.COM_QUIT]), null);
    this.socket.end();
    await once(this.socket, 'close');
  }
}

describe('MySQL replay: real MariaDB conversations', () => {
  const db = `jgreplay_${randomBytes(4).toString('hex')}`;
  let admin: mysql.Connection;

  before(async () => {
    admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
    await admin.query(`CREATE DATABASE \`${db}\``);
    await admin.query(`CREATE TABLE \`${db}\`.t (
      id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, sm SMALLINT, md MEDIUMINT, i INT, iu INT UNSIGNED, big BIGINT,
      bu BIGINT UNSIGNED, z INT(6) ZEROFILL, y YEAR, f FLOAT, d DOUBLE, f2 FLOAT(7,3), d2 DOUBLE(10,2), dec_ DECIMAL(14,4),
      dt DATETIME, dt6 DATETIME(6), ts3 TIMESTAMP(3) NULL, dd DATE, tm TIME, tm6 TIME(6), s VARCHAR(20), ch CHAR(3),
      vb VARBINARY(8), b BLOB, tx TEXT, e ENUM('red','green'), st SET('a','b'), bits BIT(12), j JSON)`);
    await admin.query(`INSERT INTO \`${db}\`.t VALUES
      (1, -128, 255, 32767, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 42, 2024,
       3.14159265, 0.1e0 + 0.2e0, -3.14159, 1e7, -12345678.1234, '2024-02-29 13:14:15', '2024-02-29 13:14:15.123456',
       '2030-01-01 00:00:00.5', '2024-02-29', '-838:59:59', '01:02:03.000001', 'héllo', 'ab', x'00ff', x'deadbeef',
       'two\\nlines', 'green', 'a,b', b'101010101010', '{"k": [1, 2]}'),
      (2, 127, 0, -1, 1, 0, 0, 1, 0, 0, 1901, 123456789, 1e15, 0, 0.5, 0, '0000-00-00 00:00:00', '1000-01-01 00:00:00',
       '1970-01-02 00:00:00', '0000-00-00', '00:00:00', '100:00:00.5', '', '', '', '', '', 'red', '', b'0', 'null'),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3.4e38, 1.2345678901234567e-15, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1e-10, 1.2345678901234567e-16, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  });

  after(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin?.end();
  });

  /** A prepared UPDATE first (its layout shows only in the next response), then text and binary reads of `t`. */
  async function converse(caps: number): Promise<Frame[]> {
    const c = await RecordedConnection.open(db, caps | my.CLIENT_PROTOCOL_41 | my.CLIENT_TRANSACTIONS | my.CLIENT_MULTI_RESULTS);
    const update = await c.prepare('UPDATE t SET i = i WHERE id = ?');
    await c.command(exec(update, paramBlock([[my.MYSQL_TYPE_LONGLONG, false]], [int8(2n)])), 'binary', update);
    await c.command(my.encodeComQuery('SELECT * FROM t ORDER BY id'), 'resultset');
    const select = await c.prepare('SELECT * FROM t WHERE id > ? ORDER BY id');
    await c.command(exec(select, paramBlock([[my.MYSQL_TYPE_VAR_STRING, false]], [lenenc('0')])), 'binary', select);
    await c.command(my.encodeComQuery('SELECT * FROM no_such_table'), 'resultset');
    await c.quit();
    return c.frames;
  }

  it('reads both layouts alike, and binary rows as the server prints text rows', async () => {
    // Statement ids are the server's (one counter for all sessions).
    const anyId = (e: TranscriptEvent) => ('statement' in e ? { ...e, statement: 'id' } : e);
    const [eofFrames, noEofFrames] = [await converse(0), await converse(my.CLIENT_DEPRECATE_EOF)];
    const packetNames = (frames: Frame[]) => {
      const d = new MysqlDecoder();
      return frames.flatMap(([from, bytes]) => d.split(from, bytes).map((p) => p.name));
    };
    assert.ok(packetNames(eofFrames).includes('EOF'));
    assert.ok(!packetNames(noEofFrames).includes('EOF'), 'the server left out EOF packets');
    const withEof = transcript(eofFrames).map(anyId);
    const withoutEof = transcript(noEofFrames).map(anyId);
    assert.deepEqual(withoutEof, withEof);

    const kinds = withEof.map((e) => e.type);
    assert.deepEqual(kinds.slice(0, 3), ['parse', 'execute', 'complete']);
    assert.deepEqual(withEof[2], { type: 'complete', tag: 'OK 0 rows affected (Rows matched: 1  Changed: 0  Warnings: 0)' });
    const results: { columns: TranscriptEvent; rows: (string | null)[][] }[] = [];
    for (const e of withEof) {
      if (e.type === 'columns') results.push({ columns: e, rows: [] });
      if (e.type === 'row') results.at(-1)!.rows.push(e.values);
    }
    assert.equal(results.length, 2);
    const [textResult, binaryResult] = results as [(typeof results)[0], (typeof results)[0]];
    assert.equal(textResult.rows.length, 4);
    assert.deepEqual(binaryResult.rows, textResult.rows);
    const names = textResult.columns.type === 'columns' ? textResult.columns.columns.map((c) => c.name) : [];
    const row1 = Object.fromEntries(names.map((n, i) => [n, textResult.rows[0]![i]]));
    assert.deepEqual(
      { f: row1.f, d: row1.d, z: row1.z, dt6: row1.dt6, tm: row1.tm, vb: row1.vb, bits: row1.bits, tx: row1.tx, s: row1.s },
      { f: '3.14159', d: '0.30000000000000004', z: '000042', dt6: '2024-02-29 13:14:15.123456', tm: '-838:59:59', vb: '\\x00ff', bits: '\\x0aaa', tx: 'two\nlines', s: 'héllo' },
    );
    assert.ok(binaryResult.columns.type === 'columns' && binaryResult.columns.columns.every((c) => c.format === 'binary'));
    const error = withEof.find((e) => e.type === 'error');
    assert.deepEqual(error?.type === 'error' && { code: error.code, message: error.message }, { code: '42S02', message: `1146: Table '${db}.no_such_table' doesn't exist` });
    assert.equal(withEof.at(-1)!.type, 'terminate');
  });
});

// ---------------------------------------------------------------------------------------------------------------
// End to end: mysql2 through jitgate, then `jitgate replay` of the recording.
// ---------------------------------------------------------------------------------------------------------------

describe('MySQL replay: a session through jitgate', () => {
  let up: MysqlUpstream;
  let tp: TestProxy;
  let env: NodeJS.ProcessEnv;
  let configFile: string;

  before(async () => {
    up = await startMysqlUpstream();
    tp = await startTestProxy(up, {
      targetName: 'shop',
      extra: { listen: { mysql: '127.0.0.1:0' }, masking: { rules: [{ columns: ['ssn'], action: 'redact' }] } },
    });
    configFile = path.join(tp.dir, 'jitgate.yaml');
    env = { ...process.env, TEST_ADMIN_PASSWORD: up.adminPassword };
  });

  after(async () => {
    await tp?.stop();
    await up?.stop();
  });

  it('replays statements, columns, masked rows and errors, and never the token', async () => {
    const token = await tp.token('alice');
    const c = await mysql.createConnection({ host: '127.0.0.1', port: tp.proxy.addresses.mysql!.port, user: 'alice', password: token, database: 'shop' });
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id, name, ssn FROM customers ORDER BY id');
    assert.equal(rows[0]!.ssn, '****');
    const [prepared] = await c.execute<mysql.RowDataPacket[]>('SELECT id, name, ssn FROM customers WHERE id > ? ORDER BY id', [1]);
    assert.equal(prepared.length, 2);
    await assert.rejects(c.query('SELECT * FROM no_such_table'), /no_such_table/);
    await c.end();

    const list = await jitgate(['sessions', 'list', '--config', configFile, '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const sessions = list.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const id = sessions.find((s) => s.sub === 'alice' && s.protocol === 'mysql')!.id as string;
    await waitFor(async () => (await readIndex(tp.config.recordings.dir, id))?.status === 'closed', 15_000, 'recording closed');

    const replay = await jitgate(['replay', id, '--config', configFile], env);
    assert.equal(replay.code, 0, replay.stderr);
    const out = replay.stdout;
    for (const expected of [
      /session \S+: alice → shop \(role reader\), mysql, upstream user jit_/,
      /\[redacted\] client authentication \(HandshakeResponse41\)/,
      /> SELECT id, name, ssn FROM customers ORDER BY id/,
      /\bid\s*\|\s*name\s*\|\s*ssn/,
      /\b1\s*\|\s*Ada Lovelace\s*\|\s*\*\*\*\*/,
      /\(3 rows\)\n\s*SELECT 3/,
      /> prepare "\d+": SELECT id, name, ssn FROM customers WHERE id > \? ORDER BY id/,
      /> execute "\d+" {2}-- \$1 = '1'/,
      /\b2\s*\|\s*Alan Turing\s*\|\s*\*\*\*\*/,
      /\(2 rows\)\n\s*SELECT 2/,
      /> SELECT \* FROM no_such_table/,
      /< ERROR 42S02: 1146: Table '[^']+\.no_such_table' doesn't exist/,
      /> \(client ended the session\)/,
      /session ended/,
    ]) {
      assert.match(out, expected);
    }
    assert.ok(out.indexOf('no_such_table') > out.indexOf('Alan Turing'));
    assert.doesNotMatch(out, /078-05-1120|219-09-9999/);

    const json = await jitgate(['replay', id, '--config', configFile, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const items = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(items[0].protocol, 'mysql');
    const executed = items.find((i) => i.type === 'execute');
    assert.deepEqual({ sql: executed.sql, params: executed.params }, { sql: 'SELECT id, name, ssn FROM customers WHERE id > ? ORDER BY id', params: ['1'] });
    const binaryColumns = items.filter((i) => i.type === 'columns')[1];
    assert.deepEqual(binaryColumns.columns.map((col: { name: string; format: string }) => [col.name, col.format]), [['id', 'binary'], ['name', 'binary'], ['ssn', 'binary']]);
    assert.deepEqual(items.filter((i) => i.type === 'row').map((i) => i.values), [
      ['1', 'Ada Lovelace', '****'],
      ['2', 'Alan Turing', '****'],
      ['3', 'Grace Hopper', '****'],
      ['2', 'Alan Turing', '****'],
      ['3', 'Grace Hopper', '****'],
    ]);
    assert.ok(items.some((i) => i.type === 'error' && i.code === '42S02' && /^1146: /.test(i.message)));
    assert.equal(items.at(-1).type, 'end');

    const raw = await jitgate(['replay', id, '--config', configFile, '--raw'], env);
    assert.equal(raw.code, 0, raw.stderr);
    for (const name of ['OK', 'COM_QUERY', 'ColumnCount', 'ColumnDefinition', 'EOF', 'Row', 'COM_STMT_PREPARE', 'COM_STMT_PREPARE_OK', 'COM_STMT_EXECUTE', 'ERR', 'COM_QUIT']) {
      assert.match(raw.stdout, new RegExp(`^  ${name} \\(\\d+ bytes\\)$`, 'm'), name);
    }

    for (const text of [out, json.stdout, raw.stdout]) assert.equal(text.includes(token), false);
    for (const f of fs.readdirSync(tp.config.recordings.dir)) {
      const bytes = fs.readFileSync(path.join(tp.config.recordings.dir, f));
      assert.equal(bytes.includes(token), false, `token in ${f}`);
      assert.equal(bytes.includes(token.split('.')[2]!), false, `token signature in ${f}`);
    }
  });
});
