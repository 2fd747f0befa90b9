/** The scenarios: which cases (path + variant) each runs, and how one measurement is taken. */
import type { BenchOptions, ScenarioName } from '../options.js';
import type { Endpoint, PathId, Sample } from '../endpoints.js';
import { pgbenchTps, pgbench, withScript } from './pgbench.js';
import { largeResult, largeResultSql } from './large-result.js';
import { idleSessions } from './idle.js';
import { cpuMs } from '../proc.js';
import { MASKED_COLUMNS } from '../setup/jitgate.js';
import { ACCOUNTS, ACCOUNT_ROWS } from '../setup/mysql-upstream.js';
import { mysqlLargeResult, mysqlLoad } from './mysql.js';

export type Unit = 'tps' | 'rows/s' | 'ms/query' | 'KB/session';
/** Which database (and so which upstream and which jitgate listener) a scenario runs against. */
export type Engine = 'postgres' | 'mysql';

export interface Case {
  path: PathId;
  /** Shown after the path label. */
  variant?: string;
  /** Needs every client backend gone before it starts (idle sessions). */
  quiesceAll?: boolean;
  /** Runs on a freshly started proxy process (RSS growth of a long-lived one is mostly garbage from earlier scenarios). */
  freshProcess?: boolean;
  run(ep: Endpoint): Promise<Sample>;
}

export interface Scenario {
  name: ScenarioName;
  engine: Engine;
  title: string;
  unit: Unit;
  cases: Case[];
}

const ALL: PathId[] = ['direct', 'pgbouncer', 'jitgate', 'jitgate-bare'];
/** PgBouncer has no MySQL role. */
const MYSQL_ALL: PathId[] = ['direct', 'jitgate', 'jitgate-bare'];

export function buildScenarios(o: BenchOptions): Scenario[] {
  const j = String(Math.min(2, o.clients));
  const connClients = Math.max(1, Math.floor(o.clients / 2));
  const select = (mode: string): Case[] =>
    ALL.map((path) => ({ path, run: (ep) => pgbenchTps(ep, ['-S', '-M', mode, '-c', String(o.clients), '-j', j], o.durationMs) }));
  const load = { table: ACCOUNTS, rows: ACCOUNT_ROWS, durationMs: o.durationMs };
  const rowsMillions = o.rows >= 1e6 ? `${o.rows / 1e6}M` : `${o.rows / 1e3}k`;
  const maskScript = (cols: readonly [string, string]) => largeResultSql(1000, cols) + ';';
  const mask1k = (variant: string, cols: readonly [string, string]): Case => ({
    path: 'jitgate',
    variant,
    run: (ep) =>
      withScript(maskScript(cols), async (file) => {
        const cpu0 = ep.pid ? cpuMs(ep.pid) : 0;
        const r = await pgbench(ep, ['-f', file, '-c', '1', '-j', '1'], o.durationMs);
        return { value: r.latencyMs, units: r.txns, cpuMs: ep.pid ? cpuMs(ep.pid) - cpu0 : undefined };
      }),
  });

  const all: Scenario[] = [
    { name: 'simple', engine: 'postgres', title: `pgbench -S simple (-c ${o.clients})`, unit: 'tps', cases: select('simple') },
    { name: 'extended', engine: 'postgres', title: `pgbench -S extended (-c ${o.clients})`, unit: 'tps', cases: select('extended') },
    { name: 'prepared', engine: 'postgres', title: `pgbench -S prepared (-c ${o.clients})`, unit: 'tps', cases: select('prepared') },
    {
      name: 'connect',
      engine: 'postgres',
      title: `pgbench -S -C, new connection per txn (-c ${connClients})`,
      unit: 'tps',
      cases: ALL.map((path) => ({ path, run: (ep) => pgbenchTps(ep, ['-S', '-C', '-c', String(connClients), '-j', String(Math.min(2, connClients))], o.durationMs) })),
    },
    {
      name: 'rows',
      engine: 'postgres',
      title: `${rowsMillions}-row result, streamed`,
      unit: 'rows/s',
      cases: ALL.map((path) => ({ path, run: (ep) => largeResult(ep, o.rows, ['a', 'b'], false) })),
    },
    {
      name: 'rows-masked',
      engine: 'postgres',
      title: `${rowsMillions}-row result, 2 masked columns`,
      unit: 'rows/s',
      cases: (['direct', 'pgbouncer', 'jitgate'] as PathId[]).map((path) => ({
        path,
        run: (ep) => largeResult(ep, o.rows, MASKED_COLUMNS, path === 'jitgate'),
      })),
    },
    {
      name: 'mask1k',
      engine: 'postgres',
      title: '1,000-row query (-c 1), latency',
      unit: 'ms/query',
      cases: [mask1k('2 masked columns', MASKED_COLUMNS), mask1k('no rule matches', ['a', 'b'])],
    },
    {
      name: 'recording',
      engine: 'postgres',
      title: `recording on vs off: pgbench -S simple (-c ${o.clients})`,
      unit: 'tps',
      cases: (['jitgate', 'jitgate-norec'] as PathId[]).map((path) => ({
        path,
        run: (ep) => pgbenchTps(ep, ['-S', '-M', 'simple', '-c', String(o.clients), '-j', j], o.durationMs),
      })),
    },
    {
      name: 'idle',
      engine: 'postgres',
      title: `${o.idle} idle sessions`,
      unit: 'KB/session',
      cases: (['pgbouncer', 'jitgate', 'jitgate-bare'] as PathId[]).map((path) => ({
        path,
        quiesceAll: true,
        freshProcess: path !== 'pgbouncer',
        run: (ep) => idleSessions(ep, o.idle, 300_000),
      })),
    },
    {
      name: 'my-point',
      engine: 'mysql',
      title: `MySQL: point select by id, mysql2 (-c ${o.clients})`,
      unit: 'tps',
      cases: MYSQL_ALL.map((path) => ({ path, run: (ep) => mysqlLoad(ep, { ...load, mode: 'point', clients: o.clients }) })),
    },
    {
      name: 'my-connect',
      engine: 'mysql',
      title: `MySQL: new connection per query, mysql2 (-c ${connClients})`,
      unit: 'tps',
      cases: [
        ...MYSQL_ALL.map((path): Case => ({ path, run: (ep) => mysqlLoad(ep, { ...load, mode: 'connect', clients: connClients }) })),
        // The same with the token inside TLS instead of encrypted with jitgate's RSA key.
        { path: 'jitgate', variant: 'TLS', run: (ep) => mysqlLoad(ep, { ...load, mode: 'connect', clients: connClients, tls: true }) },
      ],
    },
    {
      name: 'my-rows',
      engine: 'mysql',
      title: `MySQL: ${rowsMillions}-row result, mariadb --quick`,
      unit: 'rows/s',
      cases: MYSQL_ALL.map((path) => ({ path, run: (ep) => mysqlLargeResult(ep, o.rows, ['a', 'b'], false) })),
    },
    {
      name: 'my-rows-masked',
      engine: 'mysql',
      title: `MySQL: ${rowsMillions}-row result, 2 masked columns`,
      unit: 'rows/s',
      cases: (['direct', 'jitgate'] as PathId[]).map((path) => ({
        path,
        run: (ep) => mysqlLargeResult(ep, o.rows, MASKED_COLUMNS, path === 'jitgate'),
      })),
    },
  ];
  return all.filter((s) => o.scenarios.includes(s.name));
}
