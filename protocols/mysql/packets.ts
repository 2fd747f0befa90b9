/**
 * Decoders and encoders of packet PAYLOADS (no headers), named after the MySQL client/server protocol
 * documentation (Connection Phase Packets, Generic Response Packets, Text and Binary Protocol). Decoders read
 * through a PayloadReader, so any malformed or truncated payload throws ProtocolError; byte results are views.
 */
import {
  AUTH_MORE_DATA_HEADER,
  AUTH_SWITCH_REQUEST_HEADER,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SESSION_TRACK,
  CLIENT_SSL,
  CLIENT_TRANSACTIONS,
  COM_QUERY,
  COM_STMT_EXECUTE,
  COM_STMT_PREPARE,
  EOF_HEADER,
  ERR_HEADER,
  LOCAL_INFILE_HEADER,
  MYSQL_TYPE_DATE,
  MYSQL_TYPE_DATETIME,
  MYSQL_TYPE_DATETIME2,
  MYSQL_TYPE_DOUBLE,
  MYSQL_TYPE_FLOAT,
  MYSQL_TYPE_INT24,
  MYSQL_TYPE_LONG,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_NEWDATE,
  MYSQL_TYPE_NULL,
  MYSQL_TYPE_SHORT,
  MYSQL_TYPE_TIME,
  MYSQL_TYPE_TIME2,
  MYSQL_TYPE_TIMESTAMP,
  MYSQL_TYPE_TIMESTAMP2,
  MYSQL_TYPE_TINY,
  MYSQL_TYPE_YEAR,
  OK_HEADER,
  SERVER_SESSION_STATE_CHANGED,
} from './codes.js';
import { PayloadReader, ProtocolError } from './reader.js';
import { PayloadWriter } from './writer.js';

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------------------------------------------
// Connection phase (§ Connection Phase Packets)
// ---------------------------------------------------------------------------------------------------------------

export interface HandshakeV10 {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The whole scramble (20 bytes normally), without the NUL that ends auth-plugin-data-part-2. */
  authPluginData: Buffer;
  /** Lower 32 bits of the capability flags. */
  capabilities: number;
  /** MariaDB extended capabilities (bits 32..63, shifted down), present when CLIENT_MYSQL (bit 0) is clear. */
  mariadbCapabilities?: number;
  characterSet: number;
  statusFlags: number;
  /** Empty when the server does not set CLIENT_PLUGIN_AUTH. */
  authPluginName: string;
}

/** § Protocol::HandshakeV10, with MariaDB's use of the last 4 reserved bytes. */
export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new PayloadReader(payload);
  const protocolVersion = r.int1();
  if (protocolVersion !== 10) throw new ProtocolError(`unsupported handshake protocol version ${protocolVersion}`);
  const serverVersion = r.nulString();
  const connectionId = r.int4();
  const part1 = r.bytes(8);
  r.skip(1); // filler
  let capabilities = r.int2();
  const characterSet = r.int1();
  const statusFlags = r.int2();
  capabilities = (capabilities | (r.int2() << 16)) >>> 0;
  const authPluginDataLength = r.int1();
  r.skip(6);
  const extended = r.int4();
  const mariadbCapabilities = capabilities & CLIENT_MYSQL ? undefined : extended;
  let authPluginData = part1;
  if (capabilities & CLIENT_SECURE_CONNECTION) {
    const part2 = r.bytes(Math.max(13, authPluginDataLength - 8));
    // auth_plugin_data_len counts the NUL ending part 2; without it, that NUL is the last byte.
    const keep = authPluginDataLength > 8 ? authPluginDataLength - 9 : part2[part2.length - 1] === 0 ? part2.length - 1 : part2.length;
    authPluginData = Buffer.concat([part1, part2.subarray(0, keep)]);
  }
  let authPluginName = '';
  if (capabilities & CLIENT_PLUGIN_AUTH) {
    // Some 5.5 servers omit the final NUL.
    authPluginName = r.buf.indexOf(0, r.pos) >= 0 ? r.nulString() : r.rest().toString('utf8');
  }
  const h: HandshakeV10 = {
    protocolVersion,
    serverVersion,
    connectionId,
    authPluginData,
    capabilities,
    characterSet,
    statusFlags,
    authPluginName,
  };
  if (mariadbCapabilities !== undefined) h.mariadbCapabilities = mariadbCapabilities;
  return h;
}

export function encodeHandshakeV10(h: HandshakeV10): Buffer {
  if (h.authPluginData.length < 8) throw new ProtocolError('auth-plugin-data needs at least 8 bytes');
  const caps = h.capabilities >>> 0;
  const w = new PayloadWriter(96 + h.serverVersion.length);
  w.int1(h.protocolVersion).nulString(h.serverVersion).int4(h.connectionId);
  w.bytes(h.authPluginData.subarray(0, 8)).int1(0);
  w.int2(caps & 0xffff).int1(h.characterSet).int2(h.statusFlags).int2(caps >>> 16);
  w.int1(caps & CLIENT_PLUGIN_AUTH ? h.authPluginData.length + 1 : 0);
  w.zeros(6);
  if (caps & CLIENT_MYSQL || h.mariadbCapabilities === undefined) w.zeros(4);
  else w.int4(h.mariadbCapabilities);
  if (caps & CLIENT_SECURE_CONNECTION) {
    const part2 = h.authPluginData.subarray(8);
    w.bytes(part2).zeros(Math.max(13 - part2.length, 1));
  }
  if (caps & CLIENT_PLUGIN_AUTH) w.nulString(h.authPluginName);
  return w.finish();
}

export interface HandshakeResponse41 {
  capabilities: number;
  maxPacketSize: number;
  characterSet: number;
  /** MariaDB extended client capabilities, present when the client clears CLIENT_MYSQL (bit 0). */
  mariadbCapabilities?: number;
  username: string;
  authResponse: Buffer;
  /** Present when CLIENT_CONNECT_WITH_DB is set. */
  database?: string;
  /** Present when CLIENT_PLUGIN_AUTH is set. */
  authPluginName?: string;
  /** Present when CLIENT_CONNECT_ATTRS is set. */
  attributes?: Map<string, string>;
}

/** The fixed 32-byte start shared by SSLRequest and HandshakeResponse41. */
export interface SSLRequest {
  capabilities: number;
  maxPacketSize: number;
  characterSet: number;
  mariadbCapabilities?: number;
}

function readResponseStart(r: PayloadReader): SSLRequest {
  const capabilities = r.int4();
  if (!(capabilities & CLIENT_PROTOCOL_41)) throw new ProtocolError('client does not speak protocol 4.1');
  const maxPacketSize = r.int4();
  const characterSet = r.int1();
  r.skip(19);
  const extended = r.int4();
  const start: SSLRequest = { capabilities, maxPacketSize, characterSet };
  if (!(capabilities & CLIENT_MYSQL)) start.mariadbCapabilities = extended;
  return start;
}

function writeResponseStart(w: PayloadWriter, s: SSLRequest): void {
  w.int4(s.capabilities).int4(s.maxPacketSize).int1(s.characterSet).zeros(19);
  if (s.capabilities & CLIENT_MYSQL || s.mariadbCapabilities === undefined) w.zeros(4);
  else w.int4(s.mariadbCapabilities);
}

/** § Protocol::HandshakeResponse41. Optional trailing fields a client left out are simply absent. */
export function decodeHandshakeResponse41(payload: Buffer): HandshakeResponse41 {
  const r = new PayloadReader(payload);
  const res: HandshakeResponse41 = { ...readResponseStart(r), username: '', authResponse: EMPTY };
  const caps = res.capabilities;
  res.username = r.nulString();
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) res.authResponse = r.bytes(r.lenencIntNotNull());
  else if (caps & CLIENT_SECURE_CONNECTION) res.authResponse = r.bytes(r.int1());
  else res.authResponse = r.nulBytes();
  if (caps & CLIENT_CONNECT_WITH_DB && r.remaining > 0) res.database = r.nulString();
  if (caps & CLIENT_PLUGIN_AUTH && r.remaining > 0) res.authPluginName = r.nulString();
  if (caps & CLIENT_CONNECT_ATTRS && r.remaining > 0) {
    const length = r.lenencIntNotNull();
    const end = r.pos + length;
    if (end > r.end) throw new ProtocolError('packet truncated');
    const attrs = new PayloadReader(payload, r.pos, end);
    res.attributes = new Map();
    while (attrs.remaining > 0) res.attributes.set(attrs.lenencString(), attrs.lenencString());
    r.pos = end;
  }
  return res;
}

export function encodeHandshakeResponse41(res: HandshakeResponse41): Buffer {
  const caps = res.capabilities;
  const w = new PayloadWriter(128 + res.authResponse.length);
  writeResponseStart(w, res);
  w.nulString(res.username);
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(res.authResponse);
  else if (caps & CLIENT_SECURE_CONNECTION) {
    if (res.authResponse.length > 0xff) throw new ProtocolError('auth response longer than 255 bytes');
    w.int1(res.authResponse.length).bytes(res.authResponse);
  } else {
    if (res.authResponse.includes(0)) throw new ProtocolError('NUL inside a NUL-terminated auth response');
    w.bytes(res.authResponse).int1(0);
  }
  if (caps & CLIENT_CONNECT_WITH_DB) w.nulString(res.database ?? '');
  if (caps & CLIENT_PLUGIN_AUTH) w.nulString(res.authPluginName ?? '');
  if (caps & CLIENT_CONNECT_ATTRS) {
    const attrs = new PayloadWriter();
    for (const [k, v] of res.attributes ?? []) attrs.lenencString(k).lenencString(v);
    w.lenencBytes(attrs.finish());
  }
  return w.finish();
}

/** § Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41, with CLIENT_SSL set. */
export function isSSLRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & CLIENT_SSL) !== 0;
}

export function decodeSSLRequest(payload: Buffer): SSLRequest {
  const r = new PayloadReader(payload);
  const req = readResponseStart(r);
  r.done();
  if (!(req.capabilities & CLIENT_SSL)) throw new ProtocolError('SSLRequest without CLIENT_SSL');
  return req;
}

export function encodeSSLRequest(req: SSLRequest): Buffer {
  const w = new PayloadWriter(32);
  writeResponseStart(w, { ...req, capabilities: (req.capabilities | CLIENT_SSL) >>> 0 });
  return w.finish();
}

export interface AuthSwitchRequest {
  pluginName: string;
  /**
   * As sent. mysql_native_password and caching_sha2_password servers send the 20-byte scramble followed by a
   * NUL; scrambleOf() drops it.
   */
  pluginData: Buffer;
}

/** § Protocol::AuthSwitchRequest (0xFE, plugin name, plugin data). */
export function encodeAuthSwitchRequest(pluginName: string, pluginData: Buffer): Buffer {
  return new PayloadWriter(pluginName.length + pluginData.length + 2)
    .int1(AUTH_SWITCH_REQUEST_HEADER)
    .nulString(pluginName)
    .bytes(pluginData)
    .finish();
}

/** A lone 0xFE is the pre-4.1 § Protocol::OldAuthSwitchRequest (mysql_old_password, no data). */
export function decodeAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new PayloadReader(payload);
  if (r.int1() !== AUTH_SWITCH_REQUEST_HEADER) throw new ProtocolError('not an AuthSwitchRequest');
  if (r.remaining === 0) return { pluginName: 'mysql_old_password', pluginData: EMPTY };
  return { pluginName: r.nulString(), pluginData: r.rest() };
}

/** The scramble inside auth plugin data: without one trailing NUL, if there is one. */
export function scrambleOf(pluginData: Buffer): Buffer {
  return pluginData.length > 0 && pluginData[pluginData.length - 1] === 0 ? pluginData.subarray(0, -1) : pluginData;
}

/** § Protocol::AuthMoreData (0x01, data). */
export function encodeAuthMoreData(data: Buffer): Buffer {
  return new PayloadWriter(data.length + 1).int1(AUTH_MORE_DATA_HEADER).bytes(data).finish();
}

export function decodeAuthMoreData(payload: Buffer): Buffer {
  const r = new PayloadReader(payload);
  if (r.int1() !== AUTH_MORE_DATA_HEADER) throw new ProtocolError('not an AuthMoreData packet');
  return r.rest();
}

// ---------------------------------------------------------------------------------------------------------------
// Generic response packets (§ OK_Packet, ERR_Packet, EOF_Packet)
// ---------------------------------------------------------------------------------------------------------------

export interface OkPacket {
  /** 0xFE when it ends a resultset under CLIENT_DEPRECATE_EOF. */
  header: 0x00 | 0xfe;
  affectedRows: number;
  lastInsertId: number;
  statusFlags: number;
  warnings: number;
  info: string;
  /** Raw session state information, present with CLIENT_SESSION_TRACK and SERVER_SESSION_STATE_CHANGED. */
  sessionStateChanges?: Buffer;
}

export function isOkPacket(payload: Buffer): boolean {
  return payload.length >= 7 && payload[0] === OK_HEADER;
}

export function isErrPacket(payload: Buffer): boolean {
  return payload.length >= 3 && payload[0] === ERR_HEADER;
}

/** EOF_Packet, or the 0xFE OK_Packet that replaces it with CLIENT_DEPRECATE_EOF when short (§ OK_Packet). */
export function isEofPacket(payload: Buffer): boolean {
  return payload[0] === EOF_HEADER && payload.length < 9;
}

/**
 * The 0xFE packet ending rows under CLIENT_DEPRECATE_EOF: OK_Packet with 0xFE header. A row can only start
 * with 0xFE when its first value is 16 MB or more, which fills the whole physical packet, so any shorter
 * payload starting with 0xFE ends the rows.
 */
export function isResultsetEnd(payload: Buffer): boolean {
  return payload[0] === EOF_HEADER && payload.length < 0xffffff;
}

/** § LOCAL INFILE Request: 0xFB then the file name, in place of a column count. */
export function isLocalInfileRequest(payload: Buffer): boolean {
  return payload[0] === LOCAL_INFILE_HEADER;
}

/**
 * § OK_Packet. The info string is length-encoded, as servers send it, and absent when empty; with
 * CLIENT_SESSION_TRACK and SERVER_SESSION_STATE_CHANGED the session state information follows it.
 */
export function decodeOkPacket(payload: Buffer, capabilities: number): OkPacket {
  const r = new PayloadReader(payload);
  const header = r.int1();
  if (header !== OK_HEADER && header !== EOF_HEADER) throw new ProtocolError('not an OK_Packet');
  const ok: OkPacket = {
    header,
    affectedRows: r.lenencIntNotNull(),
    lastInsertId: r.lenencIntNotNull(),
    statusFlags: 0,
    warnings: 0,
    info: '',
  };
  if (capabilities & CLIENT_PROTOCOL_41) {
    ok.statusFlags = r.int2();
    ok.warnings = r.int2();
  } else if (capabilities & CLIENT_TRANSACTIONS) {
    ok.statusFlags = r.int2();
  }
  if (r.remaining > 0) ok.info = r.lenencString();
  if (capabilities & CLIENT_SESSION_TRACK && ok.statusFlags & SERVER_SESSION_STATE_CHANGED && r.remaining > 0) {
    ok.sessionStateChanges = r.bytes(r.lenencIntNotNull());
  }
  r.done();
  return ok;
}

export function encodeOkPacket(p: Partial<OkPacket>, capabilities: number): Buffer {
  const w = new PayloadWriter(16 + (p.info?.length ?? 0) + (p.sessionStateChanges?.length ?? 0));
  let statusFlags = 0;
  w.int1(p.header ?? OK_HEADER).lenencInt(p.affectedRows ?? 0).lenencInt(p.lastInsertId ?? 0);
  if (capabilities & CLIENT_PROTOCOL_41) w.int2((statusFlags = p.statusFlags ?? 0)).int2(p.warnings ?? 0);
  else if (capabilities & CLIENT_TRANSACTIONS) w.int2((statusFlags = p.statusFlags ?? 0));
  const withState = capabilities & CLIENT_SESSION_TRACK && statusFlags & SERVER_SESSION_STATE_CHANGED && p.sessionStateChanges;
  if (p.info || withState) w.lenencString(p.info ?? '');
  if (withState) w.lenencBytes(p.sessionStateChanges!);
  return w.finish();
}

export interface ErrPacket {
  errno: number;
  /** Five characters; 'HY000' when the server sent none. */
  sqlstate: string;
  message: string;
}

/**
 * § ERR_Packet. The '#' + SQLSTATE marker is read when present (servers omit it before they know the client
 * speaks 4.1); pass capabilities without CLIENT_PROTOCOL_41 to never look for it.
 */
export function decodeErrPacket(payload: Buffer, capabilities = CLIENT_PROTOCOL_41): ErrPacket {
  const r = new PayloadReader(payload);
  if (r.int1() !== ERR_HEADER) throw new ProtocolError('not an ERR_Packet');
  const errno = r.int2();
  let sqlstate = 'HY000';
  if (capabilities & CLIENT_PROTOCOL_41 && r.remaining >= 6 && payload[r.pos] === 0x23 /* '#' */) {
    r.skip(1);
    sqlstate = r.bytes(5).toString('latin1');
  }
  return { errno, sqlstate, message: r.rest().toString('utf8') };
}

export function encodeErrPacket(e: ErrPacket): Buffer {
  if (!/^[0-9A-Z]{5}$/.test(e.sqlstate)) throw new ProtocolError(`invalid SQLSTATE ${JSON.stringify(e.sqlstate)}`);
  return new PayloadWriter(16 + e.message.length)
    .int1(ERR_HEADER)
    .int2(e.errno)
    .int1(0x23)
    .string(e.sqlstate)
    .string(e.message)
    .finish();
}

export interface EofPacket {
  warnings: number;
  statusFlags: number;
}

/** § EOF_Packet (4.1: warnings then status flags). */
export function decodeEofPacket(payload: Buffer): EofPacket {
  const r = new PayloadReader(payload);
  if (r.int1() !== EOF_HEADER || payload.length >= 9) throw new ProtocolError('not an EOF_Packet');
  const warnings = r.int2();
  const statusFlags = r.int2();
  r.done();
  return { warnings, statusFlags };
}

export function encodeEofPacket(statusFlags: number, warnings = 0): Buffer {
  return new PayloadWriter(5).int1(EOF_HEADER).int2(warnings).int2(statusFlags).finish();
}

// ---------------------------------------------------------------------------------------------------------------
// Resultsets (§ Text Resultset, § Binary Protocol Resultset)
// ---------------------------------------------------------------------------------------------------------------

export interface ColumnDefinition41 {
  catalog: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  characterSet: number;
  columnLength: number;
  type: number;
  flags: number;
  decimals: number;
}

/** § Protocol::ColumnDefinition41. Anything after the 2 filler bytes (COM_FIELD_LIST default values) is ignored. */
export function decodeColumnDefinition41(payload: Buffer): ColumnDefinition41 {
  const r = new PayloadReader(payload);
  const catalog = r.lenencString();
  const schema = r.lenencString();
  const table = r.lenencString();
  const orgTable = r.lenencString();
  const name = r.lenencString();
  const orgName = r.lenencString();
  if (r.lenencIntNotNull() < 12) throw new ProtocolError('column definition: fixed fields too short');
  return {
    catalog,
    schema,
    table,
    orgTable,
    name,
    orgName,
    characterSet: r.int2(),
    columnLength: r.int4(),
    type: r.int1(),
    flags: r.int2(),
    decimals: r.int1(),
  };
}

export function encodeColumnDefinition41(c: ColumnDefinition41): Buffer {
  const w = new PayloadWriter(48 + c.schema.length + c.table.length * 2 + c.name.length * 2);
  w.lenencString(c.catalog).lenencString(c.schema).lenencString(c.table).lenencString(c.orgTable);
  w.lenencString(c.name).lenencString(c.orgName);
  w.lenencInt(12).int2(c.characterSet).int4(c.columnLength).int1(c.type).int2(c.flags).int1(c.decimals).zeros(2);
  return w.finish();
}

/** The first packet of a resultset: the column count. OK, ERR, EOF and LOCAL INFILE packets throw. */
export function decodeColumnCount(payload: Buffer): number {
  const first = payload[0];
  if (first === OK_HEADER || first === ERR_HEADER || first === EOF_HEADER || first === LOCAL_INFILE_HEADER) {
    throw new ProtocolError('not a resultset column count');
  }
  const r = new PayloadReader(payload);
  const count = r.lenencIntNotNull();
  r.done();
  return count;
}

/** 1 ≤ count < 2^24: a 0xFE first byte would read as EOF_Packet (servers allow 4096 columns). */
export function encodeColumnCount(count: number): Buffer {
  if (!(count >= 1 && count < 0x1000000)) throw new ProtocolError(`invalid column count ${count}`);
  return new PayloadWriter(9).lenencInt(count).finish();
}

/** § ProtocolText::ResultsetRow: one string<lenenc> per column, 0xFB for NULL. Values are views. */
export function decodeTextRow(payload: Buffer, columnCount: number): (Buffer | null)[] {
  const r = new PayloadReader(payload);
  const values = new Array<Buffer | null>(columnCount);
  for (let i = 0; i < columnCount; i++) values[i] = r.lenencBytes();
  r.done();
  return values;
}

export function encodeTextRow(values: (Buffer | null)[]): Buffer {
  let size = 0;
  for (const v of values) size += v === null ? 1 : v.length + 9;
  const w = new PayloadWriter(size);
  for (const v of values) w.lenencBytes(v);
  return w.finish();
}

/** Fixed byte length of a binary protocol value of `type`; -1 for 1-byte-length-prefixed temporal values; 0 for string<lenenc>. */
function binaryValueKind(type: number): number {
  switch (type) {
    case MYSQL_TYPE_TINY:
      return 1;
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_YEAR:
      return 2;
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_FLOAT:
      return 4;
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_DOUBLE:
      return 8;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      return -1;
    case MYSQL_TYPE_NULL:
      return NULL_KIND;
    default:
      return 0;
  }
}
/** MYSQL_TYPE_NULL values take no bytes. */
const NULL_KIND = -2;

/** Byte length of the NULL bitmap of a binary resultset row (offset 2, § NULL-Bitmap). */
export function binaryRowNullBitmapLength(columnCount: number): number {
  return (columnCount + 7 + 2) >> 3;
}

/**
 * § ProtocolBinary::ResultsetRow: 0x00, NULL bitmap (offset 2), then each non-NULL value (§ Binary Protocol
 * Value). Values are views of their raw encoding: the fixed bytes of numeric types, the bytes after the length
 * byte of temporal types, the bytes after the length prefix of everything else (strings, blobs, decimals, JSON,
 * ENUM, SET, BIT, GEOMETRY).
 */
export function decodeBinaryRow(payload: Buffer, columns: { type: number; flags: number }[]): (Buffer | null)[] {
  const r = new PayloadReader(payload);
  if (r.int1() !== 0x00) throw new ProtocolError('binary row must start with 0x00');
  const bitmapStart = r.pos;
  r.skip(binaryRowNullBitmapLength(columns.length));
  const values = new Array<Buffer | null>(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const bit = i + 2;
    if (payload[bitmapStart + (bit >> 3)]! & (1 << (bit & 7))) {
      values[i] = null;
      continue;
    }
    const kind = binaryValueKind(columns[i]!.type);
    if (kind > 0) values[i] = r.bytes(kind);
    else if (kind === -1) values[i] = r.bytes(r.int1());
    else if (kind === NULL_KIND) values[i] = EMPTY;
    else values[i] = r.bytes(r.lenencIntNotNull());
  }
  r.done();
  return values;
}

/** The inverse of decodeBinaryRow: re-adds the length prefixes. A fixed-size value of the wrong size throws. */
export function encodeBinaryRow(columns: { type: number; flags: number }[], values: (Buffer | null)[]): Buffer {
  if (values.length !== columns.length) throw new ProtocolError('binary row: one value per column');
  const bitmapLength = binaryRowNullBitmapLength(columns.length);
  let size = 1 + bitmapLength;
  for (const v of values) if (v) size += v.length + 9;
  const w = new PayloadWriter(size);
  w.int1(0x00);
  const bitmap = Buffer.alloc(bitmapLength);
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null) bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
  }
  w.bytes(bitmap);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const kind = binaryValueKind(columns[i]!.type);
    if (kind > 0) {
      if (v.length !== kind) throw new ProtocolError(`binary row: column ${i} needs ${kind} bytes, got ${v.length}`);
      w.bytes(v);
    } else if (kind === -1) {
      if (v.length > 0xff) throw new ProtocolError(`binary row: temporal value of ${v.length} bytes`);
      w.int1(v.length).bytes(v);
    } else if (kind === NULL_KIND) {
      if (v.length !== 0) throw new ProtocolError('binary row: a MYSQL_TYPE_NULL value has no bytes');
    } else {
      w.lenencBytes(v);
    }
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------------
// Commands (§ Text Protocol, § Prepared Statements)
// ---------------------------------------------------------------------------------------------------------------

function commandText(payload: Buffer, command: number, name: string): string {
  if (payload[0] !== command) throw new ProtocolError(`not a ${name}`);
  return payload.toString('utf8', 1);
}

/** § COM_QUERY: the statement text after the 0x03 byte (without CLIENT_QUERY_ATTRIBUTES). */
export function decodeComQuery(payload: Buffer): string {
  return commandText(payload, COM_QUERY, 'COM_QUERY');
}

export function encodeComQuery(sql: string): Buffer {
  return new PayloadWriter(sql.length + 1).int1(COM_QUERY).string(sql).finish();
}

/** § COM_STMT_PREPARE: the statement text after the 0x16 byte. */
export function decodeComStmtPrepare(payload: Buffer): string {
  return commandText(payload, COM_STMT_PREPARE, 'COM_STMT_PREPARE');
}

export function encodeComStmtPrepare(sql: string): Buffer {
  return new PayloadWriter(sql.length + 1).int1(COM_STMT_PREPARE).string(sql).finish();
}

export interface StmtPrepareOk {
  statementId: number;
  numColumns: number;
  numParams: number;
  warnings: number;
}

/** § COM_STMT_PREPARE_OK (0x00, id, columns, params, filler, warnings). */
export function decodeStmtPrepareOk(payload: Buffer): StmtPrepareOk {
  const r = new PayloadReader(payload);
  if (r.int1() !== 0x00) throw new ProtocolError('not a COM_STMT_PREPARE_OK');
  const statementId = r.int4();
  const numColumns = r.int2();
  const numParams = r.int2();
  let warnings = 0;
  if (r.remaining > 0) {
    r.skip(1);
    warnings = r.int2();
  }
  return { statementId, numColumns, numParams, warnings };
}

export function encodeStmtPrepareOk(p: StmtPrepareOk): Buffer {
  return new PayloadWriter(12).int1(0x00).int4(p.statementId).int2(p.numColumns).int2(p.numParams).int1(0).int2(p.warnings).finish();
}

export interface ComStmtExecute {
  statementId: number;
  /** Cursor type (CURSOR_TYPE_*). */
  flags: number;
  iterationCount: number;
}

export const CURSOR_TYPE_NO_CURSOR = 0;
export const CURSOR_TYPE_READ_ONLY = 1;
export const CURSOR_TYPE_FOR_UPDATE = 2;
export const CURSOR_TYPE_SCROLLABLE = 4;

/** § COM_STMT_EXECUTE: the fixed fields; the parameter block after them is left alone. */
export function decodeComStmtExecute(payload: Buffer): ComStmtExecute {
  const r = new PayloadReader(payload);
  if (r.int1() !== COM_STMT_EXECUTE) throw new ProtocolError('not a COM_STMT_EXECUTE');
  return { statementId: r.int4(), flags: r.int1(), iterationCount: r.int4() };
}

/** COM_STMT_EXECUTE with `params` (the encoded parameter block, § COM_STMT_EXECUTE) appended as is. */
export function encodeComStmtExecute(e: ComStmtExecute, params: Buffer = EMPTY): Buffer {
  return new PayloadWriter(10 + params.length)
    .int1(COM_STMT_EXECUTE)
    .int4(e.statementId)
    .int1(e.flags)
    .int4(e.iterationCount)
    .bytes(params)
    .finish();
}
