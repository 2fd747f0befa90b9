/**
 * PostgreSQL frames → transcript: statements (simple Query; Parse/Bind/Execute with the
 * parameters as sent), result columns and rows as the client saw them, command tags,
 * notices, errors, COPY. Rows of an Execute are matched to their description the way the
 * relay does it (ResultTracker), so an Execute of a statement described long before still
 * shows its column names.
 */
import {
  Backend,
  Framer,
  Frontend,
  ErrorField,
  backendName,
  decodeBind,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeDescribeOrClose,
  decodeErrorFields,
  decodeExecute,
  decodeNotificationResponse,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeReadyForQuery,
  decodeRowDescription,
  frontendName,
  type FieldDescription,
} from '../../../protocols/postgres/index.js';
import type { Direction } from '../../engine/types.js';
import { ResultTracker } from '../../engines/postgres/result-tracker.js';
import type { ProtocolDecoder, ProblemFields, TranscriptEvent, TranscriptItem, Value } from './types.js';

function value(v: Buffer | null, binary: boolean): Value {
  if (v === null) return null;
  return binary ? `\\x${v.toString('hex')}` : v.toString('utf8');
}

function problem(fields: Map<number, string>): ProblemFields {
  const p: ProblemFields = {
    severity: fields.get(ErrorField.SeverityNonLocalized) ?? fields.get(ErrorField.Severity) ?? '',
    code: fields.get(ErrorField.Code) ?? '',
    message: fields.get(ErrorField.Message) ?? '',
  };
  const opt = { detail: ErrorField.Detail, hint: ErrorField.Hint, position: ErrorField.Position, where: ErrorField.Where } as const;
  for (const [k, code] of Object.entries(opt)) {
    const v = fields.get(code);
    if (v !== undefined) p[k as keyof typeof opt] = v;
  }
  return p;
}

interface Portal {
  statement: string;
  sql: string | null;
  params: Value[];
}

export class PostgresDecoder implements ProtocolDecoder {
  private readonly framers: Record<Direction, Framer> = {
    client: new Framer({ maxLength: 0x7fffffff }),
    server: new Framer({ maxLength: 0x7fffffff }),
  };
  private readonly tracker = new ResultTracker();
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  /** Formats of the rows now flowing; null: not known (no description seen). */
  private rowFormats: number[] | null = null;
  private copyText = true;

  feed(t: number, from: Direction, bytes: Buffer): TranscriptItem[] {
    const out: TranscriptItem[] = [];
    const emit = (item: TranscriptEvent) => out.push({ t, ...item });
    this.framers[from].push(bytes, (type, buf, start, end) => {
      try {
        if (from === 'client') this.client(type, buf, start, end, emit);
        else this.server(type, buf, start, end, emit);
      } catch (e) {
        emit({ type: 'unknown', from, message: `${from === 'client' ? frontendName(type) : backendName(type)}: ${(e as Error).message}` });
      }
    });
    return out;
  }

  split(from: Direction, bytes: Buffer): { name: string; start: number; end: number }[] {
    const out: { name: string; start: number; end: number }[] = [];
    let pos = 0;
    while (bytes.length - pos >= 5) {
      const len = bytes.readInt32BE(pos + 1);
      if (len < 4 || pos + 1 + len > bytes.length) break;
      const type = bytes[pos]!;
      out.push({ name: from === 'client' ? frontendName(type) : backendName(type), start: pos, end: pos + 1 + len });
      pos += 1 + len;
    }
    if (pos < bytes.length) out.push({ name: '(part of a message)', start: pos, end: bytes.length });
    return out;
  }

  private client(type: number, buf: Buffer, start: number, end: number, emit: (i: TranscriptEvent) => void): void {
    switch (type) {
      case Frontend.Query: {
        this.tracker.query();
        emit({ type: 'query', sql: decodeQuery(buf, start, end) });
        return;
      }
      case Frontend.Parse: {
        const p = decodeParse(buf, start, end);
        this.tracker.parse(p.statement);
        this.statements.set(p.statement, p.query);
        emit({ type: 'parse', statement: p.statement, sql: p.query, paramTypes: p.paramTypes });
        return;
      }
      case Frontend.Bind: {
        const b = decodeBind(buf, start, end);
        this.tracker.bind(b.portal, b.statement, b.resultFormats);
        const f = b.paramFormats;
        const params = b.params.map((v, i) => value(v, (f.length === 1 ? f[0] : f[i]) === 1));
        this.portals.set(b.portal, { statement: b.statement, sql: this.statements.get(b.statement) ?? null, params });
        emit({ type: 'bind', portal: b.portal, statement: b.statement, params });
        return;
      }
      case Frontend.Describe: {
        const d = decodeDescribeOrClose(buf, start, end);
        if (d.target === 'statement') this.tracker.describeStatement(d.name);
        else this.tracker.describePortal(d.name);
        return;
      }
      case Frontend.Execute: {
        const e = decodeExecute(buf, start, end);
        this.tracker.execute(e.portal);
        const p = this.portals.get(e.portal);
        emit({ type: 'execute', portal: e.portal, statement: p?.statement ?? '', sql: p?.sql ?? null, params: p?.params ?? [], maxRows: e.maxRows });
        return;
      }
      case Frontend.Close: {
        const d = decodeDescribeOrClose(buf, start, end);
        this.tracker.close(d.target, d.name);
        if (d.target === 'statement') this.statements.delete(d.name);
        else this.portals.delete(d.name);
        return;
      }
      case Frontend.Sync:
        this.tracker.sync();
        return;
      case Frontend.FunctionCall:
        this.tracker.query();
        emit({ type: 'function-call', oid: buf.readUInt32BE(start + 5) });
        return;
      case Frontend.CopyData:
        emit({ type: 'copy-data', from: 'client', data: this.copyData(buf, start, end) });
        return;
      case Frontend.CopyDone:
        emit({ type: 'copy-done', from: 'client' });
        return;
      case Frontend.CopyFail:
        emit({ type: 'copy-fail', message: buf.toString('utf8', start + 5, end - 1) });
        return;
      case Frontend.Terminate:
        emit({ type: 'terminate' });
        return;
      case Frontend.Flush:
        return;
      default:
        emit({ type: 'unknown', from: 'client', message: frontendName(type) });
    }
  }

  private server(type: number, buf: Buffer, start: number, end: number, emit: (i: TranscriptEvent) => void): void {
    switch (type) {
      case Backend.RowDescription: {
        const fields = decodeRowDescription(buf, start, end);
        if (this.tracker.rowDescription(fields)) this.startRows(fields, emit);
        return;
      }
      case Backend.DataRow: {
        if (this.rowFormats === null) {
          const fields = this.tracker.inExecute ? this.tracker.executeFields() : undefined;
          this.startRows(fields ?? null, emit);
        }
        const cells = decodeDataRow(buf, start, end);
        const f = this.rowFormats!;
        emit({ type: 'row', values: cells.map((c, i) => value(c, f[i] === 1)) });
        return;
      }
      case Backend.NoData:
        this.tracker.noData();
        return;
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
        this.tracker.complete();
        return;
      case Backend.ParameterDescription:
        return;
      case Backend.CommandComplete:
        this.rowFormats = null;
        this.tracker.executeDone();
        emit({ type: 'complete', tag: decodeCommandComplete(buf, start, end) });
        return;
      case Backend.EmptyQueryResponse:
        this.rowFormats = null;
        this.tracker.executeDone();
        emit({ type: 'empty-query' });
        return;
      case Backend.PortalSuspended:
        this.rowFormats = null;
        this.tracker.executeDone();
        emit({ type: 'suspended' });
        return;
      case Backend.ErrorResponse:
        this.rowFormats = null;
        this.tracker.error();
        emit({ type: 'error', ...problem(decodeErrorFields(buf, start, end)) });
        return;
      case Backend.NoticeResponse:
        emit({ type: 'notice', ...problem(decodeErrorFields(buf, start, end)) });
        return;
      case Backend.NotificationResponse: {
        const n = decodeNotificationResponse(buf, start, end);
        emit({ type: 'notification', channel: n.channel, payload: n.payload });
        return;
      }
      case Backend.ReadyForQuery:
        this.rowFormats = null;
        this.tracker.readyForQuery();
        emit({ type: 'ready', status: String.fromCharCode(decodeReadyForQuery(buf, start, end)) });
        return;
      case Backend.CopyInResponse:
      case Backend.CopyOutResponse:
      case Backend.CopyBothResponse: {
        const c = decodeCopyResponse(buf, start, end);
        this.copyText = c.format === 0;
        emit({ type: type === Backend.CopyInResponse ? 'copy-in' : 'copy-out', format: c.format === 0 ? 'text' : 'binary', columns: c.columnFormats.length });
        return;
      }
      case Backend.CopyData:
        emit({ type: 'copy-data', from: 'server', data: this.copyData(buf, start, end) });
        return;
      case Backend.CopyDone:
        emit({ type: 'copy-done', from: 'server' });
        return;
      case Backend.ParameterStatus: {
        const p = decodeParameterStatus(buf, start, end);
        emit({ type: 'parameter', name: p.name, value: p.value });
        return;
      }
      case Backend.Authentication:
      case Backend.BackendKeyData:
        return;
      default:
        emit({ type: 'unknown', from: 'server', message: backendName(type) });
    }
  }

  private startRows(fields: FieldDescription[] | null, emit: (i: TranscriptEvent) => void): void {
    this.rowFormats = fields ? fields.map((f) => f.format) : [];
    if (fields) {
      emit({
        type: 'columns',
        columns: fields.map((f) => ({ name: f.name, typeOid: f.typeOid, format: f.format === 1 ? 'binary' : 'text' })),
      });
    }
  }

  private copyData(buf: Buffer, start: number, end: number): string {
    const data = buf.subarray(start + 5, end);
    return this.copyText ? data.toString('utf8') : `\\x${data.toString('hex')}`;
  }
}
