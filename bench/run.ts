/**
 * `npm run bench`: jitgate against direct connections and PgBouncer, side by side in one
 * run, on loopback. Starts an embedded PostgreSQL, PgBouncer and `jitgate serve`
 * processes, runs each scenario on each path with the order of paths alternating per
 * run, and prints one table of medians. Everything it starts is removed on exit or Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { cleanupAll, installSignalHandlers, isAborted, onCleanup } from './cleanup.js';
import { prepareJitgate, removeBuild } from './setup/build.js';
import { PATH_LABELS, type Endpoint, type PathId } from './endpoints.js';
import { BenchUsageError, parseOptions, USAGE, type BenchOptions } from './options.js';
import { buildScenarios } from './scenarios/index.js';
import { PGBOUNCER_MISSING, pgbouncerAvailable, startPgBouncer } from './setup/pgbouncer.js';
import { recordingFiles, startJitgate, unsupportedKeys, type Jitgate, type JitgateVariant } from './setup/jitgate.js';
import { BENCH_USER, DATABASE, startUpstream } from './setup/upstream.js';
import { renderTable, targetLines, type CaseResult, type ScenarioResult } from './table.js';

const log = (s: string) => console.error(`bench: ${s}`);

const JITGATE_VARIANTS: Record<Exclude<PathId, 'direct' | 'pgbouncer'>, JitgateVariant> = {
  jitgate: { masking: true, recording: true },
  'jitgate-bare': { masking: false, recording: false },
  'jitgate-norec': { masking: true, recording: false },
};

function prerequisites(): void {
  for (const bin of ['pgbench']) {
    try {
      execFileSync(bin, ['--version'], { stdio: 'ignore' });
    } catch {
      throw new BenchUsageError(`${bin} not found: install the PostgreSQL client tools (apt-get install postgresql-client)`);
    }
  }
  if (process.platform !== 'linux') throw new BenchUsageError('the bench reads CPU and memory from /proc: run it on Linux');
}

async function bench(o: BenchOptions): Promise<void> {
  prerequisites();
  const scenarios = buildScenarios(o);
  const needed = new Set(scenarios.flatMap((s) => s.cases.map((c) => c.path)));
  const skipped = new Set<PathId>();
  const notes: string[] = [];
  if (needed.has('pgbouncer') && !pgbouncerAvailable()) {
    log(PGBOUNCER_MISSING);
    skipped.add('pgbouncer');
    notes.push(`PgBouncer column skipped: ${PGBOUNCER_MISSING}`);
  }
  const missing = unsupportedKeys();
  if (missing.length) notes.push(`this build's config schema lacks ${missing.join(', ')}: left out of the jitgate configs`);

  log('compiling jitgate from the working tree…');
  const jitgateCmd = await prepareJitgate(o.fromSource);
  onCleanup('jitgate build', removeBuild);
  if (jitgateCmd.note) notes.push(jitgateCmd.note);

  const upstream = await startUpstream({ scale: o.scale, maxConnections: o.idle + 300, log });
  const endpoints = new Map<PathId, Endpoint>();
  const base = { host: '127.0.0.1', user: BENCH_USER, database: DATABASE };
  endpoints.set('direct', { ...base, id: 'direct', port: upstream.port, password: upstream.benchPassword });
  let bouncerVersion = '';
  if (needed.has('pgbouncer') && !skipped.has('pgbouncer')) {
    log('starting PgBouncer (session mode, SCRAM pass-through)…');
    const b = await startPgBouncer(upstream, { maxClients: o.idle + 100 });
    bouncerVersion = b.version;
    endpoints.set('pgbouncer', { ...base, id: 'pgbouncer', port: b.port, password: upstream.benchPassword, pid: b.pid });
  }
  const jitgates = new Map<PathId, Jitgate>();
  for (const [id, variant] of Object.entries(JITGATE_VARIANTS) as [PathId, JitgateVariant][]) {
    if (!needed.has(id)) continue;
    log(`starting jitgate serve: ${PATH_LABELS[id]}…`);
    const j = await startJitgate(jitgateCmd, upstream, id, variant, { maxSessions: o.idle + 100 });
    jitgates.set(id, j);
    endpoints.set(id, { ...base, id, port: j.port, password: j.token, pid: j.pid });
  }

  // Whether the recording jitgate wrote anything (checked before it is restarted, and at the end).
  let recorded = false;
  const noteRecordings = () => {
    const j = jitgates.get('jitgate');
    if (j && recordingFiles(j) > 0) recorded = true;
  };

  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const cases: CaseResult[] = scenario.cases.filter((c) => !skipped.has(c.path)).map((c) => ({ path: c.path, variant: c.variant, samples: [], errors: [] }));
    const defs = scenario.cases.filter((c) => !skipped.has(c.path));
    results.push({ scenario, cases });
    for (let run = 0; run < o.runs; run++) {
      const order = defs.map((_, i) => i);
      if (run % 2 === 1) order.reverse();
      for (const i of order) {
        if (isAborted()) return;
        const def = defs[i]!;
        const label = `${scenario.name} · ${PATH_LABELS[def.path]}${def.variant ? `: ${def.variant}` : ''} · run ${run + 1}/${o.runs}`;
        if (!(await upstream.quiesce({ allIdle: def.quiesceAll, timeoutMs: def.quiesceAll ? 60_000 : 30_000 }))) {
          log(`${label}: the server did not settle (ephemeral users or sessions left); measuring anyway`);
        }
        if (def.freshProcess && jitgates.has(def.path)) {
          noteRecordings();
          await jitgates.get(def.path)!.stop();
          await upstream.quiesce({ allIdle: true, timeoutMs: 60_000 });
          const j = await startJitgate(jitgateCmd, upstream, def.path, JITGATE_VARIANTS[def.path as keyof typeof JITGATE_VARIANTS], { maxSessions: o.idle + 100 });
          jitgates.set(def.path, j);
          endpoints.set(def.path, { ...base, id: def.path, port: j.port, password: j.token, pid: j.pid });
        }
        log(label);
        try {
          cases[i]!.samples.push(await def.run(endpoints.get(def.path)!));
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
  if (jitgates.has('jitgate') && !missing.includes('recordings.enabled')) {
    if (!recorded) notes.push('jitgate (masking + recording) wrote no recording files: recording is not applied by `jitgate serve` in this build');
  }
  const pgVersion = (await upstream.query<{ v: string }>(`SELECT current_setting('server_version') AS v`))[0]!.v;

  const header = [
    `jitgate bench — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, PostgreSQL ${pgVersion}${bouncerVersion ? `, ${bouncerVersion}` : ''}`,
    `medians of ${o.runs} run${o.runs > 1 ? 's' : ''} × ${o.durationMs / 1000} s, pgbench scale ${o.scale}, -j ${Math.min(2, o.clients)}, loopback, no TLS, SCRAM logins, jitgate ${jitgateCmd.mode === 'built' ? 'compiled' : 'from source (tsx)'}; paths alternate order per run${o.quick ? ' (--quick smoke run)' : ''}`,
  ];
  console.log(['', ...header, '', renderTable(results, { skipped }), ''].join('\n'));
  const targets = targetLines(results);
  if (targets.length) console.log(['targets (issue 6):', ...targets.map((t) => `  ${t}`), ''].join('\n'));
  if (notes.length) console.log(['notes:', ...notes.map((n) => `  - ${n}`), ''].join('\n'));
  console.log(
    'proxy CPU: utime+stime of the proxy process (/proc/<pid>/stat) per transaction, or for the whole result; ' +
      'peak RSS: VmHWM, reset before each large result; idle: RSS growth ÷ sessions. PgBouncer pools server connections, so its connect figure is not comparable.',
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
