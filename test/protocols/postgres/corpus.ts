/**
 * A corpus of real PostgreSQL wire messages of every type, in both directions. Built with
 * jitgate's encoders where they exist, pg-protocol's serializer for the client side, and by
 * hand (helpers below) for the rest.
 */
import { serialize } from 'pg-protocol';
import * as encode from '../../../protocols/postgres/encode.js';

export interface Sample {
  name: string;
  /** The whole message as it appears on the wire. */
  bytes: Buffer;
  /** Untyped startup-phase message (no type byte). */
  untyped?: boolean;
}

export const i8 = (v: number) => Buffer.from([v & 0xff]);
export const i16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
export const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
export const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), i8(0)]);

/** Typed message: type byte, Int32 length counting itself, body. */
export function typed(type: string | number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  const t = typeof type === 'string' ? type.charCodeAt(0) : type;
  return Buffer.concat([i8(t), i32(b.length + 4), b]);
}

/** Untyped startup-phase message: Int32 length counting itself, body. */
export function untyped(...body: Buffer[]): Buffer {
  const b = Buffer.concat(body);
  return Buffer.concat([i32(b.length + 4), b]);
}

/** Copies: pg-protocol hands out shared constant buffers for some messages. */
const own = (b: Buffer) => Buffer.from(b);

export const key4 = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
export const key32 = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
/** Larger than 64 KiB so no 16-bit length truncation can hide. */
export const largeValue = Buffer.from(Array.from({ length: 70_000 }, (_, i) => 0x61 + (i % 26)));

export const startupSamples: Sample[] = [
  { name: 'StartupMessage (encode)', bytes: encode.StartupMessage([['user', 'alice'], ['database', 'app'], ['application_name', 'psql']]) },
  { name: 'StartupMessage (pg-protocol)', bytes: own(serialize.startup({ user: 'bob', database: 'bob', options: '-c search_path=x' })) },
  { name: 'StartupMessage 3.2', bytes: encode.StartupMessage([['user', 'carol'], ['_pq_.opt', 'on']], 2) },
  { name: 'SSLRequest (encode)', bytes: encode.SSLRequest() },
  { name: 'SSLRequest (pg-protocol)', bytes: own(serialize.requestSsl()) },
  { name: 'GSSENCRequest', bytes: untyped(i32(80877104)) },
  { name: 'CancelRequest 4-byte key', bytes: encode.CancelRequest(4242, key4) },
  { name: 'CancelRequest 4-byte key (pg-protocol)', bytes: own(serialize.cancel(77, 0x01020304)) },
  { name: 'CancelRequest 32-byte key', bytes: encode.CancelRequest(31337, key32) },
].map((s) => ({ ...s, untyped: true }));

const functionCall = typed(
  'F',
  i32(1598), // function oid
  i16(2), // argument format codes
  i16(0),
  i16(1),
  i16(3), // arguments
  i32(3),
  Buffer.from('abc'),
  i32(-1),
  i32(4),
  i32(99),
  i16(1), // result format
);

export const frontendSamples: Sample[] = [
  { name: 'PasswordMessage (encode)', bytes: encode.PasswordMessage('correct horse') },
  { name: 'PasswordMessage (pg-protocol)', bytes: own(serialize.password('hünter2')) },
  { name: 'SASLInitialResponse (encode)', bytes: encode.SASLInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=rOprNGfwEbeRWgbNEkqO')) },
  { name: 'SASLInitialResponse (pg-protocol)', bytes: own(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc')) },
  { name: 'SASLResponse (encode)', bytes: encode.SASLResponse(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=')) },
  { name: 'SASLResponse (pg-protocol)', bytes: own(serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz')) },
  { name: 'Query', bytes: own(serialize.query('SELECT 1')) },
  { name: 'Query empty', bytes: own(serialize.query('')) },
  { name: 'Query multi-statement utf8', bytes: own(serialize.query("SELECT 'é'; SELECT '日本'")) },
  { name: 'Parse named with types', bytes: own(serialize.parse({ name: 's1', text: 'SELECT $1::int4, $2::text', types: [23, 25] })) },
  { name: 'Parse unnamed', bytes: own(serialize.parse({ text: 'SELECT now()' })) },
  { name: 'Bind text params', bytes: own(serialize.bind({ portal: 'p1', statement: 's1', values: ['42', 'héllo', ''] })) },
  { name: 'Bind binary params', bytes: own(serialize.bind({ statement: 's1', binary: true, values: [Buffer.from([0, 0, 0, 42]), Buffer.alloc(0)] })) },
  { name: 'Bind NULL param', bytes: own(serialize.bind({ values: [null, 'x', null] })) },
  { name: 'Bind no params', bytes: own(serialize.bind({})) },
  { name: 'Describe statement', bytes: own(serialize.describe({ type: 'S', name: 's1' })) },
  { name: 'Describe portal unnamed', bytes: own(serialize.describe({ type: 'P' })) },
  { name: 'Execute portal with limit', bytes: own(serialize.execute({ portal: 'p1', rows: 100 })) },
  { name: 'Execute unnamed', bytes: own(serialize.execute()) },
  { name: 'Sync', bytes: own(serialize.sync()) },
  { name: 'Flush', bytes: own(serialize.flush()) },
  { name: 'Close statement', bytes: own(serialize.close({ type: 'S', name: 's1' })) },
  { name: 'Close portal unnamed', bytes: own(serialize.close({ type: 'P' })) },
  { name: 'CopyData', bytes: own(serialize.copyData(Buffer.from('1\talice\n2\tbob\n'))) },
  { name: 'CopyData large', bytes: typed('d', largeValue) },
  { name: 'CopyDone', bytes: own(serialize.copyDone()) },
  { name: 'CopyFail', bytes: own(serialize.copyFail('client aborted COPY')) },
  { name: 'FunctionCall', bytes: functionCall },
  { name: 'Terminate (encode)', bytes: encode.Terminate() },
  { name: 'Terminate (pg-protocol)', bytes: own(serialize.end()) },
];

export const rowDescription = typed(
  'T',
  i16(3),
  cstr('id'),
  i32(16384),
  i16(1),
  i32(23),
  i16(4),
  i32(-1),
  i16(0),
  cstr('name'),
  i32(16384),
  i16(2),
  i32(25),
  i16(-1),
  i32(-1),
  i16(0),
  cstr('blob'),
  i32(0),
  i16(0),
  i32(17),
  i16(-1),
  i32(-1),
  i16(1),
);

export const dataRowCells: (Buffer | null)[] = [Buffer.from('1'), null, Buffer.alloc(0), Buffer.from('ünïcödé'), largeValue, null];

export const backendSamples: Sample[] = [
  { name: 'AuthenticationOk', bytes: encode.AuthenticationOk() },
  { name: 'AuthenticationKerberosV5', bytes: typed('R', i32(2)) },
  { name: 'AuthenticationCleartextPassword', bytes: encode.AuthenticationCleartextPassword() },
  { name: 'AuthenticationMD5Password', bytes: typed('R', i32(5), Buffer.from([1, 2, 3, 4])) },
  { name: 'AuthenticationGSS', bytes: typed('R', i32(7)) },
  { name: 'AuthenticationGSSContinue', bytes: typed('R', i32(8), Buffer.from('gss-token-bytes')) },
  { name: 'AuthenticationSSPI', bytes: typed('R', i32(9)) },
  { name: 'AuthenticationSASL', bytes: typed('R', i32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), i8(0)) },
  { name: 'AuthenticationSASLContinue', bytes: typed('R', i32(11), Buffer.from('r=abcdef,s=QSXCR+Q6sek8bf92,i=4096')) },
  { name: 'AuthenticationSASLFinal', bytes: typed('R', i32(12), Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')) },
  { name: 'ParameterStatus', bytes: encode.ParameterStatus('server_version', '15.6') },
  { name: 'ParameterStatus empty value', bytes: encode.ParameterStatus('application_name', '') },
  { name: 'BackendKeyData 4-byte key', bytes: encode.BackendKeyData(4242, key4) },
  { name: 'BackendKeyData 32-byte key', bytes: encode.BackendKeyData(31337, key32) },
  { name: 'ReadyForQuery idle', bytes: encode.ReadyForQuery('I') },
  { name: 'ReadyForQuery in transaction', bytes: encode.ReadyForQuery('T') },
  { name: 'ReadyForQuery failed transaction', bytes: encode.ReadyForQuery('E') },
  { name: 'RowDescription', bytes: rowDescription },
  { name: 'RowDescription no fields', bytes: typed('T', i16(0)) },
  { name: 'DataRow NULLs, empty, large', bytes: encode.DataRow(dataRowCells) },
  { name: 'DataRow no columns', bytes: encode.DataRow([]) },
  { name: 'CommandComplete SELECT', bytes: typed('C', cstr('SELECT 3')) },
  { name: 'CommandComplete INSERT', bytes: typed('C', cstr('INSERT 0 1')) },
  { name: 'EmptyQueryResponse', bytes: typed('I') },
  {
    name: 'ErrorResponse',
    bytes: encode.ErrorResponse({ severity: 'ERROR', code: '42P01', message: 'relation "nope" does not exist', detail: 'd', hint: 'h' }),
  },
  { name: 'NoticeResponse', bytes: encode.NoticeResponse({ severity: 'NOTICE', code: '00000', message: 'table "t" does not exist, skipping' }) },
  { name: 'NotificationResponse', bytes: encode.NotificationResponse(777, 'jobs', '{"id":1}') },
  { name: 'ParseComplete', bytes: typed('1') },
  { name: 'BindComplete', bytes: typed('2') },
  { name: 'CloseComplete', bytes: typed('3') },
  { name: 'NoData', bytes: typed('n') },
  { name: 'PortalSuspended', bytes: typed('s') },
  { name: 'ParameterDescription', bytes: typed('t', i16(2), i32(23), i32(25)) },
  { name: 'CopyInResponse', bytes: typed('G', i8(0), i16(2), i16(0), i16(0)) },
  { name: 'CopyOutResponse', bytes: typed('H', i8(1), i16(1), i16(1)) },
  { name: 'CopyBothResponse', bytes: typed('W', i8(0), i16(0)) },
  { name: 'CopyData', bytes: typed('d', Buffer.from('1\talice\n')) },
  { name: 'CopyDone', bytes: typed('c') },
  { name: 'FunctionCallResponse', bytes: typed('V', i32(4), i32(1234)) },
  { name: 'FunctionCallResponse NULL', bytes: typed('V', i32(-1)) },
  { name: 'NegotiateProtocolVersion', bytes: encode.NegotiateProtocolVersion(0, ['_pq_.compression', '_pq_.other']) },
];
