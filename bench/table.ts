/** Medians, ratios and the one table the bench prints (Markdown, so it pastes into the README). */
import { PATH_LABELS, type PathId, type Sample } from './endpoints.js';
import type { Scenario, Unit } from './scenarios/index.js';

export interface CaseResult {
  path: PathId;
  variant?: string;
  samples: Sample[];
  errors: string[];
}

export interface ScenarioResult {
  scenario: Scenario;
  cases: CaseResult[];
  /** Why the scenario did not run (its database server is not installed). */
  skipped?: string;
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export interface Summary {
  value: number;
  cpuPerUnitUs: number;
  cpuMs: number;
  peakKB: number;
  serverCpuPerUnitUs: number;
  serverCpuMs: number;
  clientCpuPerUnitUs: number;
}

const perUnitUs = (ms: number | undefined, units: number | undefined) => (ms !== undefined && units ? (ms * 1000) / units : NaN);

export function summarize(c: CaseResult): Summary {
  return {
    value: median(c.samples.map((s) => s.value)),
    cpuPerUnitUs: median(c.samples.map((s) => perUnitUs(s.cpuMs, s.units))),
    cpuMs: median(c.samples.map((s) => s.cpuMs ?? NaN)),
    peakKB: median(c.samples.map((s) => s.peakKB ?? NaN)),
    serverCpuPerUnitUs: median(c.samples.map((s) => perUnitUs(s.serverCpuMs, s.units))),
    serverCpuMs: median(c.samples.map((s) => s.serverCpuMs ?? NaN)),
    clientCpuPerUnitUs: median(c.samples.map((s) => perUnitUs(s.clientCpuMs, s.units))),
  };
}

const higherIsBetter = (u: Unit) => u === 'tps' || u === 'rows/s';

function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatValue(v: number, unit: Unit): string {
  if (!Number.isFinite(v)) return '–';
  switch (unit) {
    case 'tps':
      return `${num(v)} tps`;
    case 'rows/s':
      return `${num(v / 1000)}k rows/s`;
    case 'ms/query':
      return `${num(v, 3)} ms`;
    case 'KB/session':
      return `${num(v, 1)} KB/session`;
  }
}

const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '–');

function caseLabel(c: { path: PathId; variant?: string }): string {
  return c.variant ? `${PATH_LABELS[c.path]}: ${c.variant}` : PATH_LABELS[c.path];
}

export function renderTable(results: ScenarioResult[], opts: { skipped: Set<PathId> }): string {
  const head = ['scenario', 'path', 'median', '× direct', '× PgBouncer', 'proxy CPU', 'proxy peak RSS', 'note'];
  const rows: string[][] = [];
  for (const { scenario, cases, skipped } of results) {
    if (skipped) {
      rows.push([scenario.title, 'all paths', 'skipped', '', '', '', '', skipped]);
      continue;
    }
    const sums = new Map(cases.map((c) => [c, summarize(c)]));
    const byPath = (p: PathId) => {
      const c = cases.find((x) => x.path === p && !x.variant);
      return c ? sums.get(c)!.value : NaN;
    };
    const hasPath = (p: PathId) => scenario.cases.some((x) => x.path === p);
    const direct = byPath('direct');
    const bouncer = byPath('pgbouncer');
    for (const c of cases) {
      const s = sums.get(c)!;
      const notes = [...new Set(c.samples.map((x) => x.note).filter((n): n is string => !!n))];
      if (c.errors.length) notes.push(`${c.errors.length} of ${c.errors.length + c.samples.length} runs failed: ${c.errors[0]}`);
      if (scenario.name === 'recording' && c.path === 'jitgate') notes.push(`recording on ÷ off: ${ratio(s.value, byPath('jitgate-norec'))}`);
      if (scenario.name === 'mask1k' && c.variant === '2 masked columns') {
        const plain = cases.find((x) => x.variant === 'no rule matches');
        const d = plain ? s.value - sums.get(plain)!.value : NaN;
        if (Number.isFinite(d)) notes.push(`masking adds ${d.toFixed(3)} ms per 1,000 rows`);
      }
      if (scenario.unit === 'rows/s') {
        if (Number.isFinite(s.value) && s.value > 0) notes.unshift(`${(c.samples[0]!.units! / s.value).toFixed(2)} s`);
      }
      // MySQL: mariadbd is one process, so the server's CPU can be shown too; and the load generator's own.
      const cpuNotes: string[] = [];
      if (scenario.unit === 'rows/s' ? Number.isFinite(s.serverCpuMs) : Number.isFinite(s.serverCpuPerUnitUs)) {
        cpuNotes.push(`MariaDB ${scenario.unit === 'rows/s' ? `${(s.serverCpuMs / 1000).toFixed(2)} s` : `${num(s.serverCpuPerUnitUs)} µs/txn`}`);
      }
      if (Number.isFinite(s.clientCpuPerUnitUs)) cpuNotes.push(`client ${num(s.clientCpuPerUnitUs)} µs/txn`);
      if (cpuNotes.length) notes.push(`CPU: ${cpuNotes.join(', ')}`);
      const proxied = c.path !== 'direct';
      const cpu =
        !proxied || !Number.isFinite(s.cpuMs)
          ? '–'
          : scenario.unit === 'rows/s'
            ? `${(s.cpuMs / 1000).toFixed(2)} s`
            : `${num(s.cpuPerUnitUs, 0)} µs/txn`;
      const withRatios = higherIsBetter(scenario.unit);
      rows.push([
        scenario.title,
        caseLabel(c),
        formatValue(s.value, scenario.unit),
        withRatios && hasPath('direct') ? (c.path === 'direct' ? '1.00' : ratio(s.value, direct)) : '',
        withRatios && scenario.engine === 'mysql' ? '–' : withRatios && hasPath('pgbouncer') ? (c.path === 'pgbouncer' ? '1.00' : ratio(s.value, bouncer)) : '',
        cpu,
        Number.isFinite(s.peakKB) ? `${num(s.peakKB / 1024, 1)} MB` : '',
        notes.join('; '),
      ]);
    }
    if (opts.skipped.has('pgbouncer') && scenario.cases.some((c) => c.path === 'pgbouncer')) {
      rows.push([scenario.title, PATH_LABELS.pgbouncer, 'skipped', '', '', '', '', 'not installed: apt-get install pgbouncer']);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The issue's targets, checked against this run's medians. */
export function targetLines(results: ScenarioResult[]): string[] {
  const out: string[] = [];
  const get = (name: string, path: PathId, variant?: string) => {
    const c = results.find((r) => r.scenario.name === name)?.cases.find((x) => x.path === path && x.variant === variant);
    return c && c.samples.length ? summarize(c) : undefined;
  };
  const check = (label: string, ok: boolean | undefined, figure: string) => {
    if (ok !== undefined) out.push(`${ok ? 'holds ' : 'missed'}  ${label}: ${figure}`);
  };
  for (const mode of ['simple', 'extended', 'prepared']) {
    const jg = get(mode, 'jitgate');
    const pb = get(mode, 'pgbouncer');
    if (jg && pb) check(`pgbench -S ${mode} ≥ 1.0 × PgBouncer`, jg.value >= pb.value, `${ratio(jg.value, pb.value)} ×`);
  }
  const cj = get('connect', 'jitgate');
  const cd = get('connect', 'direct');
  if (cj && cd) check('connect (-C) ≥ 1.0 × direct', cj.value >= cd.value, `${ratio(cj.value, cd.value)} ×`);
  const rj = get('rows-masked', 'jitgate');
  const rd = get('rows-masked', 'direct');
  if (rj && rd) check('large result, 2 masked columns ≥ 0.9 × direct rows/s', rj.value >= 0.9 * rd.value, `${ratio(rj.value, rd.value)} ×`);
  for (const name of ['rows', 'rows-masked']) {
    const r = get(name, 'jitgate');
    if (r && Number.isFinite(r.peakKB)) check(`${name}: proxy peak RSS ≤ 64 MB`, r.peakKB <= 64 * 1024, `${(r.peakKB / 1024).toFixed(1)} MB`);
  }
  const ij = get('idle', 'jitgate');
  if (ij && ij.value >= 0) check('idle sessions ≤ 16 KB of proxy RSS each', ij.value <= 16, `${ij.value.toFixed(1)} KB`);
  const on = get('recording', 'jitgate');
  const off = get('recording', 'jitgate-norec');
  if (on && off) check('recording on ≥ 0.95 × recording off', on.value >= 0.95 * off.value, `${ratio(on.value, off.value)} ×`);
  const m = get('mask1k', 'jitgate', '2 masked columns');
  const p = get('mask1k', 'jitgate', 'no rule matches');
  if (m && p) check('masking 1,000 rows adds < 1 ms', m.value - p.value < 1, `${(m.value - p.value).toFixed(3)} ms`);
  return out;
}
