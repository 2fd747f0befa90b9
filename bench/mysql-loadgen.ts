/**
 * A closed-loop MySQL load generator, run as a child process of the bench (so that it does
 * not share an event loop with the bench, and its CPU shows apart from jitgate's).
 * mariadb-slap cannot drive jitgate: it logs in without a database and sends USE afterwards,
 * while jitgate picks the target from the database named in HandshakeResponse41.
 *
 *   node --import tsx bench/mysql-loadgen.ts '<spec as JSON>'   (password in JITGATE_BENCH_MYSQL_PASSWORD)
 *
 * Modes: `point`: `clients` connections opened first, then each sends point selects by
 * primary key, one at a time, for `durationMs`. `connect`: `clients` workers each open a
 * connection, send one point select, and quit (COM_QUIT), over and over.
 * Prints one JSON line: { txns, seconds, latencyMs, cpuMs } or { error }.
 * Without `tls`, the token travels to jitgate encrypted with jitgate's RSA key.
 */
import mysql from 'mysql2';

export interface LoadSpec {
  mode: 'point' | 'connect';
  host: string;
  port: number;
  user: string;
  database: string;
  table: string;
  /** Ids are drawn uniformly from 1..rows. */
  rows: number;
  clients: number;
  durationMs: number;
  /** TLS without certificate checks (jitgate's self-signed certificate): the token travels in clear inside it. */
  tls?: boolean;
}

export interface LoadResult {
  txns: number;
  seconds: number;
  latencyMs: number;
  /** This process's CPU (user + system) over the measurement. */
  cpuMs: number;
}

export const PASSWORD_ENV = 'JITGATE_BENCH_MYSQL_PASSWORD';

function connect(spec: LoadSpec, password: string): mysql.Connection {
  return mysql.createConnection({
    host: spec.host,
    port: spec.port,
    user: spec.user,
    password,
    database: spec.database,
    rowsAsArray: true,
    connectTimeout: 15_000,
    ...(spec.tls ? { ssl: { rejectUnauthorized: false } } : {}),
  });
}

const pointSql = (spec: LoadSpec) => `SELECT balance FROM ${spec.table} WHERE id = ${1 + Math.floor(Math.random() * spec.rows)}`;

function query(c: mysql.Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => c.query(sql, (err) => (err ? reject(err) : resolve())));
}

function end(c: mysql.Connection): Promise<void> {
  return new Promise((resolve, reject) => c.end((err) => (err ? reject(err) : resolve())));
}

async function run(spec: LoadSpec, password: string): Promise<LoadResult> {
  let txns = 0;
  let latencyNs = 0n;
  let stop = false;
  const conns: mysql.Connection[] = [];
  if (spec.mode === 'point') {
    for (let i = 0; i < spec.clients; i++) conns.push(connect(spec, password));
    await Promise.all(conns.map((c) => query(c, 'SELECT 1')));
  }
  const worker = async (i: number) => {
    while (!stop) {
      const t0 = process.hrtime.bigint();
      if (spec.mode === 'point') {
        await query(conns[i]!, pointSql(spec));
      } else {
        const c = connect(spec, password);
        try {
          await query(c, pointSql(spec));
          await end(c);
        } catch (e) {
          c.destroy();
          throw e;
        }
      }
      if (stop) break; // finished after the deadline: not counted
      latencyNs += process.hrtime.bigint() - t0;
      txns++;
    }
  };
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const timer = setTimeout(() => (stop = true), spec.durationMs);
  try {
    await Promise.all(Array.from({ length: spec.clients }, (_, i) => worker(i)));
  } finally {
    clearTimeout(timer);
    stop = true;
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = Math.min(Number(process.hrtime.bigint() - started) / 1e9, spec.durationMs / 1000);
  await Promise.all(conns.map((c) => end(c).catch(() => c.destroy())));
  return { txns, seconds, latencyMs: txns ? Number(latencyNs / BigInt(txns)) / 1e6 : NaN, cpuMs: (cpu.user + cpu.system) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  const password = process.env[PASSWORD_ENV] ?? '';
  try {
    process.stdout.write(JSON.stringify(await run(spec, password)) + '\n');
    process.exit(0);
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String((e as Error)?.message ?? e).split('\n')[0] }) + '\n');
    process.exit(1);
  }
}
