/**
 * Follows the server's answer to each client command so the relay knows which packets are
 * rows and which columns describe them (§ Text Resultset, § Binary Protocol Resultset,
 * § COM_STMT_PREPARE Response, § COM_STMT_FETCH). The protocol is strictly one response per
 * command, in order; commands that get no response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA,
 * COM_QUIT) are never queued.
 */
import {
  COM_PING,
  COM_INIT_DB,
  COM_RESET_CONNECTION,
  COM_SET_OPTION,
  COM_STMT_RESET,
  COM_PROCESS_KILL,
  COM_REFRESH,
  COM_SHUTDOWN,
  COM_DEBUG,
  COM_STATISTICS,
  COM_CREATE_DB,
  COM_DROP_DB,
  CLIENT_DEPRECATE_EOF,
  SERVER_MORE_RESULTS_EXISTS,
  SERVER_STATUS_CURSOR_EXISTS,
  ProtocolError,
  decodeColumnCount,
  decodeColumnDefinition41,
  decodeEofPacket,
  decodeOkPacket,
  decodeStmtPrepareOk,
  isEofPacket,
  isErrPacket,
  isOkPacket,
  isResultsetEnd,
  type ColumnDefinition41,
} from '../../../protocols/mysql/index.js';

/** Commands answered with exactly one packet (OK, ERR, EOF, or COM_STATISTICS's string). */
export const SINGLE_RESPONSE_COMMANDS: ReadonlySet<number> = new Set([
  COM_PING, COM_INIT_DB, COM_RESET_CONNECTION, COM_SET_OPTION, COM_STMT_RESET, COM_PROCESS_KILL,
  COM_REFRESH, COM_SHUTDOWN, COM_DEBUG, COM_STATISTICS, COM_CREATE_DB, COM_DROP_DB,
]);

/** What a command's response looks like. */
export type ResponseKind =
  | 'resultset' // COM_QUERY, COM_PROCESS_INFO: OK, ERR or text resultsets
  | 'binary' // COM_STMT_EXECUTE: OK, ERR or binary resultsets (or a cursor's metadata)
  | 'fetch' // COM_STMT_FETCH: binary rows of the statement's open cursor
  | 'prepare' // COM_STMT_PREPARE: COM_STMT_PREPARE_OK and definitions, or ERR
  | 'fieldList' // COM_FIELD_LIST: column definitions up to EOF, or ERR
  | 'single' // one packet: OK, ERR, EOF or a string (COM_STATISTICS)
  | 'local'; // answered by jitgate itself (a refused command): `reply`, sent when its turn comes

/** What one server packet is. */
export type Step =
  | 'meta' // part of a response that carries no values: pass it
  | 'row' // a row of the current result: `columns`/`binary` describe it
  | 'end' // a result's terminator (EOF or OK)
  | 'error' // an ERR_Packet answering a command
  | 'unsolicited'; // a packet while no command waits (an ERR before the server closes)

interface Pending {
  kind: ResponseKind;
  statementId?: number;
  sql?: string;
  phase: 'first' | 'columns' | 'columnsEof' | 'rows' | 'params' | 'paramsEof' | 'pcolumns' | 'pcolumnsEof';
  remaining: number;
  columns: ColumnDefinition41[];
  pcolumns?: number;
  reply?: Buffer;
}

export interface PreparedStatement {
  sql: string;
  /** Columns of its last execution that left a cursor open (what COM_STMT_FETCH returns). */
  cursorColumns?: ColumnDefinition41[];
}

export class ResponseTracker {
  private readonly queue: Pending[] = [];
  readonly statements = new Map<number, PreparedStatement>();
  /** Responses completed so far: a change tells the relay a command was fully answered. */
  completed = 0;
  private readonly deprecateEof: boolean;

  constructor(private readonly capabilities: number) {
    this.deprecateEof = (capabilities & CLIENT_DEPRECATE_EOF) !== 0;
  }

  get busy(): boolean {
    return this.queue.length > 0;
  }

  /** True while the upstream still owes an answer to a command before any of jitgate's own. */
  get busyUpstream(): boolean {
    return this.queue.length > 0 && this.queue[0]!.kind !== 'local';
  }

  /** A command jitgate answers itself, in its place among the others. */
  local(reply: Buffer): void {
    this.queue.push({ kind: 'local', phase: 'first', remaining: 0, columns: [], reply });
  }

  /** The replies of jitgate's own answers whose turn has come (they head the queue). */
  takeLocal(): Buffer[] {
    const out: Buffer[] = [];
    while (this.queue[0]?.kind === 'local') {
      out.push(this.queue.shift()!.reply!);
      this.completed++;
    }
    return out;
  }

  command(kind: ResponseKind, opts: { statementId?: number; sql?: string } = {}): void {
    const p: Pending = { kind, phase: kind === 'fetch' ? 'rows' : 'first', remaining: 0, columns: [], ...opts };
    if (kind === 'fetch') {
      const cols = this.statements.get(opts.statementId!)?.cursorColumns;
      if (cols) p.columns = cols;
    }
    this.queue.push(p);
  }

  /** Columns of the rows now flowing, and whether they are in the binary protocol. */
  get columns(): ColumnDefinition41[] {
    return this.queue[0]?.columns ?? [];
  }

  get binary(): boolean {
    const k = this.queue[0]?.kind;
    return k === 'binary' || k === 'fetch';
  }

  /** True while rows of a result are expected next. */
  get inRows(): boolean {
    return this.queue[0]?.phase === 'rows';
  }

  /** Forgets prepared statements (COM_RESET_CONNECTION). */
  reset(): void {
    this.statements.clear();
  }

  private done(): void {
    this.queue.shift();
    this.completed++;
  }

  /** Classifies one whole server packet (the first part of a multi-packet one). */
  next(payload: Buffer): Step {
    const p = this.queue[0];
    if (!p) return 'unsolicited';
    const err = isErrPacket(payload);
    switch (p.kind) {
      case 'single':
        this.done();
        return err ? 'error' : 'meta';
      case 'fieldList':
        if (err || (payload[0] === 0xfe && isEofPacket(payload))) this.done();
        return err ? 'error' : 'meta';
      case 'prepare':
        return this.prepare(p, payload, err);
      default:
        return this.resultset(p, payload, err);
    }
  }

  private prepare(p: Pending, payload: Buffer, err: boolean): Step {
    switch (p.phase) {
      case 'first': {
        if (err) {
          this.done();
          return 'error';
        }
        const ok = decodeStmtPrepareOk(payload);
        this.statements.set(ok.statementId, { sql: p.sql ?? '' });
        p.pcolumns = ok.numColumns;
        if (ok.numParams > 0) {
          p.phase = 'params';
          p.remaining = ok.numParams;
        } else this.prepareColumns(p);
        return 'meta';
      }
      case 'params':
        if (--p.remaining === 0) {
          if (this.deprecateEof) this.prepareColumns(p);
          else p.phase = 'paramsEof';
        }
        return 'meta';
      case 'paramsEof':
        this.prepareColumns(p);
        return 'meta';
      case 'pcolumns':
        if (--p.remaining === 0) {
          if (this.deprecateEof) this.done();
          else p.phase = 'pcolumnsEof';
        }
        return 'meta';
      default:
        this.done();
        return 'meta';
    }
  }

  private prepareColumns(p: Pending): void {
    if (p.pcolumns! > 0) {
      p.phase = 'pcolumns';
      p.remaining = p.pcolumns!;
    } else this.done();
  }

  private resultset(p: Pending, payload: Buffer, err: boolean): Step {
    switch (p.phase) {
      case 'first': {
        if (err) {
          this.done();
          return 'error';
        }
        if (isOkPacket(payload)) {
          if (!(decodeOkPacket(payload, this.capabilities).statusFlags & SERVER_MORE_RESULTS_EXISTS)) this.done();
          return 'meta';
        }
        if (payload[0] === 0xfb) throw new ProtocolError('LOCAL INFILE request from the upstream, which was not offered it');
        p.remaining = decodeColumnCount(payload);
        p.columns = [];
        p.phase = 'columns';
        return 'meta';
      }
      case 'columns':
        p.columns.push(decodeColumnDefinition41(payload));
        if (--p.remaining === 0) p.phase = this.deprecateEof ? 'rows' : 'columnsEof';
        return 'meta';
      case 'columnsEof': {
        const status = decodeEofPacket(payload).statusFlags;
        if (p.kind === 'binary' && status & SERVER_STATUS_CURSOR_EXISTS) {
          this.cursorOpened(p);
          this.endResult(p, status);
        } else p.phase = 'rows';
        return 'meta';
      }
      case 'rows': {
        if (err) {
          this.done();
          return 'error';
        }
        if (this.deprecateEof ? isResultsetEnd(payload) : isEofPacket(payload)) {
          const status = this.deprecateEof && payload.length > 5 ? decodeOkPacket(payload, this.capabilities).statusFlags : decodeEofPacket(payload).statusFlags;
          if (p.kind === 'binary' && status & SERVER_STATUS_CURSOR_EXISTS) this.cursorOpened(p);
          this.endResult(p, status);
          return 'end';
        }
        return 'row';
      }
      default:
        throw new ProtocolError(`unexpected packet in phase ${p.phase}`);
    }
  }

  private cursorOpened(p: Pending): void {
    const s = this.statements.get(p.statementId!);
    if (s) s.cursorColumns = p.columns;
  }

  private endResult(p: Pending, status: number): void {
    if (p.kind !== 'fetch' && status & SERVER_MORE_RESULTS_EXISTS) {
      p.phase = 'first';
      p.columns = [];
    } else this.done();
  }
}
