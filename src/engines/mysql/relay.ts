/**
 * The MySQL session's hot path: one Pump per direction forwarding whole packets as views.
 * Decoded only what policy needs: the command byte (and the SQL for statement hooks) of
 * each client command; from the server, the response structure (ResponseTracker) and, when
 * masking applies, column definitions, rows (text and binary protocol) and ERR messages.
 *
 * Sequence ids (§ MySQL Packets): rows are rewritten in place of the packet they replace;
 * only a row whose new length needs a different number of physical packets (≥ 16 MB) shifts
 * the ids of the rest of its response, and those are rewritten as they pass.
 */
import type { Duplex } from 'node:stream';
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_CHANGE_USER,
  COM_FIELD_LIST,
  COM_PROCESS_INFO,
  COM_QUERY,
  COM_QUIT,
  COM_REGISTER_SLAVE,
  COM_RESET_CONNECTION,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_SEND_LONG_DATA,
  COM_TABLE_DUMP,
  HEADER_LENGTH,
  MAX_PAYLOAD,
  MYSQL_TYPE_BLOB,
  MYSQL_TYPE_DECIMAL,
  MYSQL_TYPE_DOUBLE,
  MYSQL_TYPE_ENUM,
  MYSQL_TYPE_FLOAT,
  MYSQL_TYPE_INT24,
  MYSQL_TYPE_JSON,
  MYSQL_TYPE_LONG,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_LONG_BLOB,
  MYSQL_TYPE_MEDIUM_BLOB,
  MYSQL_TYPE_NEWDECIMAL,
  MYSQL_TYPE_SET,
  MYSQL_TYPE_SHORT,
  MYSQL_TYPE_STRING,
  MYSQL_TYPE_TINY,
  MYSQL_TYPE_TINY_BLOB,
  MYSQL_TYPE_VARCHAR,
  MYSQL_TYPE_VAR_STRING,
  MYSQL_TYPE_YEAR,
  FrameError,
  ProtocolError,
  decodeBinaryRow,
  decodeComQuery,
  decodeComStmtExecute,
  decodeComStmtPrepare,
  decodeErrPacket,
  decodeTextRow,
  encodeBinaryRow,
  encodeErrPacket,
  encodeTextRow,
  commandName,
  binaryValueText,
  encodeOkPacket,
  SERVER_STATUS_AUTOCOMMIT,
  packet,
  packetCount,
  type ColumnDefinition41,
  type PacketFramer,
} from '../../../protocols/mysql/index.js';
import { Pump, type PacketHandler } from '../../engine/pump.js';
import { runRelay } from '../../engine/relay-session.js';
import { JitError, asJitError } from '../../errors.js';
import type { ColumnInfo, RelayContext, ResultMasker } from '../../engine/types.js';
import type { SessionMasking } from '../../masking/masking.js';
import { ResponseTracker, SINGLE_RESPONSE_COMMANDS, type ResponseKind } from './response-tracker.js';
import { errPacketFor } from './errors.js';
import type { Packet } from './packet-stream.js';

export interface MysqlRelayOptions {
  client: { socket: Duplex; framer: PacketFramer; pending: Packet[]; capabilities: number };
  upstream: { socket: Duplex; framer: PacketFramer; pending: Packet[] };
  /** The OK_Packet that completes the client's login. */
  greeting: Buffer;
  maxMessage: number;
  idleTimeoutMs: number;
  /**
   * `KILL [QUERY|CONNECTION] n` where n is a connection id jitgate gave a client (the MariaDB
   * client's Ctrl-C sends it from a second connection): jitgate kills the upstream connection
   * behind it, when it belongs to the same sub and target. Resolves false when n is not one of
   * jitgate's ids.
   */
  kill?: (connectionId: number, queryOnly: boolean) => Promise<boolean> | false;
}

/** `KILL [QUERY | CONNECTION] <id>` as a whole statement. */
const KILL = /^\s*KILL\s+(?:(QUERY|CONNECTION)\s+)?(\d{1,10})\s*;?\s*$/i;

/** Commands answered with one packet. */
/** ER_NO_SUCH_THREAD. */
const ER_NO_SUCH_THREAD = 1094;

/** How the masking module should read a column: JSON keys, numbers, or text (MySQL type → the module's type ids). */
const JSON_OID = 114;
const INT_OID = 20;
const FLOAT_OID = 701;
const NUMERIC_OID = 1700;
const TEXT_OID = 25;
const INT_TYPES = new Set([MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24, MYSQL_TYPE_YEAR]);
/** Types whose binary-protocol value is the same bytes as their text (a length-encoded string). */
const STRING_TYPES = new Set([
  MYSQL_TYPE_VARCHAR, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_STRING, MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_MEDIUM_BLOB,
  MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_JSON, MYSQL_TYPE_ENUM, MYSQL_TYPE_SET, MYSQL_TYPE_DECIMAL,
  MYSQL_TYPE_NEWDECIMAL,
]);

/** Binary-protocol numbers: masking reads their text (binaryValueText); a value it would change becomes NULL. */
const NUMBER_TYPES = new Set([...INT_TYPES, MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE]);

/**
 * Character sets whose text is not ASCII-compatible (ucs2, utf16, utf16le, utf32 — MariaDB 10.11's
 * collation ids, which include MySQL's): neither detectors nor column names can be read in them.
 */
const WIDE_CHARSETS = new Set([
  35, 90, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 159, 640, 641, 642, 1059, 1114, 1152, 1174,
  54, 55, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 672, 673, 674, 1078, 1079, 1125, 1147,
  56, 62, 1080, 1086,
  60, 61, 160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179, 180, 181, 182, 183, 736, 737, 738, 1084, 1085, 1184, 1206,
]);

/** ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME: "Duplicate entry '<value>' for key '<name>'". */
const DUP_ENTRY = new Set([1062, 1586]);

function typeOid(type: number): number {
  if (type === MYSQL_TYPE_JSON) return JSON_OID;
  if (INT_TYPES.has(type)) return INT_OID;
  if (type === MYSQL_TYPE_FLOAT || type === MYSQL_TYPE_DOUBLE) return FLOAT_OID;
  if (type === MYSQL_TYPE_DECIMAL || type === MYSQL_TYPE_NEWDECIMAL) return NUMERIC_OID;
  return TEXT_OID;
}

/**
 * ColumnDefinition41 → what masking matches: the output name and the source schema.table.column.
 * Binary-protocol numbers and dates are not text: rules on them give NULL or an error (onBinary).
 */
export function columnInfo(c: ColumnDefinition41, binary: boolean): ColumnInfo {
  const text = !binary || STRING_TYPES.has(c.type) || NUMBER_TYPES.has(c.type);
  return {
    name: c.name,
    tableOid: 0,
    attnum: 0,
    sourceSchema: c.schema || undefined,
    sourceTable: c.orgTable || undefined,
    sourceColumn: c.orgName || undefined,
    typeOid: text ? typeOid(c.type) : 0,
    format: text ? 'text' : 'binary',
  };
}

/** A string value that starts (after blanks) with { or [. */
function looksLikeJson(v: Buffer): boolean {
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b || b === 0x5b;
  }
  return false;
}

export function mysqlRelay(opts: MysqlRelayOptions, ctx: RelayContext): Promise<string> {
  const { pipeline, stats } = ctx;
  const masking = pipeline.masking;
  const extras = masking as Partial<SessionMasking> | null;
  const hooks = pipeline.statements;
  const client = opts.client;
  const upstream = opts.upstream;
  const physicalMax = Math.min(MAX_PAYLOAD, opts.maxMessage);
  client.framer.maxLength = physicalMax;
  upstream.framer.maxLength = MAX_PAYLOAD;
  const tracker = new ResponseTracker(client.capabilities);

  let clientTerminated = false;
  let serverSentError = false;
  /** The client's current command spans packets (a payload of 16 MB or more): the rest passes as is. */
  let clientContinues = false;
  /** Sequence id the next server packet of the current response carries to the client. */
  let expectSeq = 0;

  /** The client's command was malformed: the session ends, its ERR answers that command. */
  let malformedCommand = false;
  /** The rest of a refused command of 16 MB or more is dropped. */
  let dropContinuation = false;
  /** Bytes of the client's current command so far (a command of 16 MB or more spans packets). */
  let commandBytes = 0;

  /** Sends the answers jitgate gives itself (refusals) whose turn has come, in command order. */
  const emitLocal = (): void => {
    const replies = tracker.takeLocal();
    if (replies.length === 0) return;
    for (const r of replies) s2c.out.emit(r);
    expectSeq = 0;
  };

  /** Answers a refused command from jitgate, after the answers to the commands before it; it never reaches the upstream. */
  const refuseCommand = (err: JitError, seq: number): void => {
    tracker.local(errPacketFor(err, seq + 1));
    if (!tracker.busyUpstream) {
      emitLocal();
      s2c.out.flush();
    }
  };

  /** Answers a KILL of one of jitgate's connection ids itself; false when the id is not jitgate's. */
  const killRouted = (id: number, queryOnly: boolean, seq: number): boolean => {
    const done = opts.kill!(id, queryOnly);
    if (done === false) return false;
    if (tracker.busy) throw new JitError('protocol_violation', 'a command was sent while earlier commands were still being answered');
    c2s.await(
      done.then((ok) => {
        s2c.out.emit(
          ok
            ? packet((seq + 1) & 0xff, encodeOkPacket({ header: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT }, client.capabilities))
            : packet((seq + 1) & 0xff, encodeErrPacket({ errno: ER_NO_SUCH_THREAD, sqlstate: 'HY000', message: `Unknown thread id: ${id}` })),
        );
        s2c.out.flush();
      }),
    );
    return true;
  };

  const handleClient: PacketHandler = (seq, buf, start, end) => {
    const len = end - start - HEADER_LENGTH;
    if (clientContinues) {
      commandBytes += len;
      if (commandBytes > opts.maxMessage) throw new JitError('protocol_violation', `command larger than limits.maxMessage (${opts.maxMessage} bytes)`);
      clientContinues = len === MAX_PAYLOAD;
      if (dropContinuation) dropContinuation = clientContinues;
      else c2s.out.pass(buf, start, end);
      return;
    }
    clientContinues = len === MAX_PAYLOAD;
    commandBytes = len;
    // After login a client only sends commands (sequence id 0) and the rest of one of 16 MB or
    // more: jitgate offers no LOCAL INFILE and refuses COM_CHANGE_USER, the only exchanges.
    if (seq !== 0) {
      malformedCommand = true;
      expectSeq = (seq + 1) & 0xff;
      throw new JitError('protocol_violation', `packet out of order: sequence id ${seq} where a command (0) was due`);
    }
    expectSeq = 1;
    if (len === 0) {
      refuseCommand(new JitError('protocol_violation', 'empty command packet'), seq);
      return;
    }
    const command = buf[start + HEADER_LENGTH]!;
    const payload = buf.subarray(start + HEADER_LENGTH, end);
    let kind: ResponseKind | null = null;
    let statementId: number | undefined;
    let sql: string | undefined;
    try {
      switch (command) {
        case COM_QUERY:
          stats.statements++;
          kind = 'resultset';
          if (opts.kill && len < 64) {
            const m = KILL.exec(decodeComQuery(payload));
            if (m && killRouted(Number(m[2]), m[1]?.toUpperCase() !== 'CONNECTION', seq)) return false;
          }
          if (hooks.length) {
            if (clientContinues) throw new JitError('statement_refused', 'statements of 16 MB or more cannot be checked by jitgate');
            sql = decodeComQuery(payload);
            for (const h of hooks) h.check({ kind: 'query', sql }, ctx.session);
          }
          break;
        case COM_STMT_PREPARE:
          kind = 'prepare';
          sql = decodeComStmtPrepare(payload);
          for (const h of hooks) h.check({ kind: 'prepare', sql }, ctx.session);
          break;
        case COM_STMT_EXECUTE: {
          stats.statements++;
          kind = 'binary';
          statementId = decodeComStmtExecute(payload).statementId;
          const prepared = tracker.statements.get(statementId);
          for (const h of hooks) h.check({ kind: 'execute', sql: prepared?.sql ?? '', name: String(statementId) }, ctx.session);
          break;
        }
        case COM_STMT_FETCH:
          kind = 'fetch';
          statementId = payload.readUInt32LE(1);
          break;
        case COM_STMT_CLOSE:
          tracker.statements.delete(payload.readUInt32LE(1));
          break;
        case COM_STMT_SEND_LONG_DATA:
          break;
        case COM_QUIT:
          clientTerminated = true;
          break;
        case COM_FIELD_LIST:
          kind = 'fieldList';
          break;
        case COM_PROCESS_INFO:
          kind = 'resultset';
          break;
        case COM_CHANGE_USER:
          throw new JitError('feature_not_supported', 'COM_CHANGE_USER is not supported through jitgate: a session is one ephemeral user; connect again with a new token');
        case COM_BINLOG_DUMP:
        case COM_BINLOG_DUMP_GTID:
        case COM_REGISTER_SLAVE:
        case COM_TABLE_DUMP:
          throw new JitError('feature_not_supported', 'replication is not supported through jitgate');
        default:
          if (!SINGLE_RESPONSE_COMMANDS.has(command)) throw new JitError('protocol_violation', `unknown command 0x${command.toString(16)}`);
          kind = 'single';
          if (command === COM_RESET_CONNECTION) tracker.reset();
      }
    } catch (e) {
      if (!(e instanceof JitError)) {
        malformedCommand = true;
        throw new JitError('protocol_violation', `malformed ${commandName(command)} from the client`);
      }
      // A well-formed command jitgate does not let through: the client gets an ERR_Packet, the session goes on.
      // The recording still shows what was attempted (after what came before it).
      dropContinuation = clientContinues;
      if (!c2s.out.flush()) c2s.block(1);
      const attempted = Buffer.from(buf.subarray(start, end));
      for (const o of pipeline.observers) o.frames('client', attempted);
      refuseCommand(e, seq);
      return;
    }
    if (kind) tracker.command(kind, { statementId, sql: kind === 'prepare' ? sql : undefined });
    c2s.out.pass(buf, start, end);
  };

  // ---- server → client ------------------------------------------------------------------
  /** Offset added to the sequence ids of the rest of the current response (rewritten ≥ 16 MB rows). */
  let shift = 0;
  let masker: ResultMasker | null = null;
  let planned = false;
  /** After a masking failure: the rest of the response is dropped (the client got an ERR_Packet). */
  let swallowing = false;
  /** Parts of a multi-packet server packet: assembled when it is a row to mask, else passed through. */
  let serverParts: { seq: number; parts: Buffer[]; assemble: boolean; size: number } | null = null;

  const forward = (buf: Buffer, start: number, end: number): void => {
    const seq = buf[start + 3]!;
    if (shift !== 0) buf[start + 3] = (seq + shift) & 0xff;
    expectSeq = (buf[start + 3]! + 1) & 0xff;
    s2c.out.pass(buf, start, end);
  };

  /** Sends `payload` in place of a logical packet that took `physical` packets from sequence id `seq`. */
  const replace = (seq: number, payload: Buffer, physical: number): void => {
    const out = packet((seq + shift) & 0xff, payload);
    shift = (shift + packetCount(payload.length) - physical) & 0xff;
    expectSeq = (seq + shift + physical) & 0xff;
    s2c.out.emit(out);
  };

  const failStatement = (err: unknown, seq: number): void => {
    const jerr = asJitError(err);
    if (jerr.code !== 'masking_failed') throw err;
    s2c.out.emit(errPacketFor(jerr, seq + shift));
    swallowing = true;
    masker = null;
    extras?.endResult?.();
  };

  /** Masker for string values that look like JSON (MariaDB's JSON functions return plain strings): key rules apply. */
  let jsonMasker: ResultMasker | null = null;

  const plan = (): Promise<void> | null => {
    planned = true;
    masker = null;
    jsonMasker = null;
    if (!masking) return null;
    const columns = tracker.columns;
    if (columns.length === 0) throw new JitError('masking_failed', 'rows arrived without column definitions; jitgate cannot mask them');
    const wide = columns.find((c) => WIDE_CHARSETS.has(c.characterSet));
    if (wide) {
      throw new JitError('masking_failed', `column "${wide.name}" is in a character set jitgate cannot mask (collation id ${wide.characterSet}); use SET character_set_results = utf8mb4`);
    }
    const binary = tracker.binary;
    const infos = columns.map((c) => columnInfo(c, binary));
    const asJson = extras?.hasRules ? infos.map((c, i) => (STRING_TYPES.has(columns[i]!.type) && c.format === 'text' ? { ...c, typeOid: JSON_OID } : c)) : null;
    const p = masking.planResult(infos);
    const q = asJson ? masking.planResult(asJson) : null;
    if (p instanceof Promise || q instanceof Promise) {
      return Promise.all([p, q]).then(([m, j]) => {
        masker = m;
        jsonMasker = j;
      });
    }
    masker = p;
    jsonMasker = q;
    return null;
  };

  /** Masks one row; returns the new payload, or null when nothing changed. */
  const maskRow = (payload: Buffer): Buffer | null => {
    const m = masker;
    if (!m) return null;
    const j = jsonMasker;
    const active = (m as { active?: Uint8Array }).active;
    const jsonActive = (j as { active?: Uint8Array } | null)?.active;
    const columns = tracker.columns;
    const binary = tracker.binary;
    const values = binary ? decodeBinaryRow(payload, columns) : decodeTextRow(payload, columns.length);
    let changed = false;
    for (let i = 0; i < values.length; i++) {
      if (active && !active[i] && !(jsonActive && jsonActive[i])) continue;
      const v = values[i]!;
      if (v === null) continue;
      const column = columns[i]!;
      if (binary && NUMBER_TYPES.has(column.type)) {
        // The number's text, as the text protocol would carry it; a change cannot be written back as a number.
        const text = Buffer.from(binaryValueText(v, column), 'latin1');
        if (m.mask(i, text) !== text) {
          values[i] = null;
          changed = true;
        }
        continue;
      }
      const out = j && looksLikeJson(v) ? j.mask(i, v) : m.mask(i, v);
      if (out !== v) {
        values[i] = out;
        changed = true;
      }
    }
    if (!changed) return null;
    return binary ? encodeBinaryRow(columns, values) : encodeTextRow(values);
  };

  /** Masks an ERR_Packet's message (it may quote values: "Duplicate entry '…' for key …"). */
  const maskError = (seq: number, payload: Buffer, physical: number): boolean => {
    if (!masking) return false;
    const e = decodeErrPacket(payload);
    let message: string;
    if (e.message.includes('\0')) {
      // UTF-16/32 text (character_set_results): nothing in it can be checked.
      message = 'error message withheld: it is in a character set jitgate cannot mask (SET character_set_results = utf8mb4)';
    } else {
      // The value of a unique violation is the column's value, which only a rule may know about.
      message = extras?.hasRules && DUP_ENTRY.has(e.errno) ? e.message.replace(/^(Duplicate entry ')[\s\S]*(' for key )/, '$1****$2') : e.message;
      message = masking.maskText(message);
    }
    if (message === e.message) return false;
    replace(seq, encodeErrPacket({ ...e, message }), physical);
    return true;
  };

  /** One logical server packet (`physical` packets from `seq`); `view` = [buf, start, end) when it is a single one. */
  const serverPacket = (seq: number, payload: Buffer, physical: number, view: [Buffer, number, number] | null): void | boolean => {
    emitLocal();
    const before = tracker.completed;
    const step = tracker.next(payload);
    const pass = () => {
      if (view) forward(view[0], view[1], view[2]);
      else replace(seq, payload, physical);
    };
    if (swallowing) {
      if (tracker.completed !== before) {
        swallowing = false;
        planned = false;
        shift = 0;
      }
      return;
    }
    switch (step) {
      case 'row': {
        try {
          if (!planned) {
            const wait = plan();
            if (wait) {
              const copy = Buffer.from(payload);
              s2c.await(
                wait
                  .then(() => {
                    if (swallowing) return;
                    const out = maskRow(copy);
                    replace(seq, out ?? copy, physical);
                  })
                  .catch((e) => failStatement(e, seq)),
              );
              return false;
            }
          }
          const out = maskRow(payload);
          if (out) replace(seq, out, physical);
          else pass();
        } catch (e) {
          failStatement(e instanceof JitError ? e : new JitError('masking_failed', 'a row could not be masked; the statement was stopped', { cause: e }), seq);
          if (tracker.completed !== before) swallowing = false;
        }
        break;
      }
      case 'error':
      case 'unsolicited':
        if (step === 'unsolicited' && payload[0] === 0xff) serverSentError = true;
        planned = false;
        extras?.endResult?.();
        if (payload[0] !== 0xff || !maskError(seq, payload, physical)) pass();
        break;
      case 'end':
        planned = false;
        masker = null;
        extras?.endResult?.();
        pass();
        break;
      default:
        pass();
    }
    if (tracker.completed !== before && !tracker.busy) shift = 0;
    emitLocal();
  };

  const handleServer: PacketHandler = (seq, buf, start, end) => {
    const len = end - start - HEADER_LENGTH;
    if (serverParts) {
      if (serverParts.assemble) {
        serverParts.size += len;
        if (serverParts.size > opts.maxMessage) {
          // Too large to hold for masking: the statement fails closed, the rest of the row passes by unseen.
          tracker.next(serverParts.parts[0]!);
          failStatement(new JitError('masking_failed', `a row larger than limits.maxMessage (${opts.maxMessage} bytes) cannot be masked; the statement was stopped`), serverParts.seq);
          serverParts = len === MAX_PAYLOAD ? { seq, parts: [], assemble: false, size: 0 } : null;
          return;
        }
        serverParts.parts.push(Buffer.from(buf.subarray(start + HEADER_LENGTH, end)));
        if (len === MAX_PAYLOAD) return;
        const whole = Buffer.concat(serverParts.parts);
        const { seq: first, parts } = serverParts;
        serverParts = null;
        return serverPacket(first, whole, parts.length, null);
      }
      if (!swallowing) forward(buf, start, end);
      if (len < MAX_PAYLOAD) serverParts = null;
      return;
    }
    if (len === MAX_PAYLOAD) {
      // A row to mask is assembled; anything else is classified by its first part and passed on.
      if (masking && tracker.inRows && !swallowing) {
        serverParts = { seq, parts: [Buffer.from(buf.subarray(start + HEADER_LENGTH, end))], assemble: true, size: len };
        return;
      }
      serverParts = { seq, parts: [], assemble: false, size: 0 };
    }
    return serverPacket(seq, buf.subarray(start + HEADER_LENGTH, end), 1, [buf, start, end]);
  };

  const c2s = new Pump('client', client.socket, upstream.socket, client.framer, pipeline.observers, handleClient);
  const s2c = new Pump('server', upstream.socket, client.socket, upstream.framer, pipeline.observers, handleServer);

  return runRelay(
    { client, upstream, c2s, s2c, greeting: [opts.greeting], idleTimeoutMs: opts.idleTimeoutMs },
    {
      // Between two whole packets: as the answer to the command in flight; with none in flight, as the
      // answer to the next one (sequence id 1), which is where clients read it (mysql2 reads it at once).
      errorMessage: (err) => errPacketFor(err, tracker.busy || malformedCommand ? expectSeq : 1),
      goodbye: packet(0, Buffer.from([COM_QUIT])),
      clientTerminated: () => clientTerminated,
      upstreamSaidWhy: () => serverSentError,
      isCodecError: (e): e is Error => e instanceof FrameError || e instanceof ProtocolError,
      unit: 'packet',
    },
    ctx,
  );
}
