import { configFrom, parseFlags } from '../args.js';
import type { CheckReport } from '../../provision/check-report.js';
import { checkPostgresTarget } from '../../provision/postgres-setup.js';
import { checkMysqlTarget } from '../../provision/mysql-setup.js';

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function printReport(r: CheckReport, where: string): void {
  console.log(`target ${r.target} (${r.protocol} ${where}): ${r.ready ? 'ready' : 'NOT ready'}`);
  for (const item of r.items) {
    const note = item.note ? ` — ${item.warn ? 'warning: ' : ''}${item.note}` : '';
    console.log(`  ${item.ok ? '✓' : '✗'} ${item.label}${note}`);
  }
  const fixes = [...new Set(r.items.filter((i) => !i.ok && i.fix).map((i) => i.fix!))];
  if (fixes.length) {
    console.log('  fix (run as a superuser on the upstream):');
    console.log(indent(fixes.join('\n'), '    '));
  }
}

/** `jitgate check --config FILE`: exit 0 when every checked target is ready, 1 when not, 2 for bad config. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' } });
  const config = configFrom(values.config);
  let ready = true;
  for (const [name, target] of Object.entries(config.targets)) {
    const report = target.protocol === 'mysql' ? await checkMysqlTarget(name, target) : await checkPostgresTarget(name, target);
    printReport(report, `${target.host}:${target.port ?? (target.protocol === 'mysql' ? 3306 : 5432)}/${target.database}`);
    ready &&= report.ready;
  }
  console.log(ready ? 'all checked targets are ready' : 'some targets are not ready');
  return ready ? 0 : 1;
}
