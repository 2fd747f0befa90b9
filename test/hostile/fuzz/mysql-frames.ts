/**
 * Structure-aware MySQL packet generation for fuzzing: valid payloads of both directions
 * (§ Connection Phase Packets, § Text Protocol, § Prepared Statements, § Generic Response
 * Packets) built from a seeded generator, framed, then mutated where parsers are fragile —
 * the 3-byte length, the sequence id, truncation, length-encoded integers, NUL terminators,
 * capability flags, splices.
 */
import { Rng } from './frames.js';
import {
  CACHING_SHA2,
  CAP,
  CLIENT_CAPS,
  COM,
  handshakeResponse41,
  int1,
  int2,
  int4,
  int8,
  lenenc,
  lenencStr,
  nulStr,
  rawPacket,
  sslRequest,
} from '../mysql-wire.js';

export { Rng };

const plugins = [CACHING_SHA2, 'mysql_native_password', 'mysql_clear_password', 'sha256_password', 'auth_gssapi_client', ''];
const optionalCaps = [CAP.CONNECT_WITH_DB, CAP.PLUGIN_AUTH, CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA, CAP.SECURE_CONNECTION, CAP.CONNECT_ATTRS, CAP.DEPRECATE_EOF, CAP.SESSION_TRACK, 1];
export const sqls = [
  'select 1',
  'select ssn, email from customers order by id',
  'select ? + 1',
  'select name from customers where id = ?',
  'begin',
  'commit',
  'select 1; select ssn from customers',
  "select repeat('x', 300)",
  'show tables',
  '',
];
/** MySQL column types the binary protocol encodes differently (§ Binary Protocol Value). */
export const columnTypes = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0xf5, 0xf6, 0xfc, 0xfd, 0xfe, 0xff];

/** Capability flags: the client's usual set with optional flags toggled (PROTOCOL_41 almost always). */
export function capabilities(r: Rng): number {
  let caps = CLIENT_CAPS;
  for (const c of optionalCaps) if (r.chance(0.3)) caps ^= c;
  if (r.chance(0.05)) caps &= ~CAP.PROTOCOL_41;
  return caps >>> 0;
}

// ---- client → server ----------------------------------------------------------------------

export function handshakeResponsePayload(r: Rng): Buffer {
  const caps = capabilities(r);
  const auth = r.pick([0, 20, 32, r.int(300)]);
  return handshakeResponse41({
    capabilities: caps,
    maxPacketSize: r.pick([0, 0x1000000, 0xffffffff, r.int(1 << 30)]),
    charset: r.pick([33, 45, 63, 224, 255, r.int(256)]),
    user: r.chance(0.9) ? r.text(12) || 'u' : r.bytes(r.int(8)),
    authResponse: caps & (CAP.SECURE_CONNECTION | CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) ? r.bytes(auth) : Buffer.from(r.text(20).replace(/\0/g, '')),
    database: r.pick(['shop', 'app', '', r.text(8)]),
    plugin: r.pick(plugins),
    attributes: caps & CAP.CONNECT_ATTRS ? Array.from({ length: r.int(4) }, () => [r.text(8), r.text(16)] as [string, string]) : undefined,
  });
}

export function sslRequestPayload(r: Rng): Buffer {
  return sslRequest(capabilities(r));
}

/** What a client sends after "perform full authentication": a key request, a token in clear, an RSA block. */
export function authAnswerPayload(r: Rng): Buffer {
  switch (r.int(4)) {
    case 0:
      return int1(0x02);
    case 1:
      return nulStr(`${r.text(20)}.${r.text(40)}.${r.text(20)}`.replace(/\0/g, ''));
    case 2:
      return r.bytes(r.pick([256, 512]));
    default:
      return r.bytes(r.int(40));
  }
}

/** COM_STMT_EXECUTE with a parameter block of `n` parameters (§ COM_STMT_EXECUTE). */
function stmtExecute(r: Rng): Buffer {
  const n = r.int(4);
  const parts = [int1(COM.STMT_EXECUTE), int4(r.int(4) + 1), int1(r.pick([0, 1, 2, 4])), int4(1)];
  if (n > 0) {
    parts.push(Buffer.alloc((n + 7) >> 3), int1(1));
    for (let i = 0; i < n; i++) parts.push(int2(r.pick([0x03, 0x08, 0xfd, 0x0c])));
    for (let i = 0; i < n; i++) parts.push(r.chance(0.5) ? int4(r.int(1000)) : lenencStr(r.text(10)));
  }
  return Buffer.concat(parts);
}

/** A command (sequence id 0 once framed); one in 16 is one jitgate refuses (pipelined, it ends the session). */
export function commandPayload(r: Rng): Buffer {
  if (r.chance(1 / 16)) return refusedCommandPayload(r);
  switch (r.int(13)) {
    case 0:
    case 1:
    case 2:
      return Buffer.concat([int1(COM.QUERY), Buffer.from(r.pick(sqls))]);
    case 3:
      return Buffer.concat([int1(COM.QUERY), Buffer.from(`select ${r.int(1000)}, '${r.text().replace(/['\\]/g, '')}'`)]);
    case 4:
      return int1(COM.PING);
    case 5:
      return Buffer.concat([int1(COM.STMT_PREPARE), Buffer.from(r.pick(sqls))]);
    case 6:
      return stmtExecute(r);
    case 7:
      return Buffer.concat([int1(COM.STMT_FETCH), int4(r.int(4) + 1), int4(r.int(20))]);
    case 8:
      return Buffer.concat([int1(r.pick([COM.STMT_CLOSE, COM.STMT_RESET])), int4(r.int(4) + 1)]);
    case 9:
      return Buffer.concat([int1(COM.STMT_SEND_LONG_DATA), int4(r.int(4) + 1), int2(0), r.bytes(r.int(20))]);
    case 10:
      return Buffer.concat([int1(COM.INIT_DB), Buffer.from(r.pick(['shop', r.text(8)]))]);
    case 11:
      return Buffer.concat([int1(COM.FIELD_LIST), nulStr('customers'), Buffer.from(r.pick(['', '%', 's%']))]);
    default:
      return r.chance(0.5) ? Buffer.concat([int1(COM.SET_OPTION), int2(r.int(2))]) : int1(r.pick([COM.STATISTICS, COM.RESET_CONNECTION]));
  }
}

/** COM_CHANGE_USER, replication commands, any command byte. */
function refusedCommandPayload(r: Rng): Buffer {
  switch (r.int(3)) {
    case 0:
      return Buffer.concat([int1(COM.CHANGE_USER), nulStr('root'), int1(0), nulStr('mysql')]);
    case 1:
      return Buffer.concat([int1(r.pick([COM.BINLOG_DUMP, COM.BINLOG_DUMP_GTID, COM.REGISTER_SLAVE])), r.bytes(r.int(16))]);
    default:
      return Buffer.concat([int1(r.int(256)), r.bytes(r.int(12))]);
  }
}

// ---- server → client ----------------------------------------------------------------------

export function handshakeV10Payload(r: Rng): Buffer {
  const caps = capabilities(r) | CAP.PROTOCOL_41;
  const scramble = r.bytes(20);
  return Buffer.concat([
    int1(r.chance(0.95) ? 10 : r.int(256)),
    nulStr(r.pick(['10.11.6-MariaDB', '8.0.36', '5.5.5-10.6.0-MariaDB', r.text(10).replace(/\0/g, '')])),
    int4(r.int(1 << 30)),
    scramble.subarray(0, 8),
    int1(0),
    int2(caps & 0xffff),
    int1(45),
    int2(2),
    int2(caps >>> 16),
    int1(r.pick([21, 0, 8, 9, 255])),
    Buffer.alloc(6),
    int4(r.int(64)),
    scramble.subarray(8),
    int1(0),
    nulStr(r.pick(plugins)),
  ]);
}

export function okPayload(r: Rng, header = 0x00): Buffer {
  const status = r.pick([0x0002, 0x0003, 0x0008, 0x0022, 0x4002, 0x0040, r.int(0x10000)]);
  const parts = [int1(header), lenenc(r.pick([0, 1, 300, 70_000, 2 ** 40])), lenenc(r.int(1000)), int2(status), int2(r.int(4))];
  if (r.chance(0.5)) parts.push(lenencStr(r.text()));
  if (status & 0x4000 && r.chance(0.7)) parts.push(lenencStr(Buffer.concat([int1(0), lenencStr(Buffer.concat([lenencStr('autocommit'), lenencStr('OFF')]))])));
  return Buffer.concat(parts);
}

export function errPayload(r: Rng): Buffer {
  return Buffer.concat([int1(0xff), int2(r.pick([1045, 1047, 1064, 1146, 1156, 0xffff])), r.chance(0.8) ? Buffer.from(`#${r.pick(['28000', '42S02', 'HY000', '08S01'])}`) : Buffer.alloc(0), Buffer.from(r.text(40))]);
}

export function eofPayload(r: Rng): Buffer {
  return Buffer.concat([int1(0xfe), int2(r.int(3)), int2(r.pick([0x0002, 0x0008, 0x0042, 0x0080]))]);
}

export function columnCountPayload(r: Rng): Buffer {
  return lenenc(r.pick([1, 2, 3, 250, 251, 300, 70_000, r.int(8) + 1]));
}

export interface ColumnShape {
  name: string;
  type: number;
  flags: number;
}

export function columnShape(r: Rng): ColumnShape {
  return { name: r.chance(0.3) ? 'ssn' : r.chance(0.3) ? 'email' : r.text(8), type: r.pick(columnTypes), flags: r.pick([0, 0x20, 0x80, 0x1001]) };
}

export function columnDefinitionPayload(r: Rng, c: ColumnShape = columnShape(r)): Buffer {
  return Buffer.concat([
    lenencStr('def'),
    lenencStr(r.pick(['app', ''])),
    lenencStr('customers'),
    lenencStr('customers'),
    lenencStr(c.name),
    lenencStr(c.name),
    lenenc(r.chance(0.95) ? 12 : r.int(20)),
    int2(r.pick([33, 45, 63])),
    int4(r.int(1 << 20)),
    int1(c.type),
    int2(c.flags),
    int1(r.int(32)),
    int2(0),
  ]);
}

export function textRowPayload(r: Rng, n: number): Buffer {
  return Buffer.concat(Array.from({ length: n }, () => (r.chance(0.15) ? int1(0xfb) : lenencStr(r.pick(['078-05-1120', 'ada@example.com', r.text(), 'x'.repeat(r.int(300))])))));
}

/** § ProtocolBinary::ResultsetRow for `columns`: 0x00, NULL bitmap (offset 2), values. */
export function binaryRowPayload(r: Rng, columns: ColumnShape[]): Buffer {
  const bitmap = Buffer.alloc((columns.length + 9) >> 3);
  const values: Buffer[] = [];
  columns.forEach((c, i) => {
    if (r.chance(0.15)) {
      bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
      return;
    }
    switch (c.type) {
      case 0x01:
        values.push(int1(r.int(256)));
        break;
      case 0x02:
      case 0x0d:
        values.push(int2(r.int(0x10000)));
        break;
      case 0x03:
      case 0x04:
      case 0x09:
        values.push(int4(r.int(2 ** 31)));
        break;
      case 0x05:
      case 0x08:
        values.push(int8(BigInt(r.int(2 ** 31))));
        break;
      case 0x06:
        break;
      case 0x07:
      case 0x0a:
      case 0x0b:
      case 0x0c: {
        const n = r.pick([0, 4, 7, 8, 11, 12]);
        values.push(int1(n), r.bytes(n));
        break;
      }
      default:
        values.push(lenencStr(r.text()));
    }
  });
  return Buffer.concat([int1(0x00), bitmap, ...values]);
}

export function stmtPrepareOkPayload(r: Rng): Buffer {
  return Buffer.concat([int1(0x00), int4(r.int(8) + 1), int2(r.int(4)), int2(r.int(4)), int1(0), int2(r.int(3))]);
}

export function authSwitchPayload(r: Rng): Buffer {
  return r.chance(0.1) ? int1(0xfe) : Buffer.concat([int1(0xfe), nulStr(r.pick(plugins)), r.bytes(20), int1(0)]);
}

export function authMoreDataPayload(r: Rng): Buffer {
  return Buffer.concat([int1(0x01), r.chance(0.6) ? int1(r.pick([0x03, 0x04])) : Buffer.from('-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n')]);
}

/** A server's whole answer to a command of `kind`, as payloads (§ Text Resultset, § COM_STMT_PREPARE Response). */
export function responsePayloads(r: Rng, kind: 'resultset' | 'binary' | 'prepare' | 'single' | 'fieldList' | 'fetch', deprecateEof: boolean): Buffer[] {
  const end = () => (deprecateEof ? okPayload(r, 0xfe) : eofPayload(r));
  const cols = Array.from({ length: r.int(4) + 1 }, () => columnShape(r));
  if (r.chance(0.1)) return [errPayload(r)];
  switch (kind) {
    case 'single':
      return [r.chance(0.7) ? okPayload(r) : eofPayload(r)];
    case 'fieldList':
      return [...cols.map((c) => columnDefinitionPayload(r, c)), eofPayload(r)];
    case 'prepare': {
      const params = r.int(3);
      const out: Buffer[] = [Buffer.concat([int1(0), int4(r.int(8) + 1), int2(cols.length), int2(params), int1(0), int2(0)])];
      for (let i = 0; i < params; i++) out.push(columnDefinitionPayload(r));
      if (params && !deprecateEof) out.push(eofPayload(r));
      for (const c of cols) out.push(columnDefinitionPayload(r, c));
      if (!deprecateEof) out.push(eofPayload(r));
      return out;
    }
    case 'fetch':
      return [...Array.from({ length: r.int(4) }, () => binaryRowPayload(r, cols)), end()];
    default: {
      if (r.chance(0.2)) return [okPayload(r)];
      const out: Buffer[] = [lenenc(cols.length), ...cols.map((c) => columnDefinitionPayload(r, c))];
      if (!deprecateEof) out.push(eofPayload(r));
      for (let i = r.int(4); i > 0; i--) out.push(kind === 'binary' ? binaryRowPayload(r, cols) : textRowPayload(r, cols.length));
      out.push(end());
      return out;
    }
  }
}

// ---- mutation -------------------------------------------------------------------------------

const interestingLengths = [0, 1, 3, 4, 0xfa, 0xfb, 0xffff, 10_000, 10_001, 100_001, 0xfffffe, 0xffffff];
const lenencPoison = [0xfb, 0xfc, 0xfd, 0xfe, 0xff];

/** One mutation of a framed packet (`frame` = 4-byte header + payload). */
export function mutate(r: Rng, frame: Buffer): Buffer {
  const f = Buffer.from(frame);
  const body = f.length - 4;
  switch (r.int(11)) {
    case 0: // the declared length
      if (f.length >= 3) f.writeUIntLE(r.chance(0.5) ? r.pick(interestingLengths) : Math.max(0, Math.min(0xffffff, body + r.int(9) - 4)), 0, 3);
      return f;
    case 1: // the sequence id
      if (f.length >= 4) f[3] = r.chance(0.5) ? r.int(4) : r.int(256);
      return f;
    case 2: // cut short (the length now lies)
      return f.subarray(0, r.int(f.length + 1));
    case 3: // cut short and re-framed (a consistent but short payload)
    case 4:
      return reframe(f, f.subarray(4, 4 + r.int(Math.max(1, body))));
    case 5: // a byte flipped
      if (f.length) f[r.int(f.length)] = r.int(256);
      return f;
    case 6: // a length-encoded integer poisoned
      if (body > 0) f[4 + r.int(body)] = r.pick(lenencPoison);
      return f;
    case 7: // NUL terminators removed
      for (let i = 4; i < f.length; i++) if (f[i] === 0) f[i] = 0x41;
      return f;
    case 8: // extended, length kept consistent
      return reframe(f, Buffer.concat([f.subarray(4), r.bytes(r.int(16) + 1)]));
    case 9: // random bytes
      return r.bytes(r.int(40));
    default: // two halves of itself spliced
      return Buffer.concat([f.subarray(0, r.int(f.length + 1)), f.subarray(r.int(f.length + 1))]);
  }
}

function reframe(f: Buffer, payload: Buffer): Buffer {
  return rawPacket(f.length >= 4 ? f[3]! : 0, payload);
}

/** Mutated with probability `p`, otherwise as generated. */
export function maybeMutate(r: Rng, frame: Buffer, p: number): Buffer {
  return r.chance(p) ? mutate(r, frame) : frame;
}
