/**
 * The session's hot path: two pumps, one per direction, each framing its source and
 * forwarding untouched messages as contiguous views in one corked write per read.
 * Decoded only what policy needs: Query/Parse/Bind/Describe/Execute/Close/Sync from the
 * client (statement hooks, result tracking), RowDescription/DataRow and friends from the
 * server when masking applies. Backpressure: a pump stops reading while its destination
 * or an observer is full.
 */
import type { Duplex } from 'node:stream';
import {
  Backend,
  Framer,
  Frontend,
  ErrorField,
  decodeErrorFields,
  FrameError,
  MessageError,
  decodeBind,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDescribeOrClose,
  decodeExecute,
  decodeParse,
  decodeQuery,
  decodeRowDescription,
  encode,
  type FieldDescription,
} from '../../../protocols/postgres/index.js';
import { Pump, type PacketHandler } from '../../engine/pump.js';
import { runRelay } from '../../engine/relay-session.js';
import { JitError, asJitError } from '../../errors.js';
import type {
  ColumnInfo,
  Direction,
  FrameObserver,
  RelayContext,
  ResultMasker,
} from '../../engine/types.js';
import type { Message } from './message-stream.js';
import { ResultTracker } from './result-tracker.js';
import { errorResponseFor } from './errors.js';
import { copyData, DataRowMasker, maskErrorLike, maskFunctionResult, maskNotification } from './relay-masking.js';
import type { SessionMasking } from '../../masking/masking.js';
import { maskCopyRow, parseCopyOut, type CopyOut } from '../../masking/pg-copy.js';

type Handler = PacketHandler;

export interface RelayOptions {
  client: { socket: Duplex; framer: Framer; pending: Message[] };
  upstream: { socket: Duplex; framer: Framer; pending: Message[] };
  /** Messages that complete the client's login (AuthenticationOk … ReadyForQuery). */
  greeting: Buffer[];
  maxMessage: number;
  /** End the session after this long without traffic either way (0: never). */
  idleTimeoutMs: number;
}

export function pgRelay(opts: RelayOptions, ctx: RelayContext): Promise<string> {
  const { pipeline, stats } = ctx;
  const masking = pipeline.masking;
  const tracker = masking ? new ResultTracker() : null;
  const client = opts.client;
  const upstream = opts.upstream;
  client.framer.maxLength = opts.maxMessage;
  // The upstream login ran with a small limit; result rows may be as large as any message.
  upstream.framer.maxLength = opts.maxMessage;

  const hooks = pipeline.statements;
  /** The server ended the session with its own FATAL error: the client needs no second one. */
  let serverSentFatal = false;
  let clientTerminated = false;
  let masker: ResultMasker | null = null;

  const handleClient: Handler = (type, buf, start, end) => {
    switch (type) {
      case Frontend.Query: {
        stats.statements++;
        if (hooks.length || tracker) {
          const sql = decodeQuery(buf, start, end);
          for (const h of hooks) h.check({ kind: 'query', sql }, ctx.session);
          if (tracker) {
            tracker.query();
            copyQueue.push(parseCopyOut(sql));
          }
        }
        break;
      }
      case Frontend.Parse: {
        if (hooks.length || tracker) {
          const p = decodeParse(buf, start, end);
          for (const h of hooks) h.check({ kind: 'parse', sql: p.query, name: p.statement }, ctx.session);
          tracker?.parse(p.statement);
        }
        break;
      }
      case Frontend.Execute:
        stats.statements++;
        if (tracker) tracker.execute(decodeExecute(buf, start, end).portal);
        break;
      case Frontend.Bind:
        if (tracker) {
          const b = decodeBind(buf, start, end);
          tracker.bind(b.portal, b.statement, b.resultFormats);
        }
        break;
      case Frontend.Describe:
        if (tracker) {
          const d = decodeDescribeOrClose(buf, start, end);
          if (d.target === 'statement') tracker.describeStatement(d.name);
          else tracker.describePortal(d.name);
        }
        break;
      case Frontend.Close:
        if (tracker) {
          const d = decodeDescribeOrClose(buf, start, end);
          tracker.close(d.target, d.name);
        }
        break;
      case Frontend.Sync:
        tracker?.sync();
        if (tracker) copyQueue.push(null);
        break;
      case Frontend.FunctionCall:
        stats.statements++;
        tracker?.query();
        if (tracker) copyQueue.push(null);
        break;
      case Frontend.Terminate:
        clientTerminated = true;
        break;
    }
    c2s.out.pass(buf, start, end);
  };

  /** Masker of the rows now flowing; `planned` says whether it was worked out for them. */
  let planned = false;
  /** Engine-side extras of jitgate's masking module (absent for other MaskingHook implementations). */
  const extras = masking as Partial<SessionMasking> | null;
  /** Per Query/Sync/FunctionCall (one ReadyForQuery each): the COPY … TO STDOUT it runs, if known. */
  const copyQueue: (CopyOut | null)[] = [];
  let copy: { spec: CopyOut; masker: ResultMasker | null; header: boolean } | null = null;
  /** After a masking failure: drop the server's answers up to ReadyForQuery (the client got an error). */
  let swallowing = false;

  /** Fail closed for one statement: the client gets an ErrorResponse instead of the rest of the result. */
  const failStatement = (err: unknown): void => {
    const jerr = asJitError(err);
    if (jerr.code !== 'masking_failed') throw err;
    s2c.out.emit(errorResponseFor(jerr, 'ERROR'));
    swallowing = true;
    masker = null;
    copy = null;
    extras?.endResult?.();
  };

  const columnsOf = (fields: FieldDescription[]): ColumnInfo[] =>
    fields.map((f) => ({
      name: f.name,
      tableOid: f.tableOid,
      attnum: f.attnum,
      typeOid: f.typeOid,
      format: f.format === 1 ? 'binary' : 'text',
    }));

  /** Works out the masker for rows described by `fields`; returns a promise when it must wait. */
  const plan = (fields: FieldDescription[] | null | undefined): Promise<void> | null => {
    planned = true;
    masker = null;
    if (!masking) return null;
    if (fields === undefined) {
      throw new JitError('masking_failed', 'result rows arrived without a description; jitgate cannot mask them');
    }
    if (fields === null) return null;
    const p = masking.planResult(columnsOf(fields));
    if (p instanceof Promise) return p.then((m) => void (masker = m));
    masker = p;
    return null;
  };

  const rows = new DataRowMasker();
  const maskDataRow = (buf: Buffer, start: number, end: number): void => {
    const m = masker;
    // A rewritten row lands in the rewriter's arena; consecutive ones merge into one run.
    if (m && rows.rewrite(m, buf, start, end)) s2c.out.pass(rows.buf, rows.start, rows.end);
    else s2c.out.pass(buf, start, end);
  };

  const handleServer: Handler = (type, buf, start, end) => {
    if (type === Backend.ErrorResponse && !serverSentFatal) serverSentFatal = isFatal(buf, start, end);
    if (!tracker || !masking) {
      s2c.out.pass(buf, start, end);
      return;
    }
    if (swallowing) return swallow(type, buf, start, end);
    switch (type) {
      case Backend.DataRow: {
        try {
          if (!planned) {
            const wait = plan(tracker.inExecute ? tracker.executeFields() : undefined);
            if (wait) {
              const row = Buffer.from(buf.subarray(start, end));
              s2c.await(wait.then(() => (swallowing ? undefined : maskDataRow(row, 0, row.length))).catch(failStatement));
              return false;
            }
          }
          maskDataRow(buf, start, end);
        } catch (e) {
          failStatement(e);
        }
        return;
      }
      case Backend.RowDescription: {
        const fields = tracker.rowDescription(decodeRowDescription(buf, start, end));
        s2c.out.pass(buf, start, end);
        if (fields) {
          const wait = plan(fields);
          if (wait) {
            s2c.await(wait.catch(failStatement));
            return false;
          }
        }
        return;
      }
      case Backend.CopyOutResponse: {
        const spec = copyQueue[0] ?? null;
        const { format } = decodeCopyResponse(buf, start, end);
        if (!spec || format !== 0 || spec.format === 'binary') {
          failStatement(new JitError('masking_failed', spec && format === 0 ? 'COPY in this form cannot be masked; use SELECT or COPY … TO STDOUT in text or csv format' : 'binary COPY cannot be masked; use text or csv format'));
          return;
        }
        s2c.out.pass(buf, start, end);
        copy = { spec, masker: null, header: spec.header && spec.format === 'csv' };
        const cur = copy;
        const p = extras?.planCopy ? extras.planCopy(spec) : Promise.reject(new JitError('masking_failed', 'COPY cannot be masked here'));
        s2c.await(p.then((m) => void (cur.masker = m)).catch(failStatement));
        return false;
      }
      case Backend.CopyData: {
        if (copy) {
          if (copy.header) {
            copy.header = false;
          } else if (copy.masker) {
            try {
              const data = buf.subarray(start + 5, end);
              const out = maskCopyRow(data, copy.spec, copy.masker);
              if (out !== data) {
                s2c.out.emit(copyData(out));
                return;
              }
            } catch (e) {
              failStatement(e instanceof JitError ? e : new JitError('masking_failed', 'a COPY row could not be masked; the COPY was stopped', { cause: e }));
              return;
            }
          }
        }
        break;
      }
      case Backend.CopyDone:
        copy = null;
        break;
      case Backend.ErrorResponse:
      case Backend.NoticeResponse: {
        const out = maskErrorLike(masking, type, buf, start, end);
        if (type === Backend.ErrorResponse) {
          planned = false;
          copy = null;
          tracker.error();
          extras?.endResult?.();
        }
        if (out) {
          s2c.out.emit(out);
          return;
        }
        break;
      }
      case Backend.NotificationResponse: {
        const out = maskNotification(masking, buf, start, end);
        if (out) {
          s2c.out.emit(out);
          return;
        }
        break;
      }
      case Backend.FunctionCallResponse: {
        const out = maskFunctionResult(masking, buf, start, end);
        if (out) {
          s2c.out.emit(out);
          return;
        }
        break;
      }
      case Backend.NoData:
        tracker.noData();
        break;
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
        tracker.complete();
        break;
      case Backend.CommandComplete:
        extras?.commandComplete?.(decodeCommandComplete(buf, start, end));
        planned = false;
        tracker.executeDone();
        extras?.endResult?.();
        break;
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended:
        planned = false;
        tracker.executeDone();
        extras?.endResult?.();
        break;
      case Backend.ReadyForQuery:
        planned = false;
        copyQueue.shift();
        tracker.readyForQuery();
        break;
    }
    s2c.out.pass(buf, start, end);
  };

  /** Keeps the tracker in step while dropping a failed statement's answers; ReadyForQuery ends it. */
  const swallow: Handler = (type, buf, start, end) => {
    switch (type) {
      case Backend.RowDescription:
        tracker!.rowDescription(decodeRowDescription(buf, start, end));
        return;
      case Backend.NoData:
        tracker!.noData();
        return;
      case Backend.ParseComplete:
      case Backend.BindComplete:
      case Backend.CloseComplete:
        tracker!.complete();
        return;
      case Backend.CommandComplete:
      case Backend.EmptyQueryResponse:
      case Backend.PortalSuspended:
        tracker!.executeDone();
        return;
      case Backend.ErrorResponse:
        tracker!.error();
        return;
      case Backend.ParameterStatus:
        break;
      case Backend.ReadyForQuery:
        swallowing = false;
        planned = false;
        copy = null;
        copyQueue.shift();
        tracker!.readyForQuery();
        break;
      default:
        return;
    }
    s2c.out.pass(buf, start, end);
  };

  const c2s = new Pump('client', client.socket, upstream.socket, client.framer, pipeline.observers, handleClient);
  const s2c = new Pump('server', upstream.socket, client.socket, upstream.framer, pipeline.observers, handleServer);

  return runRelay(
    { client, upstream, c2s, s2c, greeting: opts.greeting, idleTimeoutMs: opts.idleTimeoutMs },
    {
      errorMessage: (err) => errorResponseFor(err, 'FATAL'),
      goodbye: encode.Terminate(),
      clientTerminated: () => clientTerminated,
      upstreamSaidWhy: () => serverSentFatal,
      isCodecError: (e): e is Error => e instanceof FrameError || e instanceof MessageError,
      unit: 'message',
    },
    ctx,
  );
}

function isFatal(buf: Buffer, start: number, end: number): boolean {
  try {
    const severity = decodeErrorFields(buf, start, end).get(ErrorField.SeverityNonLocalized);
    return severity === 'FATAL' || severity === 'PANIC';
  } catch {
    return false;
  }
}
