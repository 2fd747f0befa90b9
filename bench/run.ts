/**
 * `npm run bench`: jitgate against direct connections and PgBouncer, side by side in one
 * run, on loopback. Starts an embedded PostgreSQL, PgBouncer, an embedded MariaDB (for the
 * my-* scenarios) and `jitgate serve` processes, runs each scenario on each path with the
 * order of paths alternating per run, and prints one table of medians. Everything it starts
 * is removed on exit or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { cleanupAll, installSignalHandlers, isAborted, onCleanup } from './cleanup.js';
import { prepareJitgate, removeBuild } from './setup/build.js';
import { PATH_LABELS, type Endpoint, type PathId } from './endpoints.js';
import { BenchUsageError, parseOptions, USAGE, type BenchOptions } from './options.js';
import { buildScenarios, type Engine } from './scenarios/index.js';
import { PGBOUNCER_MISSING, pgbouncerAvailable, startPgBouncer } from './setup/pgbouncer.js';
import {
  mysqlTarget,
  postgresTarget,
  recordingFiles,
  startJitgate,
  unsupportedKeys,
  type Jitgate,
  type JitgateTarget,
  type JitgateVariant,
} from './setup/jitgate.js';
import { ACCOUNT_ROWS, mariadbMissing, startMysqlUpstream } from './setup/mysql-upstream.js';
import { BENCH_USER, DATABASE, startUpstream } from './setup/upstream.js';
import { renderTable, targetLines, type CaseResult, type ScenarioResult } from './table.js';

const log = (s: string) => console.error(`bench: ${s}`);

const JITGATE_VARIANTS: Record<Exclude<PathId, 'direct' | 'pgbouncer'>, JitgateVariant> = {
  jitgate: { masking: true, recording: true },
  'jitgate-bare': { masking: false, recording: false },
  'jitgate-norec': { masking: true, recording: false },
};

function prerequisites(postgres: boolean): void {
  if (postgres) {
    try {
      execFileSync('pgbench', ['--version'], { stdio: 'ignore' });
    } catch {
      throw new BenchUsageError('pgbench not found: install the PostgreSQL client tools (apt-get install postgresql-client)');
    }
  }
  if (process.platform !== 'linux') throw new BenchUsageError('the bench reads CPU and memory from /proc: run it on Linux');
}

type JitgatePath = keyof typeof JITGATE_VARIANTS;
/** Endpoints and proxies are per engine: `postgres:jitgate`, `mysql:direct`… */
const key = (engine: Engine, path: PathId) => `${engine}:${path}`;

async function bench(o: BenchOptions): Promise<void> {
  const scenarios = buildScenarios(o);
  const engines = new Set(scenarios.map((s) => s.engine));
  prerequisites(engines.has('postgres'));
  const neededBy = (engine: Engine) => new Set(scenarios.filter((s) => s.engine === engine).flatMap((s) => s.cases.map((c) => c.path)));
  const needed = neededBy('postgres');
  const skipped = new Set<PathId>();
  const skippedEngines = new Map<Engine, string>();
  const notes: string[] = [];
  if (needed.has('pgbouncer') && !pgbouncerAvailable()) {
    log(PGBOUNCER_MISSING);
    skipped.add('pgbouncer');
    notes.push(`PgBouncer column skipped: ${PGBOUNCER_MISSING}`);
  }
  if (engines.has('mysql')) {
    const why = await mariadbMissing();
    if (why) {
      log(`MySQL rows skipped: ${why}`);
      skippedEngines.set('mysql', why);
      notes.push(`MySQL rows skipped: ${why}`);
    }
  }
  const missing = unsupportedKeys();
  if (missing.length) notes.push(`this build's config schema lacks ${missing.join(', ')}: left out of the jitgate configs`);

  if (scenarios.every((s) => skippedEngines.has(s.engine))) {
    console.log(['', renderTable(scenarios.map((scenario) => ({ scenario, cases: [], skipped: skippedEngines.get(scenario.engine) })), { skipped }), ''].join('\n'));
    return;
  }
  log('compiling jitgate from the working tree…');
  const jitgateCmd = await prepareJitgate(o.fromSource);
  onCleanup('jitgate build', removeBuild);
  if (jitgateCmd.note) notes.push(jitgateCmd.note);

  const endpoints = new Map<string, Endpoint>();
  const jitgates = new Map<string, Jitgate>();
  const quiesce = new Map<Engine, (opts: { allIdle?: boolean; timeoutMs?: number }) => Promise<boolean>>();
  const targets = new Map<Engine, JitgateTarget>();
  const base = { host: '127.0.0.1', user: BENCH_USER, database: DATABASE };
  const startVariant = async (engine: Engine, id: JitgatePath) => {
    const j = await startJitgate(jitgateCmd, targets.get(engine)!, `${engine}-${id}`, JITGATE_VARIANTS[id], { maxSessions: o.idle + 100 });
    jitgates.set(key(engine, id), j);
    const serverPid = endpoints.get(key(engine, 'direct'))?.serverPid;
    endpoints.set(key(engine, id), { ...base, id, port: j.port, password: j.token, pid: j.pid, ...(serverPid ? { serverPid } : {}) });
  };
  const startJitgates = async (engine: Engine, paths: Set<PathId>) => {
    for (const id of Object.keys(JITGATE_VARIANTS) as JitgatePath[]) {
      if (!paths.has(id)) continue;
      log(`starting jitgate serve (${engine}): ${PATH_LABELS[id]}…`);
      await startVariant(engine, id);
    }
  };

  let pgVersion = '';
  let bouncerVersion = '';
  if (engines.has('postgres')) {
    const upstream = await startUpstream({ scale: o.scale, maxConnections: o.idle + 300, log });
    quiesce.set('postgres', upstream.quiesce);
    targets.set('postgres', postgresTarget(upstream));
    endpoints.set(key('postgres', 'direct'), { ...base, id: 'direct', port: upstream.port, password: upstream.benchPassword });
    if (needed.has('pgbouncer') && !skipped.has('pgbouncer')) {
      log('starting PgBouncer (session mode, SCRAM pass-through)…');
      const b = await startPgBouncer(upstream, { maxClients: o.idle + 100 });
      bouncerVersion = b.version;
      endpoints.set(key('postgres', 'pgbouncer'), { ...base, id: 'pgbouncer', port: b.port, password: upstream.benchPassword, pid: b.pid });
    }
    await startJitgates('postgres', needed);
    pgVersion = (await upstream.query<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!.v;
  }
  let mariadbVersion = '';
  if (engines.has('mysql') && !skippedEngines.has('mysql')) {
    const my = await startMysqlUpstream({ log });
    mariadbVersion = my.version;
    quiesce.set('mysql', my.quiesce);
    targets.set('mysql', mysqlTarget(my));
    endpoints.set(key('mysql', 'direct'), { ...base, id: 'direct', port: my.port, password: my.benchPassword, serverPid: my.pid });
    await startJitgates('mysql', neededBy('mysql'));
  }

  // Whether each recording jitgate wrote anything (checked before it is restarted, and at the end).
  const recorded = new Set<Engine>();
  const noteRecordings = () => {
    for (const engine of engines) {
      const j = jitgates.get(key(engine, 'jitgate'));
      if (j && recordingFiles(j) > 0) recorded.add(engine);
    }
  };

  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const why = skippedEngines.get(scenario.engine);
    if (why) {
      results.push({ scenario, cases: [], skipped: why });
      continue;
    }
    const settle = quiesce.get(scenario.engine)!;
    const defs = scenario.cases.filter((c) => !skipped.has(c.path));
    const cases: CaseResult[] = defs.map((c) => ({ path: c.path, variant: c.variant, samples: [], errors: [] }));
    results.push({ scenario, cases });
    for (let run = 0; run < o.runs; run++) {
      const order = defs.map((_, i) => i);
      if (run % 2 === 1) order.reverse();
      for (const i of order) {
        if (isAborted()) return;
        const def = defs[i]!;
        const label = `${scenario.name} · ${PATH_LABELS[def.path]}${def.variant ? `: ${def.variant}` : ''} · run ${run + 1}/${o.runs}`;
        if (!(await settle({ allIdle: def.quiesceAll, timeoutMs: def.quiesceAll ? 60_000 : 30_000 }))) {
          log(`${label}: the server did not settle (ephemeral users or sessions left); measuring anyway`);
        }
        const k = key(scenario.engine, def.path);
        if (def.freshProcess && jitgates.has(k)) {
          noteRecordings();
          await jitgates.get(k)!.stop();
          await settle({ allIdle: true, timeoutMs: 60_000 });
          await startVariant(scenario.engine, def.path as JitgatePath);
        }
        log(label);
        try {
          cases[i]!.samples.push(await def.run(endpoints.get(k)!));
        } catch (e) {
          if (isAborted()) return;
          const msg = String((e as Error)?.message ?? e).split('\n')[0]!;
          log(`${label}: ${msg}`);
          cases[i]!.errors.push(msg);
        }
      }
    }
  }

  noteRecordings();
  if (!missing.includes('recordings.enabled')) {
    for (const engine of engines) {
      if (jitgates.has(key(engine, 'jitgate')) && !recorded.has(engine)) {
        notes.push(`jitgate (masking + recording) wrote no recording files for ${engine === 'mysql' ? 'MySQL' : 'PostgreSQL'} sessions: recording is not applied by \`jitgate serve\` in this build`);
      }
    }
  }

  const servers = [pgVersion && `PostgreSQL ${pgVersion}`, bouncerVersion, mariadbVersion && `MariaDB ${mariadbVersion.replace(/-.*$/, '')}`].filter(Boolean).join(', ');
  const method = [
    engines.has('postgres') && `pgbench scale ${o.scale}, -j ${Math.min(2, o.clients)}`,
    engines.has('mysql') && `MySQL: ${ACCOUNT_ROWS.toLocaleString('en-US')}-row table, mysql2 load generator in a child process, token via jitgate's RSA key`,
  ].filter(Boolean).join('; ');
  const logins = [engines.has('postgres') && 'SCRAM', engines.has('mysql') && 'mysql_native_password'].filter(Boolean).join(' / ');
  const header = [
    `jitgate bench — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), node ${process.version}${servers ? `, ${servers}` : ''}`,
    `medians of ${o.runs} run${o.runs > 1 ? 's' : ''} × ${o.durationMs / 1000} s, ${method}, loopback, no TLS, ${logins} logins, jitgate ${jitgateCmd.mode === 'built' ? 'compiled' : 'from source (tsx)'}; paths alternate order per run${o.quick ? ' (--quick smoke run)' : ''}`,
  ];
  console.log(['', ...header, '', renderTable(results, { skipped }), ''].join('\n'));
  const targetsMet = targetLines(results);
  if (targetsMet.length) console.log(['targets (issue 6):', ...targetsMet.map((t) => `  ${t}`), ''].join('\n'));
  if (notes.length) console.log(['notes:', ...notes.map((n) => `  - ${n}`), ''].join('\n'));
  console.log(
    'proxy CPU: utime+stime of the proxy process (/proc/<pid>/stat) per transaction, or for the whole result; ' +
      'peak RSS: VmHWM, reset before each large result; idle: RSS growth ÷ sessions. PgBouncer pools server connections, so its connect figure is not comparable.' +
      (engines.has('mysql') ? ' MySQL notes: MariaDB = mariadbd CPU, client = the load generator\'s own CPU (per transaction, or for the whole result).' : ''),
  );
}

async function main(): Promise<number> {
  let o: BenchOptions | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    console.log(USAGE);
    return 0;
  }
  installSignalHandlers();
  try {
    await bench(o);
    return 0;
  } catch (e) {
    if (isAborted()) return 130;
    if (e instanceof BenchUsageError) {
      console.error(`bench: ${e.message}`);
      return 2;
    }
    console.error(`bench: ${(e as Error)?.stack ?? e}`);
    return 1;
  } finally {
    log('cleaning up…');
    await cleanupAll();
  }
}

process.exitCode = await main();
