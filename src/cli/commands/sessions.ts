import { UsageError } from '../../errors.js';
import { listRecordings, type RecordingListing } from '../../recording/list.js';
import { configFrom, parseFlags } from '../args.js';

const columns: [string, (r: RecordingListing) => string][] = [
  ['ID', (r) => r.id],
  ['SUB', (r) => r.sub],
  ['TARGET', (r) => r.target],
  ['ROLE', (r) => r.role],
  ['PROTOCOL', (r) => r.protocol],
  ['START', (r) => r.start],
  ['END', (r) => r.end ?? '-'],
  ['BYTES', (r) => (r.bytes === null ? '-' : String(r.bytes))],
  ['STATEMENTS', (r) => (r.statements === null ? '-' : String(r.statements))],
  ['STATUS', (r) => r.status],
];

/** `jitgate sessions list --config FILE [--json]`: one line per recorded session, oldest first. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' } }, true);
  if (positionals.length !== 1 || positionals[0] !== 'list') {
    throw new UsageError('usage: jitgate sessions list --config FILE [--json]');
  }
  const config = configFrom(values.config);
  const rows = await listRecordings(config.recordings.dir);
  if (values.json) {
    process.stdout.write(rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return 0;
  }
  if (rows.length === 0) {
    console.log(`no recordings in ${config.recordings.dir}`);
    return 0;
  }
  const cells = rows.map((r) => columns.map(([, f]) => f(r)));
  const widths = columns.map(([h], c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns.map(([h]) => h))}\n${cells.map(line).join('\n')}\n`);
  return 0;
}
