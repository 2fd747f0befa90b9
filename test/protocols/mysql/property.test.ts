import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as my from '../../../protocols/mysql/index.js';
import { FrameError, PacketFramer, PayloadReader, ProtocolError } from '../../../protocols/mysql/index.js';

fc.configureGlobal({ seed: 42, numRuns: 500 });

// ---------- generators ----------

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
/** Lengths around the int<lenenc> boundaries, and small ones most of the time. */
const valueLength = fc.oneof(
  { weight: 8, arbitrary: fc.nat(40) },
  { weight: 1, arbitrary: fc.constantFrom(250, 251, 252, 0xffff, 0x10000) },
);
const value = valueLength.chain((n) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a)));
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 4 });
/** Strings as NUL-terminated fields carry them. */
const text = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replaceAll('\0', ''));
const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const safe = fc.oneof(fc.nat(300), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
/** fc.record with ordinary objects (deepStrictEqual compares prototypes). */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(model).map((r) => ({ ...r }) as T);
const flagsOf = (names: number[]) => fc.subarray(names).map((fs) => fs.reduce((a, f) => (a | f) >>> 0, 0));

const allTypes = [...Array.from({ length: 21 }, (_, i) => i), ...Array.from({ length: 14 }, (_, i) => 242 + i)];
/** Oracle for § Binary Protocol Value, written from the docs independently of packets.ts. */
function valueShape(type: number): 'lenenc' | 'temporal' | 'none' | number {
  if (type === my.MYSQL_TYPE_TINY) return 1;
  if (type === my.MYSQL_TYPE_SHORT || type === my.MYSQL_TYPE_YEAR) return 2;
  if ([my.MYSQL_TYPE_LONG, my.MYSQL_TYPE_INT24, my.MYSQL_TYPE_FLOAT].includes(type)) return 4;
  if (type === my.MYSQL_TYPE_LONGLONG || type === my.MYSQL_TYPE_DOUBLE) return 8;
  if (type === my.MYSQL_TYPE_NULL) return 'none';
  const temporal = [
    my.MYSQL_TYPE_DATE,
    my.MYSQL_TYPE_NEWDATE,
    my.MYSQL_TYPE_DATETIME,
    my.MYSQL_TYPE_DATETIME2,
    my.MYSQL_TYPE_TIMESTAMP,
    my.MYSQL_TYPE_TIMESTAMP2,
    my.MYSQL_TYPE_TIME,
    my.MYSQL_TYPE_TIME2,
  ];
  return temporal.includes(type) ? 'temporal' : 'lenenc';
}
function valueFor(type: number): fc.Arbitrary<Buffer> {
  const shape = valueShape(type);
  if (typeof shape === 'number') return fc.uint8Array({ minLength: shape, maxLength: shape }).map((a) => Buffer.from(a));
  if (shape === 'none') return fc.constant(Buffer.alloc(0));
  if (shape === 'temporal') return fc.constantFrom(0, 4, 7, 8, 11, 12).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a)));
  return value;
}
const binaryRow = fc
  .array(record({ type: fc.constantFrom(...allTypes), flags: u16 }), { maxLength: 20 })
  .chain((columns) => fc.tuple(fc.constant(columns), fc.tuple(...columns.map((c) => nullable(valueFor(c.type))))));

const column: fc.Arbitrary<my.ColumnDefinition41> = record({
  catalog: fc.constant('def'),
  schema: text,
  table: text,
  orgTable: text,
  name: text,
  orgName: text,
  characterSet: u16,
  columnLength: u32,
  type: fc.constantFrom(...allTypes),
  flags: u16,
  decimals: u8,
});

const serverCaps = flagsOf([
  my.CLIENT_LONG_PASSWORD,
  my.CLIENT_FOUND_ROWS,
  my.CLIENT_CONNECT_WITH_DB,
  my.CLIENT_PROTOCOL_41,
  my.CLIENT_SSL,
  my.CLIENT_TRANSACTIONS,
  my.CLIENT_SECURE_CONNECTION,
  my.CLIENT_PLUGIN_AUTH,
  my.CLIENT_SESSION_TRACK,
  my.CLIENT_DEPRECATE_EOF,
  my.CLIENT_REMEMBER_OPTIONS,
]);

const handshake: fc.Arbitrary<my.HandshakeV10> = fc
  .record({
    serverVersion: text,
    connectionId: u32,
    scramble: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a)),
    capabilities: serverCaps,
    mariadb: u32,
    characterSet: u8,
    statusFlags: u16,
    authPluginName: text,
  })
  .map(({ scramble, mariadb, ...h }) => {
    const caps = h.capabilities;
    const out: my.HandshakeV10 = {
      protocolVersion: 10,
      ...h,
      // Without 4.1 authentication only the first 8 bytes of the scramble travel.
      authPluginData: caps & my.CLIENT_SECURE_CONNECTION ? scramble : scramble.subarray(0, 8),
      authPluginName: caps & my.CLIENT_PLUGIN_AUTH ? h.authPluginName : '',
    };
    if (!(caps & my.CLIENT_MYSQL)) out.mariadbCapabilities = mariadb;
    return out;
  });

const clientCaps = flagsOf([
  my.CLIENT_LONG_PASSWORD,
  my.CLIENT_CONNECT_WITH_DB,
  my.CLIENT_SECURE_CONNECTION,
  my.CLIENT_PLUGIN_AUTH,
  my.CLIENT_CONNECT_ATTRS,
  my.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  my.CLIENT_SSL,
  my.CLIENT_DEPRECATE_EOF,
]).map((c) => (c | my.CLIENT_PROTOCOL_41) >>> 0);

const handshakeResponse: fc.Arbitrary<my.HandshakeResponse41> = fc
  .record({
    capabilities: clientCaps,
    maxPacketSize: u32,
    characterSet: u8,
    mariadb: u32,
    username: text,
    auth: bytes(300),
    database: text,
    authPluginName: text,
    attributes: fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 300 })), { maxLength: 5 }),
  })
  .map(({ mariadb, auth, database, authPluginName, attributes, ...r }) => {
    const caps = r.capabilities;
    let authResponse = auth;
    if (!(caps & my.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
      authResponse = caps & my.CLIENT_SECURE_CONNECTION ? auth.subarray(0, 255) : Buffer.from(auth.filter((b) => b !== 0));
    }
    const out: my.HandshakeResponse41 = { ...r, authResponse };
    if (!(caps & my.CLIENT_MYSQL)) out.mariadbCapabilities = mariadb;
    if (caps & my.CLIENT_CONNECT_WITH_DB) out.database = database;
    if (caps & my.CLIENT_PLUGIN_AUTH) out.authPluginName = authPluginName;
    if (caps & my.CLIENT_CONNECT_ATTRS) out.attributes = new Map(attributes);
    return out;
  });

const okCaps = flagsOf([my.CLIENT_PROTOCOL_41, my.CLIENT_TRANSACTIONS, my.CLIENT_SESSION_TRACK]);
const okPacket = fc
  .record({
    header: fc.constantFrom<0 | 0xfe>(0, 0xfe),
    affectedRows: safe,
    lastInsertId: safe,
    statusFlags: u16,
    warnings: u16,
    info: fc.string({ maxLength: 300 }),
    state: nullable(bytes(300)),
  })
  .map(({ state, ...p }): my.OkPacket => (state ? { ...p, sessionStateChanges: state } : p));

// ---------- properties ----------

describe('row codecs', () => {
  it('text rows: decode(encode(values)) === values and encode(decode(payload)) === payload', () => {
    fc.assert(
      fc.property(fc.array(nullable(value), { maxLength: 20 }), (values) => {
        const p = my.encodeTextRow(values);
        const back = my.decodeTextRow(p, values.length);
        assert.deepEqual(back, values);
        assert.ok(my.encodeTextRow(back).equals(p));
      }),
      { numRuns: 300 },
    );
  });

  it('binary rows of random column types and NULLs round-trip both ways', () => {
    fc.assert(
      fc.property(binaryRow, ([columns, values]) => {
        const p = my.encodeBinaryRow(columns, values);
        assert.equal(p.length >= 1 + my.binaryRowNullBitmapLength(columns.length), true);
        const back = my.decodeBinaryRow(p, columns);
        assert.deepEqual(back, values);
        assert.ok(my.encodeBinaryRow(columns, back).equals(p));
      }),
      { numRuns: 300 },
    );
  });

  it('a binary row decoded with the wrong column types only ever throws ProtocolError', () => {
    fc.assert(
      fc.property(binaryRow, fc.array(record({ type: fc.constantFrom(...allTypes), flags: u16 }), { maxLength: 20 }), ([columns, values], wrong) => {
        const p = my.encodeBinaryRow(columns, values);
        try {
          my.decodeBinaryRow(p, wrong);
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
        }
      }),
    );
  });
});

describe('packet round trips', () => {
  it('HandshakeV10', () => {
    fc.assert(fc.property(handshake, (h) => assert.deepEqual(my.decodeHandshakeV10(my.encodeHandshakeV10(h)), h)));
  });

  it('HandshakeResponse41', () => {
    fc.assert(fc.property(handshakeResponse, (r) => assert.deepEqual(my.decodeHandshakeResponse41(my.encodeHandshakeResponse41(r)), r)));
  });

  it('SSLRequest', () => {
    fc.assert(
      fc.property(clientCaps, u32, u8, u32, (capabilities, maxPacketSize, characterSet, mariadb) => {
        const req: my.SSLRequest = { capabilities: (capabilities | my.CLIENT_SSL) >>> 0, maxPacketSize, characterSet };
        if (!(capabilities & my.CLIENT_MYSQL)) req.mariadbCapabilities = mariadb;
        const p = my.encodeSSLRequest(req);
        assert.ok(my.isSSLRequest(p));
        assert.deepEqual(my.decodeSSLRequest(p), req);
      }),
    );
  });

  it('OK_Packet under every capability combination', () => {
    fc.assert(
      fc.property(okPacket, okCaps, (ok, caps) => {
        const expected: my.OkPacket = { ...ok };
        delete expected.sessionStateChanges;
        if (!(caps & (my.CLIENT_PROTOCOL_41 | my.CLIENT_TRANSACTIONS))) expected.statusFlags = 0;
        if (!(caps & my.CLIENT_PROTOCOL_41)) expected.warnings = 0;
        if (caps & my.CLIENT_SESSION_TRACK && expected.statusFlags & my.SERVER_SESSION_STATE_CHANGED && ok.sessionStateChanges) {
          expected.sessionStateChanges = ok.sessionStateChanges;
        }
        const p = my.encodeOkPacket(ok, caps);
        const back = my.decodeOkPacket(p, caps);
        assert.deepEqual(back, expected);
        assert.ok(my.encodeOkPacket(back, caps).equals(p));
      }),
    );
  });

  it('ERR_Packet, EOF_Packet, ColumnDefinition41, column count, AuthSwitchRequest, AuthMoreData, commands', () => {
    const sqlstate = fc.stringMatching(/^[0-9A-Z]{5}$/);
    fc.assert(
      fc.property(record({ errno: u16, sqlstate, message: fc.string({ maxLength: 100 }) }), (e) =>
        assert.deepEqual(my.decodeErrPacket(my.encodeErrPacket(e)), e),
      ),
    );
    fc.assert(fc.property(u16, u16, (status, warnings) => assert.deepEqual(my.decodeEofPacket(my.encodeEofPacket(status, warnings)), { statusFlags: status, warnings })));
    fc.assert(fc.property(column, (c) => assert.deepEqual(my.decodeColumnDefinition41(my.encodeColumnDefinition41(c)), c)));
    fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffff }), (n) => assert.equal(my.decodeColumnCount(my.encodeColumnCount(n)), n)));
    fc.assert(
      fc.property(text, bytes(100), (name, data) => {
        const sw = my.decodeAuthSwitchRequest(my.encodeAuthSwitchRequest(name, data));
        assert.equal(sw.pluginName, name);
        assert.ok(sw.pluginData.equals(data));
        assert.ok(my.decodeAuthMoreData(my.encodeAuthMoreData(data)).equals(data));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (sql) => {
        assert.equal(my.decodeComQuery(my.encodeComQuery(sql)), sql);
        assert.equal(my.decodeComStmtPrepare(my.encodeComStmtPrepare(sql)), sql);
      }),
    );
    fc.assert(
      fc.property(record({ statementId: u32, numColumns: u16, numParams: u16, warnings: u16 }), (ok) =>
        assert.deepEqual(my.decodeStmtPrepareOk(my.encodeStmtPrepareOk(ok)), ok),
      ),
    );
    fc.assert(
      fc.property(record({ statementId: u32, flags: u8, iterationCount: u32 }), bytes(40), (e, params) =>
        assert.deepEqual(my.decodeComStmtExecute(my.encodeComStmtExecute(e, params)), e),
      ),
    );
  });
});

// ---------- hostile input: random bytes into every decoder ----------

/** Runs `decode`; anything thrown must be a ProtocolError. */
function onlyProtocolErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
}

const decoders: [string, (p: Buffer, n: number) => unknown][] = [
  ['HandshakeV10', (p) => my.decodeHandshakeV10(p)],
  ['HandshakeResponse41', (p) => my.decodeHandshakeResponse41(p)],
  ['SSLRequest', (p) => my.decodeSSLRequest(p)],
  ['AuthSwitchRequest', (p) => my.decodeAuthSwitchRequest(p)],
  ['AuthMoreData', (p) => my.decodeAuthMoreData(p)],
  ['OK_Packet', (p, n) => my.decodeOkPacket(p, n * 0x10101)],
  ['ERR_Packet', (p, n) => my.decodeErrPacket(p, n)],
  ['EOF_Packet', (p) => my.decodeEofPacket(p)],
  ['ColumnDefinition41', (p) => my.decodeColumnDefinition41(p)],
  ['column count', (p) => my.decodeColumnCount(p)],
  ['text row', (p, n) => my.decodeTextRow(p, n % 40)],
  ['binary row', (p, n) => my.decodeBinaryRow(p, Array.from({ length: n % 40 }, (_, i) => ({ type: allTypes[(n * 7 + i * 13) % allTypes.length]!, flags: 0 })))],
  ['COM_QUERY', (p) => my.decodeComQuery(p)],
  ['COM_STMT_PREPARE', (p) => my.decodeComStmtPrepare(p)],
  ['COM_STMT_PREPARE_OK', (p) => my.decodeStmtPrepareOk(p)],
  ['COM_STMT_EXECUTE', (p) => my.decodeComStmtExecute(p)],
  [
    'PayloadReader',
    (p) => {
      const r = new PayloadReader(p);
      while (r.remaining > 0) {
        r.lenencBytes();
        r.nulBytes();
      }
    },
  ],
];

/** Random bytes, biased towards the header bytes the decoders branch on. */
const hostile = fc.oneof(
  bytes(200),
  fc.tuple(fc.constantFrom(0x00, 0x01, 0x03, 0x0a, 0x16, 0x17, 0xfb, 0xfc, 0xfd, 0xfe, 0xff), bytes(120)).map(([h, b]) => Buffer.concat([Buffer.from([h]), b])),
);

describe('random bytes into every decoder: only ProtocolError', () => {
  for (const [name, decode] of decoders) {
    it(name, () => {
      fc.assert(fc.property(hostile, fc.nat(0xff), (p, n) => onlyProtocolErrors(() => decode(p, n))), { numRuns: 1000 });
    });
  }

  it('valid payloads with one byte changed or cut short', () => {
    const valid = fc.oneof(
      handshake.map((h) => my.encodeHandshakeV10(h)),
      handshakeResponse.map((r) => my.encodeHandshakeResponse41(r)),
      okPacket.map((ok) => my.encodeOkPacket(ok, my.CLIENT_PROTOCOL_41 | my.CLIENT_SESSION_TRACK)),
      column.map((c) => my.encodeColumnDefinition41(c)),
      binaryRow.map(([columns, values]) => my.encodeBinaryRow(columns, values)),
      fc.array(nullable(bytes(30)), { maxLength: 8 }).map((v) => my.encodeTextRow(v)),
    );
    fc.assert(
      fc.property(valid, fc.nat(), u8, fc.boolean(), fc.nat(0xff), (p, at, b, cut, n) => {
        const changed = Buffer.from(p);
        if (changed.length > 0) changed[at % changed.length] = b;
        const input = cut ? changed.subarray(0, at % (changed.length + 1)) : changed;
        for (const [, decode] of decoders) onlyProtocolErrors(() => decode(input, n));
      }),
      { numRuns: 500 },
    );
  });
});

describe('random bytes into the framer: only FrameError', () => {
  it('any stream, any chunking', () => {
    fc.assert(
      fc.property(fc.array(bytes(64), { maxLength: 10 }), fc.nat(1000), (chunks, maxLength) => {
        const framer = new PacketFramer({ maxLength });
        try {
          for (const c of chunks) {
            framer.push(c, (_seq, buf, start, end) => {
              assert.ok(end - start >= 4 && end - start - 4 <= maxLength && end <= buf.length);
            });
          }
        } catch (e) {
          if (!(e instanceof FrameError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
