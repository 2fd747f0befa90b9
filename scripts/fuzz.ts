/**
 * `npm run fuzz -- [--frames N] [--proxy-frames M] [--mysql-proxy-frames K] [--seed S]`: long fuzzing runs.
 * N mutated frames through every decoder and the framer (default 200,000), then M through an
 * in-process proxy in front of an embedded PostgreSQL (default N/100, at most 20,000).
 * MySQL: N mutated packets through each protocols/mysql decoder and the relay's ResponseTracker
 * (frames/s per decoder), then K (default M) to the MySQL listener of a proxy in front of the
 * local MariaDB.
 * Prints frames/s, crashes, hangs and heap; failing inputs land in test/hostile/regressions/
 * (MySQL: regressions/mysql/), which the suite replays. Exit 1 when anything failed.
 */
import { parseArgs } from 'node:util';
import { startBench } from '../test/hostile/harness.js';
import { fuzzDecoders, fuzzProxy, REGRESSIONS, type FuzzReport } from '../test/hostile/fuzz/run.js';
import { startMysqlBench } from '../test/hostile/harness-mysql.js';
import { MysqlWire } from '../test/hostile/mysql-wire.js';
import { decoders as mysqlDecoders, fuzzMysqlDecoders, fuzzMysqlProxy, MYSQL_REGRESSIONS, type MysqlFuzzReport } from '../test/hostile/fuzz/mysql-run.js';

const { values } = parseArgs({
  options: { frames: { type: 'string' }, 'proxy-frames': { type: 'string' }, 'mysql-proxy-frames': { type: 'string' }, seed: { type: 'string' } },
});
const frames = Number(values.frames ?? 200_000);
const proxyFrames = Number(values['proxy-frames'] ?? Math.min(20_000, Math.max(200, Math.floor(frames / 100))));
const mysqlProxyFrames = Number(values['mysql-proxy-frames'] ?? proxyFrames);
const seed = Number(values.seed ?? (Date.now() % 2 ** 31));
if (!Number.isSafeInteger(frames) || frames < 1 || !Number.isSafeInteger(proxyFrames) || proxyFrames < 0 || !Number.isSafeInteger(mysqlProxyFrames) || mysqlProxyFrames < 0) {
  console.error('usage: npm run fuzz -- [--frames N] [--proxy-frames M] [--mysql-proxy-frames K] [--seed S]');
  process.exit(2);
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
/** What a report line needs (PostgreSQL and MySQL reports alike). */
type ReportLine = Pick<FuzzReport, 'target' | 'frames' | 'ms' | 'heapBefore' | 'heapAfter'> & { failures: unknown[] };
const line = (r: ReportLine) =>
  `${r.target.padEnd(9)} ${String(r.frames).padStart(9)} frames  ${Math.round((r.frames / r.ms) * 1000).toLocaleString('en').padStart(9)} frames/s  ` +
  `failures ${r.failures.length}  heap ${mb(r.heapBefore)} → ${mb(r.heapAfter)}`;

console.log(`fuzz: seed ${seed}, ${frames} decoder frames, ${proxyFrames} proxy frames, MySQL: ${frames} frames per decoder, ${mysqlProxyFrames} proxy frames`);
const reports: FuzzReport[] = [];
// Decoders in slices, so a hang shows where it happened and heap growth is visible.
const slice = 50_000;
let done = 0;
const total: FuzzReport = { target: 'decoders', frames: 0, ms: 0, failures: [], heapBefore: process.memoryUsage().heapUsed, heapAfter: 0 };
while (done < frames) {
  const n = Math.min(slice, frames - done);
  const r = fuzzDecoders(n, seed + done);
  total.frames += r.frames;
  total.ms += r.ms;
  total.failures.push(...r.failures);
  done += n;
  if (frames > slice) process.stdout.write(`\r  decoders ${done}/${frames}  heap ${mb(process.memoryUsage().heapUsed)}   `);
}
if (frames > slice) process.stdout.write('\n');
total.heapAfter = process.memoryUsage().heapUsed;
reports.push(total);

if (proxyFrames > 0) {
  const b = await startBench();
  try {
    const r = await fuzzProxy(b, proxyFrames, seed, { concurrency: 8 });
    await b.invariants().catch((e) => r.failures.push({ target: 'proxy-session', seed, error: `invariant: ${(e as Error).message}`, frames: [] }));
    reports.push(r);
  } finally {
    await b.stop();
  }
}

// MySQL: every decoder on its own, so frames/s is per decoder; in slices, as above.
const mysqlReports: MysqlFuzzReport[] = [];
for (const name of [...mysqlDecoders.map((d) => d.name), 'ResponseTracker']) {
  const total: MysqlFuzzReport = { target: name, frames: 0, ms: 0, failures: [], heapBefore: process.memoryUsage().heapUsed, heapAfter: 0 };
  for (let at = 0; at < frames; at += slice) {
    const r = fuzzMysqlDecoders(Math.min(slice, frames - at), seed + at, { only: name });
    total.frames += r.frames;
    total.ms += r.ms;
    total.failures.push(...r.failures);
    if (frames > slice) process.stdout.write(`\r  mysql ${name} ${at + r.frames}/${frames}  heap ${mb(process.memoryUsage().heapUsed)}   `);
  }
  if (frames > slice) process.stdout.write('\n');
  total.heapAfter = process.memoryUsage().heapUsed;
  mysqlReports.push(total);
}

if (mysqlProxyFrames > 0) {
  const b = await startMysqlBench();
  try {
    const r = await fuzzMysqlProxy(b, mysqlProxyFrames, seed, { concurrency: 8 });
    MysqlWire.destroyAll();
    await b.invariants().catch((e) => r.failures.push({ target: 'mysql-proxy-session', seed, error: `invariant: ${(e as Error).message}`, frames: [] }));
    const left = await b.usersLeft();
    if (left.length) r.failures.push({ target: 'mysql-proxy-session', seed, error: `ephemeral users left: ${left.join(', ')}`, frames: [] });
    mysqlReports.push(r);
  } finally {
    MysqlWire.destroyAll();
    await b.stop();
  }
}

for (const r of reports) console.log(line(r));
for (const r of mysqlReports) console.log(`mysql ${r.target.padEnd(20)} ${line({ ...r, target: '' }).trimStart()}`);
const failures: { target: string; error: string }[] = [...reports.flatMap((r) => r.failures), ...mysqlReports.flatMap((r) => r.failures)];
const hangs = failures.filter((f) => /did not close|timed out/.test(f.error)).length;
const mysqlFailed = mysqlReports.some((r) => r.failures.length);
console.log(
  `crashes ${failures.length - hangs}, hangs ${hangs}${failures.length ? `; inputs written to ${[REGRESSIONS, ...(mysqlFailed ? [MYSQL_REGRESSIONS] : [])].join(' and ')}` : ''}`,
);
for (const f of failures.slice(0, 5)) console.log(`  ${f.target}: ${f.error.split('\n')[0]}`);
process.exit(failures.length ? 1 : 0);
