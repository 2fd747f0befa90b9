/**
 * A client streaming a large result: a pg submittable that counts DataRows and keeps none,
 * so the client's memory stays flat and any buffering shows up in the proxy's peak RSS.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Endpoint, Sample } from '../endpoints.js';
import { cpuMs, peakRssKB, resetPeakRss, rssKB } from '../proc.js';

export function largeResultSql(rows: number, columns: readonly [string, string]): string {
  const [a, b] = columns.map((c) => `"${c.replace(/"/g, '""')}"`);
  return `select g, md5(g::text) as ${a}, md5((g + 1)::text) as ${b} from generate_series(1, ${rows}) g`;
}

interface Streamed {
  rows: number;
  /** Whether the first row's second column arrived as something other than the clear md5. */
  firstAltered: boolean;
}

function streamQuery(client: pg.Client, sql: string, timeoutMs: number): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    let rows = 0;
    let firstAltered = false;
    let error: Error | null = null;
    const clear = createHash('md5').update('1').digest('hex');
    const timer = setTimeout(() => {
      error = new Error(`large result not done after ${timeoutMs} ms`);
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }, timeoutMs);
    const submittable = {
      submit(connection: { query(text: string): void }) {
        connection.query(sql);
      },
      handleRowDescription() {},
      handleDataRow(msg: { fields: (string | null)[] }) {
        if (rows === 0) firstAltered = msg.fields[1] !== clear;
        rows++;
      },
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleError(err: Error) {
        error ??= err;
      },
      handleReadyForQuery() {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve({ rows, firstAltered });
      },
    };
    client.query(submittable as unknown as pg.QueryConfig).catch?.(() => undefined);
    client.once('error', (e) => {
      clearTimeout(timer);
      reject(error ?? e);
    });
  });
}

/** Streams `rows` rows; value = rows per second. Notes when masked columns arrived in clear (or the reverse). */
export async function largeResult(ep: Endpoint, rows: number, columns: readonly [string, string], expectMasked: boolean): Promise<Sample> {
  const client = new pg.Client({ host: ep.host, port: ep.port, user: ep.user, password: ep.password, database: ep.database, ssl: false });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const peakReset = ep.pid ? resetPeakRss(ep.pid) : false;
    const startKB = ep.pid ? rssKB(ep.pid) : NaN;
    const cpu0 = ep.pid ? cpuMs(ep.pid) : 0;
    const t0 = process.hrtime.bigint();
    const r = await streamQuery(client, largeResultSql(rows, columns), 300_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.rows !== rows) throw new Error(`expected ${rows} rows, got ${r.rows}`);
    const sample: Sample = { value: rows / seconds, units: rows, cpuMs: ep.pid ? cpuMs(ep.pid) - cpu0 : undefined };
    if (ep.pid) sample.peakKB = peakRssKB(ep.pid);
    const notes: string[] = [];
    if (ep.pid) notes.push(`RSS at start ${Math.round(startKB / 1024)} MB`);
    if (ep.pid && !peakReset) notes.push('peak RSS since process start (clear_refs not permitted)');
    if (expectMasked && !r.firstAltered) notes.push('masked columns arrived in clear: masking not applied');
    if (!expectMasked && r.firstAltered) notes.push('values altered');
    if (notes.length) sample.note = notes.join('; ');
    return sample;
  } finally {
    await client.end().catch(() => undefined);
  }
}
