/**
 * Recording through the real proxy: a scripted psql session (simple queries, COPY both ways,
 * an error, a notice) and a node-postgres session (extended protocol with parameters), then
 * `sessions list`, `replay` (text and JSON), `verify`, `replay --follow` on a live session, and
 * fail-closed sessions when the recording cannot be written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { recorderFactory } from '../../src/recording/pipeline.js';
import type { SegmentFile } from '../../src/recording/recorder.js';
import { readIndex } from '../../src/recording/index-file.js';
import { jitgate, jitgateStreaming } from './cli.js';
import { waitFor } from './fixtures.js';

let upstream: PgUpstream;
let proxy: TestProxy;
let env: NodeJS.ProcessEnv;
let configFile: string;

before(async () => {
  upstream = await startPgUpstream();
  await upstream.query(`CREATE TABLE items (id int PRIMARY KEY, name text, secret_note text)`);
  await upstream.query(`INSERT INTO items VALUES (1, 'alpha', 'n1'), (2, 'beta', NULL), (3, 'gamma', 'n3')`);
  await upstream.query(`GRANT SELECT, INSERT ON items TO app_write`);
  await upstream.query(`GRANT SELECT ON items TO app_read`);
  proxy = await startTestProxy(upstream);
  configFile = path.join(proxy.dir, 'jitgate.yaml');
  env = { ...process.env, TEST_ADMIN_PASSWORD: upstream.adminPassword };
});

after(async () => {
  await proxy?.stop();
  await upstream?.stop();
});

function psql(token: string, sub: string, script: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'psql',
      ['-X', '-v', 'ON_ERROR_STOP=0', `host=127.0.0.1 port=${proxy.port} dbname=app user=${sub} sslmode=require`],
      { env: { ...process.env, PGPASSWORD: token }, timeout: 30_000 },
      (err, stdout, stderr) => (err && !stdout ? reject(err) : resolve({ stdout, stderr })),
    );
    child.stdin!.end(script);
  });
}

async function recordingOf(sub: string): Promise<string> {
  const list = await jitgate(['sessions', 'list', '--config', configFile, '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  const rows = list.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const mine = rows.filter((r) => r.sub === sub);
  assert.equal(mine.length, 1, `one recording for ${sub}: ${list.stdout}`);
  return mine[0].id;
}

async function closedIndex(id: string) {
  await waitFor(async () => (await readIndex(proxy.config.recordings.dir, id))?.status === 'closed', 10_000, 'recording closed');
  return (await readIndex(proxy.config.recordings.dir, id))!;
}

test('a psql session is recorded, listed, replayed as the client saw it, and verifies', async () => {
  const token = await proxy.token('alice', 'writer');
  const script = [
    `SELECT id, name, secret_note FROM items ORDER BY id;`,
    `DO $$ BEGIN RAISE NOTICE 'notice from the script'; END $$;`,
    `SELECT * FROM no_such_table;`,
    `COPY items (id, name) FROM STDIN;`,
    `10\tcopied-in`,
    `\\.`,
    `COPY (SELECT id, name FROM items WHERE id = 10) TO STDOUT;`,
    '',
  ].join('\n');
  const client = await psql(token, 'alice', script);
  assert.match(client.stdout, /alpha/);
  assert.match(client.stderr, /no_such_table/);
  assert.match(client.stderr, /notice from the script/);

  const id = await recordingOf('alice');
  const idx = await closedIndex(id);
  assert.equal(idx.sealed, true);
  assert.ok(idx.statements! >= 5);

  // sessions list (text) shows it.
  const list = await jitgate(['sessions', 'list', '--config', configFile], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+SUB\s+TARGET\s+ROLE\s+PROTOCOL\s+START\s+END\s+BYTES\s+STATEMENTS\s+STATUS/);
  assert.match(list.stdout, new RegExp(`${id}\\s+alice\\s+app\\s+writer\\s+postgres\\s+\\S+\\s+\\S+\\s+\\d+\\s+\\d+\\s+closed`));

  // The transcript has the statements, the rows the client saw, tags, the notice, the error, COPY data.
  const replay = await jitgate(['replay', id, '--config', configFile], env);
  assert.equal(replay.code, 0, replay.stderr);
  const text = replay.stdout;
  for (const expected of [
    /session \S+: alice → app \(role writer\), postgres, upstream user jit_/,
    /\[redacted\] client authentication \(PasswordMessage\)/,
    /> SELECT id, name, secret_note FROM items ORDER BY id;/,
    /\bid\s*\|\s*name\s*\|\s*secret_note/,
    /\b1\s*\|\s*alpha\s*\|\s*n1/,
    /\b2\s*\|\s*beta\s*\|\s*NULL/,
    /\(3 rows\)/,
    /SELECT 3/,
    /NOTICE 00000: notice from the script/,
    /ERROR 42P01: relation "no_such_table" does not exist/,
    /COPY FROM STDIN/,
    /> 10\tcopied-in/,
    /COPY 1/,
    /< 10\tcopied-in/,
    /session ended/,
  ]) {
    assert.match(text, expected);
  }
  // Statements appear in order with time offsets.
  assert.ok(text.indexOf('no_such_table') < text.indexOf('COPY items'));
  assert.match(text, /\[\+\d+\.\d{3}s\]\s+> SELECT id/);

  // JSON lines carry the same.
  const json = await jitgate(['replay', id, '--config', configFile, '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  const items = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(items[0].type, 'session');
  assert.equal(items[0].sub, 'alice');
  assert.ok(items.some((i) => i.type === 'query' && /FROM items ORDER BY id/.test(i.sql)));
  assert.ok(items.some((i) => i.type === 'row' && i.values[1] === 'gamma'));
  assert.ok(items.some((i) => i.type === 'error' && i.code === '42P01'));
  assert.ok(items.some((i) => i.type === 'notice' && /notice from the script/.test(i.message)));
  assert.ok(items.some((i) => i.type === 'complete' && i.tag === 'COPY 1'));
  assert.equal(items.at(-1).type, 'end');

  // --raw dumps frames.
  const raw = await jitgate(['replay', id, '--config', configFile, '--raw'], env);
  assert.equal(raw.code, 0, raw.stderr);
  assert.match(raw.stdout, /Query \(\d+ bytes\)/);
  assert.match(raw.stdout, /00000000 {2}51 00 00 00/);

  // verify: intact, sealed and signed.
  const ok = await jitgate(['verify', id, '--config', configFile], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /intact: sealed and signed/);

  // The token and the admin password never reach the disk.
  for (const f of fs.readdirSync(proxy.config.recordings.dir)) {
    const bytes = fs.readFileSync(path.join(proxy.config.recordings.dir, f));
    assert.equal(bytes.includes(token), false, `token in ${f}`);
    assert.equal(bytes.includes(token.split('.')[2]!), false, `token signature in ${f}`);
    assert.equal(bytes.includes(upstream.adminPassword), false, `admin password in ${f}`);
  }

  // One flipped byte in the middle of the file: verify exits 1 and names the block.
  const file = path.join(proxy.config.recordings.dir, `${id}.jgr`);
  const orig = fs.readFileSync(file);
  const bad = Buffer.from(orig);
  bad[Math.floor(bad.length / 2)]! ^= 0x01;
  fs.writeFileSync(file, bad);
  const tampered = await jitgate(['verify', id, '--config', configFile], env);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stderr, /block \d+/);
  fs.writeFileSync(file, orig);
});

test('extended protocol: Parse/Bind/Execute with parameters as sent', async () => {
  const client = new pg.Client({ connectionString: await proxy.url('bob', 'reader') });
  await client.connect();
  const r = await client.query('SELECT $1::text AS greeting, $2::int AS n, name FROM items WHERE id = $2', ['hi there', 2]);
  assert.equal(r.rows[0].name, 'beta');
  await client.query({ name: 'named1', text: 'SELECT count(*) AS c FROM items WHERE id > $1', values: [1] });
  await client.end();
  const id = await recordingOf('bob');
  await closedIndex(id);
  const replay = await jitgate(['replay', id, '--config', configFile], env);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /> SELECT \$1::text AS greeting, \$2::int AS n, name FROM items WHERE id = \$2 {2}-- \$1 = 'hi there', \$2 = '2'/);
  assert.match(replay.stdout, /greeting\s*\|\s*n\s*\|\s*name/);
  assert.match(replay.stdout, /hi there\s*\|\s*2\s*\|\s*beta/);
  assert.match(replay.stdout, /> prepare "named1": SELECT count\(\*\) AS c FROM items WHERE id > \$1/);
  assert.match(replay.stdout, /> execute "named1" {2}-- \$1 = '1'/);
  const json = await jitgate(['replay', id, '--config', configFile, '--json'], env);
  const items = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const exec = items.find((i) => i.type === 'execute' && /greeting/.test(i.sql));
  assert.deepEqual(exec.params, ['hi there', '2']);
});

test('replay --follow shows a live session\'s new statements as they happen', async () => {
  const client = new pg.Client({ connectionString: await proxy.url('carol', 'reader') });
  await client.connect();
  try {
    await client.query(`SELECT 'first statement'`);
    const id = await recordingOf('carol');
    const list = await jitgate(['sessions', 'list', '--config', configFile, '--json'], env);
    assert.equal(list.stdout.split('\n').map((l) => l && JSON.parse(l)).find((r) => r && r.id === id).status, 'live');
    const follow = jitgateStreaming(['replay', id, '--config', configFile, '--follow', '--json'], env);
    try {
      await waitFor(() => follow.stdout().includes('first statement'), 15_000, 'earlier statements');
      const t0 = Date.now();
      await client.query(`SELECT 'marker-${t0}'`);
      await waitFor(() => follow.stdout().includes(`marker-${t0}`), 10_000, 'followed statement');
      const seen = Date.now() - t0;
      assert.ok(seen < 5000, `followed statement after ${seen} ms`);
      await client.end();
      assert.equal(await follow.exited, 0);
      const lines = follow.stdout().trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.at(-1).type, 'end');
    } finally {
      follow.child.kill();
    }
  } finally {
    await client.end().catch(() => undefined);
  }
});

test('fail closed: a recording write error ends the session with SQLSTATE 58030', async () => {
  let writes = 0;
  const failing = async (file: string): Promise<SegmentFile> => {
    const fh = await fsp.open(file, 'wx');
    return {
      writev: (b) => (writes++ < 1 ? fh.writev(b) : Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }))),
      datasync: () => fh.datasync(),
      close: () => fh.close(),
    };
  };
  const p2 = await startTestProxy(upstream, {});
  const p3 = await startTestProxy(upstream, {
    pipeline: { observers: [recorderFactory(p2.config, undefined, { openSegment: failing, flushMs: 10 })] },
  });
  try {
    const client = new pg.Client({ connectionString: await p3.url('dave', 'reader') });
    client.on('error', () => undefined);
    await client.connect();
    let failure: (Error & { code?: string }) | undefined;
    for (let i = 0; i < 50 && !failure; i++) {
      try {
        await client.query('SELECT 1');
        await new Promise((r) => setTimeout(r, 50));
      } catch (e) {
        failure = e as Error & { code?: string };
      }
    }
    assert.ok(failure, 'the session was ended');
    assert.equal(failure.code, '58030');
    assert.match(failure.message, /recording failed/);
    await client.end().catch(() => undefined);
    const idx = (await readIndex(p2.config.recordings.dir, (await fsp.readdir(p2.config.recordings.dir)).find((n) => n.endsWith('.index.json'))!.replace('.index.json', '')))!;
    await waitFor(async () => (await readIndex(p2.config.recordings.dir, idx.id))?.status === 'failed', 10_000, 'index failed');
  } finally {
    await p3.stop();
    await p2.stop();
  }
});

test('fail closed: a recordings dir that cannot be created refuses the login with 58030', async () => {
  const blocker = path.join(proxy.dir, 'not-a-dir');
  fs.writeFileSync(blocker, 'x');
  const p = await startTestProxy(upstream, { extra: { recordings: { dir: path.join(blocker, 'recordings') } } });
  try {
    const client = new pg.Client({ connectionString: await p.url('erin', 'reader') });
    client.on('error', () => undefined);
    await assert.rejects(client.connect(), (e: Error & { code?: string }) => {
      assert.equal(e.code, '58030');
      return true;
    });
  } finally {
    await p.stop();
  }
});
