/**
 * psql (libpq 15) through the real `jitgate serve`: TLS and plain logins, a script whose
 * output matches psql run directly against the upstream, and query cancel with Ctrl-C.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
import { conninfo, PSQL, runTool, startTool, toolEnv } from '../helpers/cli-tools.js';

let upstream: PgUpstream;
let cfg: ServeConfig;
let serve: ServeProcess;
let token: string;
let work: string;
const tokens: string[] = [];

before(async () => {
  upstream = await startPgUpstream();
  cfg = await writeServeConfig(upstream);
  serve = await startServe(cfg);
  token = await cfg.token('alice', 'writer');
  tokens.push(token);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-e2e-psql-'));
});

after(async () => {
  await serve?.stop('SIGKILL');
  cfg?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
  await upstream?.stop();
});

const viaProxy = (sslmode: string, port = serve.port) => conninfo({ port, dbname: 'app', user: 'alice', sslmode });

async function psql(conn: string, args: string[], password = token, cwd?: string) {
  return runTool(PSQL, ['-X', conn, ...args], { env: toolEnv(password), cwd });
}

test('psql with sslmode=require logs in over TLS as a jit_ user', async () => {
  const r = await psql(viaProxy('require'), ['-At', '-c', 'select current_user', '-c', '\\conninfo']);
  assert.equal(r.code, 0, r.stderr);
  const user = r.stdout.split('\n')[0]!;
  assert.match(user, /^jit_[a-z0-9_]+$/);
  assert.ok(user.length <= 32);
  assert.match(r.stdout, /as user "alice"/);
  assert.match(r.stdout, /^SSL connection \(protocol: TLS/m);
  assert.equal(r.stderr, '');
});

test('psql with sslmode=disable works when tls.require is false', async () => {
  const r = await psql(viaProxy('disable'), ['-At', '-c', 'select current_user', '-c', '\\conninfo']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.split('\n')[0]!, /^jit_/);
  assert.match(r.stdout, /as user "alice"/);
  assert.doesNotMatch(r.stdout, /SSL connection/);
});

test('with tls.require true, sslmode=disable is refused with an error and sslmode=require works', async () => {
  const strict = await writeServeConfig(upstream, { tls: { require: true } });
  const p = await startServe(strict);
  try {
    const t = await strict.token('alice', 'reader');
    tokens.push(t);
    const refused = await psql(viaProxy('disable', p.port), ['-At', '-c', 'select 1'], t);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /FATAL:  .*TLS/);
    assert.doesNotMatch(refused.stderr, /server closed the connection unexpectedly/);
    const ok = await psql(viaProxy('require', p.port), ['-At', '-c', 'select current_user'], t);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^jit_/);
    assert.deepEqual(leakedSecrets(p.stdout() + p.stderr(), { tokens: [t], passwords: [strict.adminPassword] }), []);
  } finally {
    await p.stop();
    strict.cleanup();
  }
});

const SCRIPT = String.raw`\set ON_ERROR_STOP 0
create table items (id int primary key, name text not null, price numeric(10,2));
\copy items from 'in.csv' with (format csv, header true)
select * from items order by id;
\d items
\pset format unaligned
\dt
select current_user;
\pset format aligned
do $$ begin raise notice 'items: %', (select count(*) from items); end $$;
select 1/0;
select nosuchcolumn from items;
insert into items values (1, 'dup', 0);
update items set price = price * 2 where id < 3 returning id, price;
\copy (select id, name from items where id > 1 order by id) to 'out.csv' with (format csv)
\copy items to stdout with (format csv)
begin;
insert into items values (10, 'ten', 10);
select 1/0;
select 1;
rollback;
select count(*) as n, sum(price) as total from items;
prepare q(int) as select name from items where id = $1;
execute q(2);
drop table items;
`;

const CSV = 'id,name,price\n1,apple,1.50\n2,"pear, green",2.25\n3,"quote ""q""",\n4,ünïcödé,9999.99\n';

function normalise(text: string, user: string): string {
  return text.replaceAll(user, '<user>').replace(/\bjit_[a-z0-9_]+/g, '<user>');
}

test('a psql script (\\copy in/out, \\d, NOTICE, errors with ON_ERROR_STOP=0) gives the same output as psql run directly upstream', async () => {
  const proxyDir = path.join(work, 'proxy');
  const directDir = path.join(work, 'direct');
  for (const d of [proxyDir, directDir]) {
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'script.sql'), SCRIPT);
    fs.writeFileSync(path.join(d, 'in.csv'), CSV);
  }
  const args = ['-v', 'ON_ERROR_STOP=0', '-f', 'script.sql'];
  const viaJitgate = await psql(viaProxy('require'), args, token, proxyDir);

  const su = new URL(upstream.superUrl);
  const direct = await psql(
    conninfo({ host: su.hostname, port: Number(su.port), dbname: upstream.database, user: decodeURIComponent(su.username) }),
    args,
    decodeURIComponent(su.password),
    directDir,
  );
  const directUser = decodeURIComponent(su.username);

  assert.equal(viaJitgate.code, direct.code, `exit codes\nvia jitgate:\n${viaJitgate.stderr}`);
  assert.equal(normalise(viaJitgate.stdout, directUser), normalise(direct.stdout, directUser));
  assert.equal(normalise(viaJitgate.stderr, directUser), normalise(direct.stderr, directUser));
  assert.equal(
    fs.readFileSync(path.join(proxyDir, 'out.csv'), 'utf8'),
    fs.readFileSync(path.join(directDir, 'out.csv'), 'utf8'),
  );
  // The script really ran what it claims (not two identical failures).
  assert.match(viaJitgate.stdout, /COPY 4/);
  assert.match(viaJitgate.stdout, /public\|items\|table\|<user>|public\|items\|table\|jit_/);
  assert.match(viaJitgate.stderr, /NOTICE:  items: 4/);
  assert.match(viaJitgate.stderr, /ERROR:  division by zero/);
  assert.match(viaJitgate.stderr, /current transaction is aborted/);
  assert.match(viaJitgate.stdout, /EXECUTE|pear, green/);
});

test('Ctrl-C in psql cancels a running query through jitgate', async () => {
  const run = startTool(PSQL, ['-X', viaProxy('require'), '-c', 'select pg_sleep(30)'], { env: toolEnv(token) });
  const active = await eventually(async () => {
    const r = await upstream.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = 'select pg_sleep(30)'`);
    return r.rowCount === 1;
  }, 15_000, 100);
  assert.ok(active, 'the query reached the upstream');
  await new Promise((r) => setTimeout(r, 1000));
  run.child.kill('SIGINT');
  const r = await run.done;
  assert.match(r.stderr, /canceling statement due to user request/);
  assert.equal(r.code, 1);
  // pg_sleep(30) was cut short; the bound is loose on purpose.
  assert.ok(r.ms < 20_000, `psql ran ${r.ms} ms`);
});

test('no ephemeral user is left and no secret reached the serve log', async () => {
  assert.ok(await eventually(async () => (await jitUsers(upstream)).length === 0, 5_000), `left: ${await jitUsers(upstream)}`);
  const logs = serve.stdout() + serve.stderr();
  assert.deepEqual(leakedSecrets(logs, { tokens, passwords: [cfg.adminPassword] }), []);
  assert.ok(serve.logs().some((l) => l.event === 'cancel.sent'), 'the cancel went through jitgate');
});
