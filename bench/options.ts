/** `npm run bench` flags. */
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/util/duration.js';

export const SCENARIOS = [
  'simple',
  'extended',
  'prepared',
  'connect',
  'rows',
  'rows-masked',
  'mask1k',
  'recording',
  'idle',
  'my-point',
  'my-connect',
  'my-rows',
  'my-rows-masked',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  durationMs: number;
  runs: number;
  clients: number;
  scale: number;
  rows: number;
  idle: number;
  quick: boolean;
  fromSource: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]
  --scenarios a,b,c   any of ${SCENARIOS.join(', ')} (default: all;
                      my-* are MySQL: an embedded MariaDB, jitgate with a MySQL target)
  --duration 20s      length of each pgbench / MySQL load generator run
  --runs 3            runs per scenario and path (the table shows medians)
  --clients 8         clients for simple/extended/prepared and my-point (connect and my-connect use half)
  --scale 10          pgbench scale
  --rows 1000000      rows in the large-result scenarios (rows, rows-masked, my-rows, my-rows-masked)
  --idle 1000         idle sessions held open in the idle scenario
  --from-source       run jitgate through tsx instead of compiling it first
  --quick             smoke run: --duration 3s --runs 1 --idle 200 unless given`;

export class BenchUsageError extends Error {}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${flag}: expected a positive integer, got "${v}"`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string' },
      clients: { type: 'string' },
      scale: { type: 'string' },
      rows: { type: 'string' },
      idle: { type: 'string' },
      quick: { type: 'boolean' },
      'from-source': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  let scenarios: ScenarioName[] = [...SCENARIOS];
  if (values.scenarios !== undefined) {
    const names = values.scenarios.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
    if (bad.length || names.length === 0) throw new BenchUsageError(`--scenarios: unknown ${bad.join(', ') || '(empty)'}; pick from ${SCENARIOS.join(', ')}`);
    scenarios = SCENARIOS.filter((s) => names.includes(s));
  }
  let durationMs: number;
  try {
    durationMs = parseDuration(values.duration ?? (quick ? '3s' : '20s'));
  } catch (e) {
    throw new BenchUsageError(`--duration: ${(e as Error).message}`);
  }
  if (durationMs < 1000 || durationMs % 1000 !== 0) throw new BenchUsageError('--duration: whole seconds, at least 1s');
  return {
    scenarios,
    durationMs,
    runs: positiveInt(values.runs ?? (quick ? '1' : '3'), 'runs'),
    clients: positiveInt(values.clients ?? '8', 'clients'),
    scale: positiveInt(values.scale ?? '10', 'scale'),
    rows: positiveInt(values.rows ?? '1000000', 'rows'),
    idle: positiveInt(values.idle ?? (quick ? '200' : '1000'), 'idle'),
    quick,
    fromSource: values['from-source'] ?? false,
  };
}
