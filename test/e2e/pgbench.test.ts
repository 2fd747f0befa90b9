/**
 * pgbench through the real `jitgate serve`: initialise as a writer session, then run the
 * select-only benchmark over the simple, extended and prepared protocols in new sessions,
 * and with a new connection (and ephemeral user) per transaction.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import {
  eventually,
  jitUsers,
  leakedSecrets,
  startServe,
  writeServeConfig,
  type ServeConfig,
  type ServeProcess,
} from '../helpers/serve-process.js';
import { PGBENCH, runTool, toolEnv, type ToolResult } from '../helpers/cli-tools.js';

let upstream: PgUpstream;
let cfg: ServeConfig;
let serve: ServeProcess;
const tokens: string[] = [];

before(async () => {
  upstream = await startPgUpstream();
  cfg = await writeServeConfig(upstream);
  serve = await startServe(cfg);
});

after(async () => {
  await serve?.stop('SIGKILL');
  cfg?.cleanup();
  await upstream?.stop();
});

async function pgbench(args: string[], role = 'writer'): Promise<ToolResult> {
  const token = await cfg.token('alice', role);
  tokens.push(token);
  return runTool(PGBENCH, ['-h', '127.0.0.1', '-p', String(serve.port), '-U', 'alice', ...args, 'app'], {
    env: toolEnv(token, { PGSSLMODE: 'require' }),
  });
}

/** Checks a benchmark run's report: transactions processed, none failed, no errors. */
function assertClean(r: ToolResult, label: string): number {
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 0, `${label}: exit code\n${out}`);
  const processed = /number of transactions actually processed: (\d+)/.exec(out);
  assert.ok(processed, `${label}: no processed count\n${out}`);
  assert.ok(Number(processed[1]) > 0, `${label}: processed ${processed[1]}`);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (failed) assert.equal(Number(failed[1]), 0, `${label}: failed transactions\n${out}`);
  assert.doesNotMatch(out, /\berror\b|FATAL|aborted/i, `${label}: errors reported\n${out}`);
  return Number(processed[1]);
}

const PGBENCH_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'pgbench_tellers'];

async function tableOwners(): Promise<Record<string, string>> {
  const r = await upstream.query<{ tablename: string; tableowner: string }>(
    `SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'pgbench\\_%' ORDER BY 1`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.tablename, x.tableowner]));
}

test('pgbench -i -s 1 as a writer session creates the tables, then owned by the owner role', async () => {
  const r = await pgbench(['-i', '-s', '1']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /done in/);
  assert.doesNotMatch(r.stderr, /error|FATAL/i);
  // The session has ended: its objects now belong to the profile's role.
  assert.ok(await eventually(async () => (await jitUsers(upstream)).length === 0, 5_000), 'ephemeral user dropped');
  const owners = await tableOwners();
  assert.deepEqual(Object.keys(owners), PGBENCH_TABLES);
  for (const t of PGBENCH_TABLES) assert.equal(owners[t], upstream.roles.app_write, `${t} owner`);
  const n = await upstream.query<{ n: string }>('SELECT count(*) AS n FROM pgbench_accounts');
  assert.equal(Number(n.rows[0]!.n), 100_000);
});

for (const mode of ['simple', 'extended', 'prepared']) {
  test(`pgbench -S -M ${mode} -T 5 -c 4 -j 2 in a new session: no failed transaction`, async (t) => {
    const r = await pgbench(['-S', '-M', mode, '-T', '5', '-c', '4', '-j', '2']);
    t.diagnostic(`processed ${assertClean(r, mode)} transactions`);
    assert.match(r.stdout, new RegExp(`query mode: ${mode}`));
    const owners = await tableOwners();
    assert.deepEqual(Object.keys(owners), PGBENCH_TABLES, 'the tables of the first session are still there');
    for (const t of PGBENCH_TABLES) assert.equal(owners[t], upstream.roles.app_write);
  });
}

test('pgbench -S -C -T 3 -c 2: a new ephemeral user per transaction, none left afterwards', async (t) => {
  const provisioned = () => serve.logs().filter((l) => l.event === 'user.provisioned').length;
  const before = provisioned();
  const r = await pgbench(['-S', '-C', '-T', '3', '-c', '2']);
  const processed = assertClean(r, 'connect-per-transaction');
  const created = provisioned() - before;
  t.diagnostic(`processed ${processed} transactions with ${created} ephemeral users`);
  assert.ok(created >= processed, `${created} users provisioned for ${processed} transactions`);
  assert.ok(await eventually(async () => (await jitUsers(upstream)).length === 0, 5_000), `left: ${await jitUsers(upstream)}`);
});

test('no secret reached the serve log', () => {
  assert.deepEqual(leakedSecrets(serve.stdout() + serve.stderr(), { tokens, passwords: [cfg.adminPassword] }), []);
});
