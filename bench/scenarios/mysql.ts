/**
 * MySQL measurements: point selects and connections from the mysql2 load generator in a child
 * process (bench/mysql-loadgen.ts), large results through the `mariadb` command-line client
 * (C, `--quick`: rows are read as they arrive and printed, not kept).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { spawnTracked, stopChild } from '../cleanup.js';
import type { Endpoint, Sample } from '../endpoints.js';
import { PASSWORD_ENV, type LoadResult, type LoadSpec } from '../mysql-loadgen.js';
import { cpuMs, peakRssKB, resetPeakRss, rssKB } from '../proc.js';

const LOADGEN = path.join(import.meta.dirname, '../mysql-loadgen.ts');

/** CPU of `pid` in ms since the call, as a function (undefined without a pid). */
function cpuSince(pid: number | undefined): () => number | undefined {
  if (!pid) return () => undefined;
  const c0 = cpuMs(pid);
  return () => cpuMs(pid) - c0;
}

function collect(child: ReturnType<typeof spawnTracked>, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err = (err + d).slice(-8000)));
  const timer = setTimeout(() => void stopChild(child, 'SIGTERM', 5000), timeoutMs);
  return new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  }).finally(() => clearTimeout(timer));
}

export interface MysqlLoadOptions {
  mode: LoadSpec['mode'];
  table: string;
  rows: number;
  clients: number;
  durationMs: number;
  tls?: boolean;
}

/** Runs the load generator against `ep`; value = transactions per second. */
export async function mysqlLoad(ep: Endpoint, o: MysqlLoadOptions): Promise<Sample> {
  const spec: LoadSpec = { ...o, host: ep.host, port: ep.port, user: ep.user, database: ep.database };
  const child = spawnTracked(process.execPath, ['--import', 'tsx', LOADGEN, JSON.stringify(spec)], {
    env: { ...process.env, [PASSWORD_ENV]: ep.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proxyCpu = cpuSince(ep.pid);
  const serverCpu = cpuSince(ep.serverPid);
  const { code, out, err } = await collect(child, o.durationMs + 120_000);
  const proxy = proxyCpu();
  const server = serverCpu();
  const line = out.trim().split('\n').pop() ?? '';
  let r: Partial<LoadResult> & { error?: string };
  try {
    r = JSON.parse(line) as typeof r;
  } catch {
    throw new Error(`load generator failed (exit ${code}): ${(err.trim().split('\n').pop() ?? '').slice(0, 200)}`);
  }
  if (r.error || code !== 0 || !r.txns || !r.seconds) throw new Error(`load generator failed: ${r.error ?? `exit ${code}, ${r.txns ?? 0} transactions`}`);
  return { value: r.txns / r.seconds, units: r.txns, cpuMs: proxy, serverCpuMs: server, clientCpuMs: r.cpuMs };
}

const quote = (name: string) => '`' + name.replace(/`/g, '``') + '`';

/** A `rows`-row result from MariaDB's SEQUENCE engine, with two md5 columns named `columns`. */
export function mysqlLargeResultSql(rows: number, columns: readonly [string, string]): string {
  const [a, b] = columns.map(quote);
  return `SELECT seq AS g, md5(seq) AS ${a}, md5(seq + 1) AS ${b} FROM seq_1_to_${rows}`;
}

/**
 * Streams `rows` rows through `mariadb --quick`; value = rows per second. The time is taken by
 * the server: `UNIX_TIMESTAMP(NOW(6))` before the result and after it (the client sends the
 * next statement only once it has read the whole result), so the login is not in it.
 */
export async function mysqlLargeResult(ep: Endpoint, rows: number, columns: readonly [string, string], expectMasked: boolean): Promise<Sample> {
  const sql = `SELECT UNIX_TIMESTAMP(NOW(6)) AS t0; ${mysqlLargeResultSql(rows, columns)}; SELECT UNIX_TIMESTAMP(NOW(6)) AS t1`;
  const args = ['--no-defaults', '-h', ep.host, '-P', String(ep.port), '-u', ep.user, '--skip-ssl', '--quick', '-N', '-B', '-e', sql, ep.database];
  const peakReset = ep.pid ? resetPeakRss(ep.pid) : false;
  const startKB = ep.pid ? rssKB(ep.pid) : NaN;
  const proxyCpu = cpuSince(ep.pid);
  const serverCpu = cpuSince(ep.serverPid);
  const child = spawnTracked('mariadb', args, { env: { ...process.env, MYSQL_PWD: ep.password }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Counts lines and keeps the first few and the last one: the client's memory stays flat.
  let lines = 0;
  let head = '';
  let tail = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
    if (head.length < 4096) head += d.toString('latin1', 0, Math.min(d.length, 4096));
    tail = (tail + d.toString('latin1', Math.max(0, d.length - 256))).slice(-256);
  });
  child.stderr!.on('data', (d) => (err = (err + d).slice(-4000)));
  const timer = setTimeout(() => void stopChild(child, 'SIGTERM', 5000), 300_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  }).finally(() => clearTimeout(timer));
  const cpu = proxyCpu();
  const server = serverCpu();
  if (code !== 0) throw new Error(`mariadb failed (exit ${code}): ${(err.trim().split('\n').pop() ?? '').slice(0, 200)}`);
  const first = head.split('\n');
  const last = tail.trimEnd().split('\n').pop() ?? '';
  const seconds = Number(last) - Number(first[0]);
  if (lines !== rows + 2) throw new Error(`expected ${rows} rows, got ${lines - 2}`);
  if (!(seconds > 0)) throw new Error(`no server timestamps around the result ("${first[0]}", "${last}")`);
  const clear = createHash('md5').update('1').digest('hex');
  const firstAltered = first[1]?.split('\t')[1] !== clear;
  const sample: Sample = { value: rows / seconds, units: rows, cpuMs: cpu, serverCpuMs: server };
  if (ep.pid) sample.peakKB = peakRssKB(ep.pid);
  const notes: string[] = [];
  if (ep.pid) notes.push(`RSS at start ${Math.round(startKB / 1024)} MB`);
  if (ep.pid && !peakReset) notes.push('peak RSS since process start (clear_refs not permitted)');
  if (expectMasked && !firstAltered) notes.push('masked columns arrived in clear: masking not applied');
  if (!expectMasked && firstAltered) notes.push('values altered');
  if (notes.length) sample.note = notes.join('; ');
  return sample;
}
