/**
 * MySQL frames → transcript: COM_QUERY statements, prepared statements (COM_STMT_PREPARE; COM_STMT_EXECUTE with
 * its parameters as sent), result columns and rows as the client saw them (binary-protocol values printed the way
 * the server prints them in the text protocol), OK and ERR outcomes. Responses are followed with the relay's
 * ResponseTracker, so rows are told from metadata exactly as the relay told them when it masked them.
 *
 * A recording starts after login: its first server packet is the OK_Packet that ends authentication, and the
 * capabilities the client agreed on are not in it. CLIENT_PROTOCOL_41 is certain (jitgate refuses clients without
 * it). CLIENT_DEPRECATE_EOF is read from the stream: until the first place where the two layouts differ (an
 * EOF_Packet after column or parameter definitions, § Text Resultset, § COM_STMT_PREPARE Response) a tracker for
 * each layout is fed; that packet decides which one goes on.
 */
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  COM_FIELD_LIST,
  COM_INIT_DB,
  COM_PROCESS_INFO,
  COM_QUERY,
  COM_QUIT,
  COM_RESET_CONNECTION,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
  EOF_HEADER,
  MAX_PAYLOAD,
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
  PacketFramer,
  PayloadAssembler,
  PayloadReader,
  ProtocolError,
  UNSIGNED_FLAG,
  commandName,
  decodeBinaryRow,
  decodeComQuery,
  decodeComStmtExecute,
  decodeComStmtPrepare,
  decodeEofPacket,
  decodeErrPacket,
  decodeOkPacket,
  decodeStmtPrepareOk,
  decodeTextRow,
  isEofPacket,
  isErrPacket,
  isOkPacket,
  payloadOf,
  type ColumnDefinition41,
} from '../../../protocols/mysql/index.js';
import type { Direction } from '../../engine/types.js';
import { ResponseTracker, SINGLE_RESPONSE_COMMANDS, type ResponseKind } from '../../engines/mysql/response-tracker.js';
import type { ProtocolDecoder, TranscriptEvent, TranscriptItem, Value } from './types.js';
import { NOT_FIXED_DEC, binaryValueText, bytesText, type ValueColumn } from '../../../protocols/mysql/values.js';

type Emit = (e: TranscriptEvent) => void;
type Part = { name: string; start: number; end: number };

/** What every recorded session negotiated: 4.1 (required by jitgate); session tracking only adds fields behind a status flag. */
const ASSUMED_CAPABILITIES = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;
/** Largest logical payload replayed (limits.maxMessage cannot exceed it). */
const MAX_LOGICAL = 1 << 30;
/** Reads one § Binary Protocol Value of `type` (a COM_STMT_EXECUTE parameter). */
function readBinaryValue(r: PayloadReader, type: number): Buffer {
  switch (type) {
    case MYSQL_TYPE_TINY:
      return r.bytes(1);
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_YEAR:
      return r.bytes(2);
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_FLOAT:
      return r.bytes(4);
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_DOUBLE:
      return r.bytes(8);
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      return r.bytes(r.int1());
    default:
      return r.bytes(r.lenencIntNotNull());
  }
}

const param = (type: number, unsigned: boolean): ValueColumn => ({
  type,
  flags: unsigned ? UNSIGNED_FLAG : 0,
  decimals: NOT_FIXED_DEC,
  characterSet: 0,
  columnLength: 0,
});

// ---- the decoder ----------------------------------------------------------------------------------------------

interface Statement {
  sql: string;
  numParams: number;
  /** Parameter types of the last execution that sent them (new-params-bound-flag). */
  types: ValueColumn[] | null;
  /** COM_STMT_SEND_LONG_DATA chunks by parameter, until the next execution. */
  longData: Map<number, Buffer[]>;
}

/** A command waiting for its response. */
interface Command {
  kind: ResponseKind;
  /** COM_QUERY or COM_STMT_EXECUTE: its OK_Packet reports rows affected. */
  affectsRows: boolean;
  sql?: string;
  /** COM_STMT_PREPARE: its COM_STMT_PREPARE_OK was seen. */
  prepared?: boolean;
}

export interface MysqlDecoderOptions {
  /** The capabilities the client agreed on, when known; else CLIENT_DEPRECATE_EOF is read from the stream. */
  capabilities?: number;
}

export class MysqlDecoder implements ProtocolDecoder {
  private readonly framers: Record<Direction, PacketFramer> = {
    client: new PacketFramer({ maxLength: MAX_PAYLOAD }),
    server: new PacketFramer({ maxLength: MAX_PAYLOAD }),
  };
  private readonly assemblers: Record<Direction, PayloadAssembler> = {
    client: new PayloadAssembler(MAX_LOGICAL),
    server: new PayloadAssembler(MAX_LOGICAL),
  };
  /** Sequence id of the first packet of the logical payload being assembled, per direction. */
  private readonly firstSeq: Record<Direction, number> = { client: 0, server: 0 };
  /** One tracker once the layout is known; until then [without CLIENT_DEPRECATE_EOF, with it], fed alike. */
  private trackers: ResponseTracker[];
  /** Until the layout is known: server packets to let by before the one that shows a prepare response's layout. */
  private prepareFork = -1;
  /** Commands awaiting their response, in the trackers' order; `answered` counts those shifted off. */
  private readonly commands: Command[] = [];
  private answered = 0;
  private readonly statements = new Map<number, Statement>();
  private serverPackets = 0;
  private columnsShown = false;
  private rows = 0;
  /** A second decoder that only names packets: `--raw` calls split() without feed(). */
  private naming: MysqlDecoder | null = null;

  constructor(private readonly opts: MysqlDecoderOptions = {}) {
    const caps = ASSUMED_CAPABILITIES;
    this.trackers =
      opts.capabilities === undefined
        ? [new ResponseTracker(caps), new ResponseTracker(caps | CLIENT_DEPRECATE_EOF)]
        : [new ResponseTracker((opts.capabilities | caps) >>> 0)];
  }

  feed(t: number, from: Direction, bytes: Buffer): TranscriptItem[] {
    const out: TranscriptItem[] = [];
    this.frame(from, bytes, (e) => out.push({ t, ...e }));
    return out;
  }

  split(from: Direction, bytes: Buffer): Part[] {
    this.naming ??= new MysqlDecoder(this.opts);
    return this.naming.frame(from, bytes, () => undefined);
  }

  /** Frames one recorded frame; returns each packet's place in it and its name. */
  private frame(from: Direction, bytes: Buffer, emit: Emit): Part[] {
    const parts: Part[] = [];
    const framer = this.framers[from];
    const held = framer.buffered;
    let pos = 0;
    framer.push(bytes, (seq, buf, start, end) => {
      const name = this.physical(from, seq, payloadOf(buf, start, end), emit);
      // A packet begun in an earlier frame comes in a buffer of its own: only its last bytes are in this one.
      if (buf === bytes) parts.push({ name, start, end });
      else parts.push({ name: `${name} (end)`, start: 0, end: end - start - held });
      pos = parts.at(-1)!.end;
    });
    if (pos < bytes.length) parts.push({ name: '(part of a packet)', start: pos, end: bytes.length });
    return parts;
  }

  /** One physical packet: joined with its continuations (§ Sending More Than 16Mb), then decoded. */
  private physical(from: Direction, seq: number, payload: Buffer, emit: Emit): string {
    const assembler = this.assemblers[from];
    if (assembler.pending === 0) this.firstSeq[from] = seq;
    const whole = assembler.add(payload);
    if (!whole) return '(continued in the next packet)';
    const first = this.firstSeq[from];
    if (from === 'client') {
      const name = first === 0 && whole.length > 0 ? commandName(whole[0]!) : 'packet';
      try {
        this.client(first, whole, emit);
      } catch (e) {
        emit({ type: 'unknown', from, message: `${name}: ${(e as Error).message}` });
      }
      return name;
    }
    try {
      return this.server(whole, emit);
    } catch (e) {
      const name = isErrPacket(whole) ? 'ERR' : isOkPacket(whole) ? 'OK' : isEofPacket(whole) ? 'EOF' : 'packet';
      emit({ type: 'unknown', from, message: `${name}: ${(e as Error).message}` });
      return name;
    }
  }

  // ---- client → server ----------------------------------------------------------------------------------------

  private expect(kind: ResponseKind, command: Omit<Command, 'kind'>, statementId?: number): void {
    for (const t of this.trackers) t.command(kind, { statementId, sql: command.sql });
    this.commands.push({ kind, ...command });
  }

  private client(seq: number, p: Buffer, emit: Emit): void {
    if (seq !== 0 || p.length === 0) {
      emit({ type: 'unknown', from: 'client', message: `packet ${seq} of an exchange (${p.length} bytes)` });
      return;
    }
    const command = p[0]!;
    const name = commandName(command);
    switch (command) {
      case COM_QUERY:
        this.expect('resultset', { affectsRows: true });
        emit({ type: 'query', sql: decodeComQuery(p) });
        return;
      case COM_STMT_PREPARE:
        this.expect('prepare', { affectsRows: false, sql: decodeComStmtPrepare(p) });
        return;
      case COM_STMT_EXECUTE:
        this.execute(p, emit);
        return;
      case COM_STMT_SEND_LONG_DATA: {
        const s = this.statements.get(p.readUInt32LE(1));
        const index = p.readUInt16LE(5);
        s?.longData.set(index, [...(s.longData.get(index) ?? []), Buffer.from(p.subarray(7))]);
        return;
      }
      case COM_STMT_FETCH: {
        const id = p.readUInt32LE(1);
        this.expect('fetch', { affectsRows: false }, id);
        emit({ type: 'unknown', from: 'client', message: `${name}: ${p.readUInt32LE(5)} rows of statement ${id}` });
        return;
      }
      case COM_STMT_CLOSE: {
        const id = p.readUInt32LE(1);
        this.statements.delete(id);
        for (const t of this.trackers) t.statements.delete(id);
        emit({ type: 'unknown', from: 'client', message: `${name}: statement ${id}` });
        return;
      }
      case COM_STMT_RESET: {
        const id = p.readUInt32LE(1);
        this.statements.get(id)?.longData.clear();
        this.expect('single', { affectsRows: false });
        emit({ type: 'unknown', from: 'client', message: `${name}: statement ${id}` });
        return;
      }
      case COM_QUIT:
        emit({ type: 'terminate' });
        return;
      case COM_FIELD_LIST:
        this.expect('fieldList', { affectsRows: false });
        emit({ type: 'unknown', from: 'client', message: `${name}: ${p.toString('utf8', 1).split('\0')[0]}` });
        return;
      case COM_PROCESS_INFO:
        this.expect('resultset', { affectsRows: false });
        emit({ type: 'unknown', from: 'client', message: name });
        return;
      case COM_INIT_DB:
        this.expect('single', { affectsRows: false });
        emit({ type: 'unknown', from: 'client', message: `${name}: ${p.toString('utf8', 1)}` });
        return;
      default:
        if (SINGLE_RESPONSE_COMMANDS.has(command)) {
          if (command === COM_RESET_CONNECTION) {
            this.statements.clear();
            for (const t of this.trackers) t.reset();
          }
          this.expect('single', { affectsRows: false });
        }
        emit({ type: 'unknown', from: 'client', message: name });
    }
  }

  private execute(p: Buffer, emit: Emit): void {
    const { statementId } = decodeComStmtExecute(p);
    this.expect('binary', { affectsRows: true }, statementId);
    const s = this.statements.get(statementId);
    let params: Value[] = [];
    let problem: string | null = null;
    if (s) {
      try {
        params = this.params(s, p);
      } catch (e) {
        problem = (e as Error).message;
      }
      s.longData.clear();
    }
    emit({ type: 'execute', portal: '', statement: String(statementId), sql: s?.sql ?? null, params, maxRows: 0 });
    if (problem) emit({ type: 'unknown', from: 'client', message: `COM_STMT_EXECUTE parameters: ${problem}` });
  }

  /** § COM_STMT_EXECUTE parameter block: NULL bitmap, new-params-bound-flag, types, values (long data sent before). */
  private params(s: Statement, p: Buffer): Value[] {
    const n = s.numParams;
    if (n === 0) return [];
    const r = new PayloadReader(p, 10);
    const nulls = r.bytes((n + 7) >> 3);
    if (r.int1() === 1) {
      s.types = [];
      for (let i = 0; i < n; i++) s.types.push(param(r.int1(), (r.int1() & 0x80) !== 0));
    }
    if (!s.types) throw new ProtocolError('values without parameter types');
    const values: Value[] = [];
    for (let i = 0; i < n; i++) {
      const type = s.types[i]!;
      const long = s.longData.get(i);
      if (nulls[i >> 3]! & (1 << (i & 7)) || type.type === MYSQL_TYPE_NULL) values.push(null);
      else if (long) values.push(bytesText(Buffer.concat(long), type));
      else values.push(binaryValueText(readBinaryValue(r, type.type), type));
    }
    return values;
  }

  // ---- server → client ----------------------------------------------------------------------------------------

  /** Shifts the commands the tracker has seen answered. */
  private sync(): void {
    const done = this.trackers[0]!.completed;
    while (this.answered < done) {
      this.commands.shift();
      this.answered++;
    }
  }

  /**
   * While the layout is unknown: at the first packet where the two layouts differ — right after the column
   * definitions of a resultset, or after the parameter (else column) definitions of a COM_STMT_PREPARE_OK — an
   * EOF_Packet (5 bytes; an OK_Packet has at least 7) means no CLIENT_DEPRECATE_EOF, anything else means it.
   */
  private settleLayout(p: Buffer): void {
    const [eofs, noEofs] = this.trackers as [ResponseTracker, ResponseTracker];
    let fork = noEofs.inRows && !eofs.inRows;
    if (this.prepareFork === 0) fork = true;
    else if (this.prepareFork > 0) this.prepareFork--;
    if (!fork) return;
    this.trackers = [p.length === 5 && p[0] === EOF_HEADER ? eofs : noEofs];
    this.prepareFork = -1;
    this.sync();
  }

  private server(p: Buffer, emit: Emit): string {
    this.serverPackets++;
    if (this.trackers.length > 1) this.settleLayout(p);
    const head = this.commands[0];
    if (!head) return this.unsolicited(p, emit);
    const tracker = this.trackers[0]!;
    const columns = tracker.columns;
    const columnCount = columns.length;
    const binary = tracker.binary;
    try {
      const steps = this.trackers.map((t) => t.next(p));
      switch (steps[0]) {
        case 'row':
          this.showColumns(columns, binary, emit);
          this.rows++;
          emit({ type: 'row', values: this.row(p, columns, binary) });
          return 'Row';
        case 'end': {
          this.showColumns(columns, binary, emit);
          const warnings = p.length === 5 ? decodeEofPacket(p).warnings : decodeOkPacket(p, ASSUMED_CAPABILITIES).warnings;
          emit({ type: 'complete', tag: `${head.kind === 'fetch' ? 'FETCH' : 'SELECT'} ${this.rows}${warningsText(warnings)}` });
          this.endResult();
          return p.length === 5 ? 'EOF' : 'OK';
        }
        case 'error': {
          if (head.kind === 'prepare' && !head.prepared) emit({ type: 'parse', statement: '', sql: head.sql ?? '', paramTypes: [] });
          const e = decodeErrPacket(p);
          emit({ type: 'error', severity: 'ERROR', code: e.sqlstate, message: `${e.errno}: ${e.message}` });
          this.endResult();
          return 'ERR';
        }
        case 'meta':
          return this.meta(head, p, tracker.columns.length > columnCount, emit);
        default:
          return this.unsolicited(p, emit);
      }
    } finally {
      this.sync();
    }
  }

  /** A packet while no command waits: the OK_Packet ending the login (the recording's first), or an ERR before a close. */
  private unsolicited(p: Buffer, emit: Emit): string {
    if (isErrPacket(p)) {
      const e = decodeErrPacket(p);
      emit({ type: 'error', severity: 'ERROR', code: e.sqlstate, message: `${e.errno}: ${e.message}` });
      return 'ERR';
    }
    if (this.serverPackets === 1 && isOkPacket(p)) return 'OK';
    emit({ type: 'unknown', from: 'server', message: `a packet no command asked for (${p.length} bytes)` });
    return 'packet';
  }

  /** A packet that carries no values: prepare and resultset metadata, OK_Packets, single-packet answers. */
  private meta(head: Command, p: Buffer, columnAdded: boolean, emit: Emit): string {
    switch (head.kind) {
      case 'prepare': {
        if (head.prepared) return isEofPacket(p) ? 'EOF' : 'ColumnDefinition';
        head.prepared = true;
        const ok = decodeStmtPrepareOk(p);
        this.statements.set(ok.statementId, { sql: head.sql ?? '', numParams: ok.numParams, types: null, longData: new Map() });
        emit({ type: 'parse', statement: String(ok.statementId), sql: head.sql ?? '', paramTypes: [] });
        if (this.trackers.length > 1 && (ok.numParams > 0 || ok.numColumns > 0)) this.prepareFork = ok.numParams || ok.numColumns;
        return 'COM_STMT_PREPARE_OK';
      }
      case 'fieldList':
        return isEofPacket(p) ? 'EOF' : 'ColumnDefinition';
      case 'single':
        if (isOkPacket(p)) {
          emit({ type: 'complete', tag: okTag(p, false) });
          return 'OK';
        }
        if (isEofPacket(p)) {
          emit({ type: 'complete', tag: 'EOF' });
          return 'EOF';
        }
        emit({ type: 'complete', tag: p.toString('utf8') });
        return 'text';
      default:
        if (p[0] === OK_HEADER) {
          emit({ type: 'complete', tag: okTag(p, head.affectsRows) });
          return 'OK';
        }
        if (isEofPacket(p)) return 'EOF';
        if (columnAdded) return 'ColumnDefinition';
        this.endResult();
        return 'ColumnCount';
    }
  }

  private showColumns(columns: ColumnDefinition41[], binary: boolean, emit: Emit): void {
    if (this.columnsShown) return;
    this.columnsShown = true;
    emit({ type: 'columns', columns: columns.map((c) => ({ name: c.name, typeOid: c.type, format: binary ? 'binary' : 'text' })) });
  }

  private endResult(): void {
    this.columnsShown = false;
    this.rows = 0;
  }

  private row(p: Buffer, columns: ColumnDefinition41[], binary: boolean): Value[] {
    if (binary) return decodeBinaryRow(p, columns).map((v, i) => (v === null ? null : binaryValueText(v, columns[i]!)));
    return decodeTextRow(p, columns.length).map((v, i) => (v === null ? null : bytesText(v, columns[i]!)));
  }
}

function warningsText(n: number): string {
  return n ? `, ${n} warning${n === 1 ? '' : 's'}` : '';
}

/** "OK 3 rows affected, last insert id 7, 1 warning (Records: 3  Duplicates: 0  Warnings: 1)"; "OK" for a command that changes no rows. */
function okTag(p: Buffer, affectsRows: boolean): string {
  const ok = decodeOkPacket(p, ASSUMED_CAPABILITIES);
  let tag = affectsRows ? `OK ${ok.affectedRows} row${ok.affectedRows === 1 ? '' : 's'} affected` : 'OK';
  if (ok.lastInsertId) tag += `, last insert id ${ok.lastInsertId}`;
  tag += warningsText(ok.warnings);
  return ok.info ? `${tag} (${ok.info})` : tag;
}
