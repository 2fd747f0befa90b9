import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parse, serialize } from 'pg-protocol';
import * as encode from '../../../protocols/postgres/encode.js';
import { MessageError } from '../../../protocols/postgres/reader.js';
import { Backend, ErrorField } from '../../../protocols/postgres/codes.js';
import {
  decodeBind,
  decodeDescribeOrClose,
  decodeExecute,
  decodeParse,
  decodePasswordMessage,
  decodeQuery,
  decodeStartupPacket,
} from '../../../protocols/postgres/frontend-messages.js';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeErrorFields,
  decodeNotificationResponse,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
  decodeSaslMechanisms,
} from '../../../protocols/postgres/backend-messages.js';
import { backendSamples, cstr, dataRowCells, frontendSamples, i16, i32, i8, key32, key4, largeValue, rowDescription, startupSamples, typed, untyped } from './corpus.js';

type Decoder = (buf: Buffer, start: number, end: number) => unknown;

const whole = (d: Decoder, b: Buffer) => d(b, 0, b.length);
const sample = (name: string) =>
  [...startupSamples, ...frontendSamples, ...backendSamples].find((s) => s.name === name)?.bytes ?? assert.fail(`no sample ${name}`);

/** Decodes `msg` placed inside a larger buffer with junk (NULs included) on both sides. */
function decodeEmbedded(d: Decoder, msg: Buffer): unknown {
  const junk = Buffer.from([0, 0x41, 0, 0xff, 0]);
  const buf = Buffer.concat([junk, msg, junk]);
  return d(buf, junk.length, junk.length + msg.length);
}

describe('frontend decoders round-trip', () => {
  it('decodeStartupPacket: StartupMessage from encode and pg-protocol', () => {
    const a = whole(decodeStartupPacket, sample('StartupMessage (encode)'));
    assert.deepEqual(a, {
      kind: 'StartupMessage',
      major: 3,
      minor: 0,
      params: new Map([['user', 'alice'], ['database', 'app'], ['application_name', 'psql']]),
    });
    const b = whole(decodeStartupPacket, sample('StartupMessage (pg-protocol)'));
    assert.deepEqual(b, {
      kind: 'StartupMessage',
      major: 3,
      minor: 0,
      params: new Map([['user', 'bob'], ['database', 'bob'], ['options', '-c search_path=x'], ['client_encoding', 'UTF8']]),
    });
    const c = whole(decodeStartupPacket, sample('StartupMessage 3.2')) as { minor: number };
    assert.equal(c.minor, 2);
    assert.deepEqual(decodeEmbedded(decodeStartupPacket, sample('StartupMessage (encode)')), a);
  });

  it('decodeStartupPacket: SSLRequest, GSSENCRequest, CancelRequest, unknown versions', () => {
    assert.deepEqual(whole(decodeStartupPacket, sample('SSLRequest (encode)')), { kind: 'SSLRequest' });
    assert.deepEqual(whole(decodeStartupPacket, sample('SSLRequest (pg-protocol)')), { kind: 'SSLRequest' });
    assert.deepEqual(whole(decodeStartupPacket, sample('GSSENCRequest')), { kind: 'GSSENCRequest' });
    assert.deepEqual(whole(decodeStartupPacket, sample('CancelRequest 4-byte key')), { kind: 'CancelRequest', processId: 4242, secretKey: key4 });
    assert.deepEqual(whole(decodeStartupPacket, sample('CancelRequest 32-byte key')), { kind: 'CancelRequest', processId: 31337, secretKey: key32 });
    assert.deepEqual(whole(decodeStartupPacket, sample('CancelRequest 4-byte key (pg-protocol)')), {
      kind: 'CancelRequest',
      processId: 77,
      secretKey: Buffer.from([1, 2, 3, 4]),
    });
    assert.deepEqual(whole(decodeStartupPacket, encode.CancelRequest(1, Buffer.alloc(256, 7))), {
      kind: 'CancelRequest',
      processId: 1,
      secretKey: Buffer.alloc(256, 7),
    });
    assert.deepEqual(whole(decodeStartupPacket, untyped(i32(2 << 16), cstr('user'), cstr('x'), i8(0))), { kind: 'Unknown', code: 2 << 16 });
  });

  it('decodeStartupPacket rejects duplicate parameters and bad cancel key lengths', () => {
    assert.throws(() => whole(decodeStartupPacket, encode.StartupMessage([['user', 'a'], ['user', 'b']])), MessageError);
    assert.throws(() => whole(decodeStartupPacket, encode.CancelRequest(1, Buffer.alloc(3))), MessageError);
    assert.throws(() => whole(decodeStartupPacket, encode.CancelRequest(1, Buffer.alloc(257))), MessageError);
  });

  it('decodePasswordMessage', () => {
    assert.equal(whole(decodePasswordMessage, sample('PasswordMessage (encode)')), 'correct horse');
    assert.equal(whole(decodePasswordMessage, sample('PasswordMessage (pg-protocol)')), 'hünter2');
  });

  it('decodeQuery', () => {
    assert.equal(whole(decodeQuery, sample('Query')), 'SELECT 1');
    assert.equal(whole(decodeQuery, sample('Query empty')), '');
    assert.equal(whole(decodeQuery, sample('Query multi-statement utf8')), "SELECT 'é'; SELECT '日本'");
    assert.equal(decodeEmbedded(decodeQuery, sample('Query')), 'SELECT 1');
  });

  it('decodeParse', () => {
    assert.deepEqual(whole(decodeParse, sample('Parse named with types')), {
      statement: 's1',
      query: 'SELECT $1::int4, $2::text',
      paramTypes: [23, 25],
    });
    assert.deepEqual(whole(decodeParse, sample('Parse unnamed')), { statement: '', query: 'SELECT now()', paramTypes: [] });
    // OIDs are unsigned.
    const big = typed('P', cstr(''), cstr('SELECT $1'), i16(1), i32(-1));
    assert.deepEqual(whole(decodeParse, big), { statement: '', query: 'SELECT $1', paramTypes: [0xffffffff] });
  });

  it('decodeBind: text, binary and NULL parameters', () => {
    assert.deepEqual(whole(decodeBind, sample('Bind text params')), {
      portal: 'p1',
      statement: 's1',
      paramFormats: [0, 0, 0],
      params: [Buffer.from('42'), Buffer.from('héllo'), Buffer.alloc(0)],
      resultFormats: [0],
    });
    assert.deepEqual(whole(decodeBind, sample('Bind binary params')), {
      portal: '',
      statement: 's1',
      paramFormats: [1, 1],
      params: [Buffer.from([0, 0, 0, 42]), Buffer.alloc(0)],
      resultFormats: [1],
    });
    assert.deepEqual(whole(decodeBind, sample('Bind NULL param')), {
      portal: '',
      statement: '',
      paramFormats: [0, 0, 0],
      params: [null, Buffer.from('x'), null],
      resultFormats: [0],
    });
    assert.deepEqual(whole(decodeBind, sample('Bind no params')), {
      portal: '',
      statement: '',
      paramFormats: [],
      params: [],
      resultFormats: [0],
    });
  });

  it('decodeBind rejects parameter lengths below -1', () => {
    const bad = typed('B', cstr(''), cstr(''), i16(0), i16(1), i32(-2), i16(0));
    assert.throws(() => whole(decodeBind, bad), MessageError);
  });

  it('decodeExecute', () => {
    assert.deepEqual(whole(decodeExecute, sample('Execute portal with limit')), { portal: 'p1', maxRows: 100 });
    assert.deepEqual(whole(decodeExecute, sample('Execute unnamed')), { portal: '', maxRows: 0 });
  });

  it('decodeDescribeOrClose', () => {
    assert.deepEqual(whole(decodeDescribeOrClose, sample('Describe statement')), { target: 'statement', name: 's1' });
    assert.deepEqual(whole(decodeDescribeOrClose, sample('Describe portal unnamed')), { target: 'portal', name: '' });
    assert.deepEqual(whole(decodeDescribeOrClose, sample('Close statement')), { target: 'statement', name: 's1' });
    assert.deepEqual(whole(decodeDescribeOrClose, sample('Close portal unnamed')), { target: 'portal', name: '' });
    assert.throws(() => whole(decodeDescribeOrClose, typed('D', i8(0x58), cstr('x'))), MessageError);
  });
});

describe('backend decoders round-trip', () => {
  it('decodeAuthentication: every variant', () => {
    const cases: [string, number, Buffer][] = [
      ['AuthenticationOk', 0, Buffer.alloc(0)],
      ['AuthenticationKerberosV5', 2, Buffer.alloc(0)],
      ['AuthenticationCleartextPassword', 3, Buffer.alloc(0)],
      ['AuthenticationMD5Password', 5, Buffer.from([1, 2, 3, 4])],
      ['AuthenticationGSS', 7, Buffer.alloc(0)],
      ['AuthenticationGSSContinue', 8, Buffer.from('gss-token-bytes')],
      ['AuthenticationSSPI', 9, Buffer.alloc(0)],
      ['AuthenticationSASL', 10, Buffer.concat([cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), i8(0)])],
      ['AuthenticationSASLContinue', 11, Buffer.from('r=abcdef,s=QSXCR+Q6sek8bf92,i=4096')],
      ['AuthenticationSASLFinal', 12, Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')],
    ];
    for (const [name, code, data] of cases) {
      assert.deepEqual(whole(decodeAuthentication, sample(name)), { code, data }, name);
      assert.deepEqual(decodeEmbedded(decodeAuthentication, sample(name)), { code, data }, name);
    }
  });

  it('decodeAuthentication rejects wrong payload sizes of fixed-size requests', () => {
    assert.throws(() => whole(decodeAuthentication, typed('R', i32(0), i8(0))), MessageError);
    assert.throws(() => whole(decodeAuthentication, typed('R', i32(3), i8(0))), MessageError);
    assert.throws(() => whole(decodeAuthentication, typed('R', i32(5), Buffer.alloc(3))), MessageError);
    assert.throws(() => whole(decodeAuthentication, typed('R', i32(5), Buffer.alloc(5))), MessageError);
  });

  it('decodeSaslMechanisms', () => {
    const { data } = whole(decodeAuthentication, sample('AuthenticationSASL')) as { data: Buffer };
    assert.deepEqual(decodeSaslMechanisms(data), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
    assert.deepEqual(decodeSaslMechanisms(Buffer.from([0])), []);
    for (let k = 0; k < data.length; k++) assert.throws(() => decodeSaslMechanisms(data.subarray(0, k)), MessageError);
    assert.throws(() => decodeSaslMechanisms(Buffer.concat([data, Buffer.from('x')])), MessageError);
    assert.throws(() => decodeSaslMechanisms(Buffer.concat([data, i8(0)])), MessageError);
  });

  it('decodeParameterStatus', () => {
    assert.deepEqual(whole(decodeParameterStatus, sample('ParameterStatus')), { name: 'server_version', value: '15.6' });
    assert.deepEqual(whole(decodeParameterStatus, sample('ParameterStatus empty value')), { name: 'application_name', value: '' });
  });

  it('decodeBackendKeyData: 4, 32 and 256-byte keys; copies the key', () => {
    assert.deepEqual(whole(decodeBackendKeyData, sample('BackendKeyData 4-byte key')), { processId: 4242, secretKey: key4 });
    assert.deepEqual(whole(decodeBackendKeyData, sample('BackendKeyData 32-byte key')), { processId: 31337, secretKey: key32 });
    const m = encode.BackendKeyData(9, Buffer.alloc(256, 1));
    const { secretKey } = whole(decodeBackendKeyData, m) as { secretKey: Buffer };
    assert.deepEqual(secretKey, Buffer.alloc(256, 1));
    m.fill(0);
    assert.deepEqual(secretKey, Buffer.alloc(256, 1), 'key survives reuse of the message buffer');
    assert.throws(() => whole(decodeBackendKeyData, encode.BackendKeyData(9, Buffer.alloc(3))), MessageError);
    assert.throws(() => whole(decodeBackendKeyData, encode.BackendKeyData(9, Buffer.alloc(257))), MessageError);
  });

  it('decodeReadyForQuery', () => {
    assert.equal(whole(decodeReadyForQuery, sample('ReadyForQuery idle')), 0x49);
    assert.equal(whole(decodeReadyForQuery, sample('ReadyForQuery in transaction')), 0x54);
    assert.equal(whole(decodeReadyForQuery, sample('ReadyForQuery failed transaction')), 0x45);
  });

  it('decodeRowDescription', () => {
    assert.deepEqual(whole(decodeRowDescription, rowDescription), [
      { name: 'id', tableOid: 16384, attnum: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      { name: 'name', tableOid: 16384, attnum: 2, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 },
      { name: 'blob', tableOid: 0, attnum: 0, typeOid: 17, typeSize: -1, typeModifier: -1, format: 1 },
    ]);
    assert.deepEqual(whole(decodeRowDescription, sample('RowDescription no fields')), []);
  });

  it('decodeDataRow and DataRow round-trip: NULLs, empty strings, large values', () => {
    const msg = sample('DataRow NULLs, empty, large');
    const cells = whole(decodeDataRow, msg) as (Buffer | null)[];
    assert.deepEqual(cells, dataRowCells);
    assert.ok(encode.DataRow(cells).equals(msg));
    assert.deepEqual(whole(decodeDataRow, sample('DataRow no columns')), []);
    assert.deepEqual(decodeEmbedded(decodeDataRow, msg), dataRowCells);
    assert.throws(() => whole(decodeDataRow, typed('D', i16(1), i32(-2))), MessageError);
  });

  it('decodeCommandComplete', () => {
    assert.equal(whole(decodeCommandComplete, sample('CommandComplete SELECT')), 'SELECT 3');
    assert.equal(whole(decodeCommandComplete, sample('CommandComplete INSERT')), 'INSERT 0 1');
  });

  it('decodeErrorFields and encodeErrorFields round-trip, wire order kept', () => {
    const msg = sample('ErrorResponse');
    const fields = whole(decodeErrorFields, msg) as Map<number, string>;
    assert.deepEqual(
      [...fields],
      [
        [ErrorField.Severity, 'ERROR'],
        [ErrorField.SeverityNonLocalized, 'ERROR'],
        [ErrorField.Code, '42P01'],
        [ErrorField.Message, 'relation "nope" does not exist'],
        [ErrorField.Detail, 'd'],
        [ErrorField.Hint, 'h'],
      ],
    );
    assert.ok(encode.encodeErrorFields(Backend.ErrorResponse, fields).equals(msg));
    const notice = sample('NoticeResponse');
    assert.ok(encode.encodeErrorFields(Backend.NoticeResponse, whole(decodeErrorFields, notice) as Map<number, string>).equals(notice));
    assert.deepEqual(whole(decodeErrorFields, typed('E', i8(0))), new Map());
  });

  it('decodeNotificationResponse', () => {
    assert.deepEqual(whole(decodeNotificationResponse, sample('NotificationResponse')), { processId: 777, channel: 'jobs', payload: '{"id":1}' });
  });

  it('decodeCopyResponse: CopyIn, CopyOut, CopyBoth', () => {
    assert.deepEqual(whole(decodeCopyResponse, sample('CopyInResponse')), { format: 0, columnFormats: [0, 0] });
    assert.deepEqual(whole(decodeCopyResponse, sample('CopyOutResponse')), { format: 1, columnFormats: [1] });
    assert.deepEqual(whole(decodeCopyResponse, sample('CopyBothResponse')), { format: 0, columnFormats: [] });
  });
});

/**
 * Every decoder with corpus messages it accepts. For decoders whose last field is "the rest of the
 * message", `minValid`/`maxValid` bound the message lengths that decode; all others reject any
 * truncation and any trailing byte.
 */
const decoderCases: { decoder: string; fn: Decoder; messages: string[]; minValid?: number; maxValid?: number }[] = [
  { decoder: 'decodeStartupPacket (StartupMessage)', fn: decodeStartupPacket, messages: ['StartupMessage (encode)', 'StartupMessage (pg-protocol)', 'StartupMessage 3.2'] },
  { decoder: 'decodeStartupPacket (SSL/GSSENC)', fn: decodeStartupPacket, messages: ['SSLRequest (encode)', 'GSSENCRequest'] },
  // A CancelRequest key is the rest of the message: any 4..256 bytes.
  { decoder: 'decodeStartupPacket (CancelRequest)', fn: decodeStartupPacket, messages: ['CancelRequest 4-byte key', 'CancelRequest 32-byte key'], minValid: 16, maxValid: 4 + 4 + 4 + 256 },
  { decoder: 'decodePasswordMessage', fn: decodePasswordMessage, messages: ['PasswordMessage (encode)', 'PasswordMessage (pg-protocol)'] },
  { decoder: 'decodeQuery', fn: decodeQuery, messages: ['Query', 'Query empty', 'Query multi-statement utf8'] },
  { decoder: 'decodeParse', fn: decodeParse, messages: ['Parse named with types', 'Parse unnamed'] },
  { decoder: 'decodeBind', fn: decodeBind, messages: ['Bind text params', 'Bind binary params', 'Bind NULL param', 'Bind no params'] },
  { decoder: 'decodeExecute', fn: decodeExecute, messages: ['Execute portal with limit', 'Execute unnamed'] },
  { decoder: 'decodeDescribeOrClose', fn: decodeDescribeOrClose, messages: ['Describe statement', 'Describe portal unnamed', 'Close statement', 'Close portal unnamed'] },
  { decoder: 'decodeAuthentication (fixed size)', fn: decodeAuthentication, messages: ['AuthenticationOk', 'AuthenticationKerberosV5', 'AuthenticationCleartextPassword', 'AuthenticationMD5Password', 'AuthenticationGSS', 'AuthenticationSSPI'] },
  // SASL / GSS continuation data is opaque: any length after the code decodes.
  { decoder: 'decodeAuthentication (opaque data)', fn: decodeAuthentication, messages: ['AuthenticationSASL', 'AuthenticationSASLContinue', 'AuthenticationSASLFinal', 'AuthenticationGSSContinue'], minValid: 9, maxValid: Infinity },
  { decoder: 'decodeParameterStatus', fn: decodeParameterStatus, messages: ['ParameterStatus', 'ParameterStatus empty value'] },
  { decoder: 'decodeBackendKeyData', fn: decodeBackendKeyData, messages: ['BackendKeyData 4-byte key', 'BackendKeyData 32-byte key'], minValid: 13, maxValid: 1 + 4 + 4 + 256 },
  { decoder: 'decodeReadyForQuery', fn: decodeReadyForQuery, messages: ['ReadyForQuery idle', 'ReadyForQuery in transaction', 'ReadyForQuery failed transaction'] },
  { decoder: 'decodeRowDescription', fn: decodeRowDescription, messages: ['RowDescription', 'RowDescription no fields'] },
  { decoder: 'decodeDataRow', fn: decodeDataRow, messages: ['DataRow NULLs, empty, large', 'DataRow no columns'] },
  { decoder: 'decodeCommandComplete', fn: decodeCommandComplete, messages: ['CommandComplete SELECT', 'CommandComplete INSERT'] },
  { decoder: 'decodeErrorFields', fn: decodeErrorFields, messages: ['ErrorResponse', 'NoticeResponse'] },
  { decoder: 'decodeNotificationResponse', fn: decodeNotificationResponse, messages: ['NotificationResponse'] },
  { decoder: 'decodeCopyResponse', fn: decodeCopyResponse, messages: ['CopyInResponse', 'CopyOutResponse', 'CopyBothResponse'] },
];

/** Runs `fn`; it must return or throw MessageError — nothing else. Returns whether it threw. */
function threwMessageError(fn: () => unknown, label: string): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    assert.ok(e instanceof MessageError, `${label}: threw ${String(e)} instead of MessageError`);
    return true;
  }
}

describe('decoders throw MessageError on truncation and trailing bytes', () => {
  for (const c of decoderCases) {
    it(c.decoder, () => {
      for (const name of c.messages) {
        const msg = sample(name);
        assert.equal(threwMessageError(() => whole(c.fn, msg), name), false, `${name} decodes`);
        // Truncated: the message window ends early while the real bytes continue after it, so
        // a decoder reading past `end` would succeed where it must not.
        for (let end = 0; end < msg.length; end++) {
          const threw = threwMessageError(() => c.fn(msg, 0, end), `${name} cut at ${end}`);
          if (c.minValid === undefined || end < c.minValid) assert.ok(threw, `${name} cut at ${end} must throw`);
        }
        // Same, inside a consistent frame header with junk around it.
        const headerLen = startupSamples.some((s) => s.bytes === msg) ? 4 : 5;
        for (let bodyLen = 0; bodyLen < Math.min(msg.length - headerLen, 64); bodyLen++) {
          const body = msg.subarray(headerLen, headerLen + bodyLen);
          const frame = headerLen === 4 ? untyped(body) : typed(msg[0]!, body);
          const threw = threwMessageError(() => decodeEmbedded(c.fn, frame), `${name} framed body ${bodyLen}`);
          if (c.minValid === undefined || bodyLen + headerLen < c.minValid) assert.ok(threw, `${name} framed body ${bodyLen} must throw`);
        }
        for (const extra of [i8(0), Buffer.from('x'), Buffer.alloc(300, 0)]) {
          const longer = Buffer.concat([msg, extra]);
          const threw = threwMessageError(() => whole(c.fn, longer), `${name} + ${extra.length} trailing`);
          if (c.maxValid === undefined || longer.length > c.maxValid) assert.ok(threw, `${name} + ${extra.length} trailing bytes must throw`);
        }
      }
    });
  }

  it('a window shorter than the header throws MessageError for every decoder', () => {
    const empty = Buffer.alloc(0);
    for (const c of decoderCases) {
      for (let n = 0; n < 5; n++) assert.ok(threwMessageError(() => c.fn(Buffer.alloc(n, 0x44), 0, n), c.decoder), `${c.decoder} on ${n} bytes`);
    }
    assert.ok(threwMessageError(() => decodeSaslMechanisms(empty), 'sasl'));
  });
});

/** Feeds messages to pg-protocol's stream parser and collects what it parsed. */
async function pgParse(messages: Buffer[]): Promise<any[]> {
  const stream = new PassThrough();
  const out: any[] = [];
  const done = parse(stream, (m) => out.push(m));
  // Split oddly to exercise its buffering as well.
  const all = Buffer.concat(messages);
  for (let i = 0; i < all.length; i += 777) stream.write(all.subarray(i, i + 777));
  stream.end();
  await done;
  return out;
}

describe('backend decoders agree with pg-protocol', () => {
  it('RowDescription', async () => {
    const [m] = await pgParse([rowDescription]);
    const ours = whole(decodeRowDescription, rowDescription) as ReturnType<typeof decodeRowDescription>;
    assert.equal(m.name, 'rowDescription');
    assert.equal(m.fields.length, ours.length);
    ours.forEach((f, i) => {
      const p = m.fields[i];
      assert.deepEqual(
        [f.name, f.tableOid, f.attnum, f.typeOid, f.typeSize, f.typeModifier, f.format === 0 ? 'text' : 'binary'],
        [p.name, p.tableID, p.columnID, p.dataTypeID, p.dataTypeSize, p.dataTypeModifier, p.format],
      );
    });
  });

  it('DataRow built by DataRow()', async () => {
    const rows = [
      dataRowCells,
      [],
      [null],
      [Buffer.alloc(0)],
      [Buffer.from('a'), Buffer.from('日本語'), null, largeValue],
    ];
    const msgs = rows.map((r) => encode.DataRow(r));
    const parsed = await pgParse(msgs);
    assert.equal(parsed.length, rows.length);
    msgs.forEach((msg, i) => {
      assert.equal(parsed[i].name, 'dataRow');
      const ours = (whole(decodeDataRow, msg) as (Buffer | null)[]).map((c) => (c === null ? null : c.toString('utf8')));
      assert.deepEqual(ours, parsed[i].fields);
    });
  });

  it('ErrorResponse and NoticeResponse', async () => {
    const [err, notice] = await pgParse([sample('ErrorResponse'), sample('NoticeResponse')]);
    for (const [p, name] of [
      [err, 'ErrorResponse'],
      [notice, 'NoticeResponse'],
    ] as const) {
      const f = whole(decodeErrorFields, sample(name)) as Map<number, string>;
      assert.equal(p.severity, f.get(ErrorField.Severity));
      assert.equal(p.code, f.get(ErrorField.Code));
      assert.equal(p.message, f.get(ErrorField.Message));
      assert.equal(p.detail, f.get(ErrorField.Detail));
      assert.equal(p.hint, f.get(ErrorField.Hint));
    }
  });

  it('the simple backend messages', async () => {
    const names = [
      'AuthenticationOk',
      'AuthenticationCleartextPassword',
      'AuthenticationMD5Password',
      'AuthenticationSASL',
      'AuthenticationSASLContinue',
      'AuthenticationSASLFinal',
      'ParameterStatus',
      'BackendKeyData 4-byte key',
      'ReadyForQuery in transaction',
      'CommandComplete INSERT',
      'NotificationResponse',
      'CopyInResponse',
      'CopyOutResponse',
      'ParameterDescription',
      'CopyData',
      'CopyDone',
      'EmptyQueryResponse',
      'ParseComplete',
      'BindComplete',
      'CloseComplete',
      'NoData',
      'PortalSuspended',
    ];
    const parsed = await pgParse(names.map(sample));
    assert.equal(parsed.length, names.length);
    const by = (n: string) => parsed[names.indexOf(n)];
    const auth = (n: string) => whole(decodeAuthentication, sample(n)) as { code: number; data: Buffer };

    assert.equal(by('AuthenticationOk').name, 'authenticationOk');
    assert.equal(auth('AuthenticationOk').code, 0);
    assert.equal(by('AuthenticationCleartextPassword').name, 'authenticationCleartextPassword');
    assert.deepEqual(by('AuthenticationMD5Password').salt, auth('AuthenticationMD5Password').data);
    assert.deepEqual(by('AuthenticationSASL').mechanisms, decodeSaslMechanisms(auth('AuthenticationSASL').data));
    assert.equal(by('AuthenticationSASLContinue').data, auth('AuthenticationSASLContinue').data.toString());
    assert.equal(by('AuthenticationSASLFinal').data, auth('AuthenticationSASLFinal').data.toString());

    const ps = whole(decodeParameterStatus, sample('ParameterStatus')) as { name: string; value: string };
    assert.deepEqual([by('ParameterStatus').parameterName, by('ParameterStatus').parameterValue], [ps.name, ps.value]);

    const kd = whole(decodeBackendKeyData, sample('BackendKeyData 4-byte key')) as { processId: number; secretKey: Buffer };
    assert.equal(by('BackendKeyData 4-byte key').processID, kd.processId);
    assert.equal(by('BackendKeyData 4-byte key').secretKey, kd.secretKey.readInt32BE(0));

    assert.equal(by('ReadyForQuery in transaction').status, String.fromCharCode(whole(decodeReadyForQuery, sample('ReadyForQuery in transaction')) as number));
    assert.equal(by('CommandComplete INSERT').text, whole(decodeCommandComplete, sample('CommandComplete INSERT')));

    const n = whole(decodeNotificationResponse, sample('NotificationResponse')) as { processId: number; channel: string; payload: string };
    assert.deepEqual([by('NotificationResponse').processId, by('NotificationResponse').channel, by('NotificationResponse').payload], [n.processId, n.channel, n.payload]);

    for (const name of ['CopyInResponse', 'CopyOutResponse']) {
      const c = whole(decodeCopyResponse, sample(name)) as { format: number; columnFormats: number[] };
      assert.equal(by(name).binary, c.format !== 0);
      assert.deepEqual(by(name).columnTypes, c.columnFormats);
    }

    assert.deepEqual(by('ParameterDescription').dataTypeIDs, [23, 25]);
    assert.deepEqual(by('CopyData').chunk, sample('CopyData').subarray(5));
    assert.deepEqual(
      ['CopyDone', 'EmptyQueryResponse', 'ParseComplete', 'BindComplete', 'CloseComplete', 'NoData', 'PortalSuspended'].map((x) => by(x).name),
      ['copyDone', 'emptyQuery', 'parseComplete', 'bindComplete', 'closeComplete', 'noData', 'portalSuspended'],
    );
  });
});

describe('encoders agree with pg-protocol where both exist', () => {
  it('PasswordMessage, SASL messages, SSLRequest, Terminate, CancelRequest', () => {
    assert.deepEqual(encode.PasswordMessage('pw'), serialize.password('pw'));
    assert.deepEqual(encode.SASLInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=x')), serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x'));
    assert.deepEqual(encode.SASLResponse(Buffer.from('c=biws')), serialize.sendSCRAMClientFinalMessage('c=biws'));
    assert.deepEqual(encode.SSLRequest(), serialize.requestSsl());
    assert.deepEqual(encode.Terminate(), serialize.end());
    assert.deepEqual(encode.CancelRequest(77, Buffer.from([1, 2, 3, 4])), serialize.cancel(77, 0x01020304));
    assert.deepEqual(encode.StartupMessage([['user', 'u'], ['client_encoding', 'UTF8']]), serialize.startup({ user: 'u' }));
  });
});
