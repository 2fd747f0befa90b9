/**
 * `jitgate demo` as a user runs it: the printed psql and mariadb commands work as pasted,
 * values are masked, and Ctrl-C removes the state folder and the servers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/serve-process.js';
import { freePort } from '../../src/util/embedded-postgres.js';

const run = promisify(execFile);

test('jitgate demo: paste the psql and mariadb lines, then Ctrl-C cleans up', { timeout: 120_000 }, async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-demo-test-'));
  // As root the embedded PostgreSQL runs as the postgres OS user: it must reach the state folder.
  fs.chmodSync(parent, 0o711);
  const dir = path.join(parent, 'state');
  const [pgPort, myPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/run-dev.ts'), 'demo', '--pg-port', String(pgPort), '--mysql-port', String(myPort), '--dir', dir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = once(child, 'exit');
  try {
    const deadline = Date.now() + 90_000;
    while (!out.includes('Ctrl-C stops the demo')) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `demo did not come up:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const psqlLine = /psql "([^"]+)"/.exec(out)![1]!;
    const psql = await run('psql', [psqlLine, '-At', '-c', 'select current_user', '-c', 'select email, ssn from customers order by id limit 1']);
    const [user, row] = psql.stdout.trim().split('\n');
    assert.match(user!, /^jit_[0-9a-f]{8}_[a-z2-7]{12}$/);
    assert.match(row!, /^[a-z]\*\*\*@[^|]+\|\*\*\*\*$/);

    const token = /-p'([^']+)' demo_mysql/.exec(out)![1]!;
    const my = await run('mariadb', ['-h', '127.0.0.1', '-P', String(myPort), '-u', 'demo', '--ssl', '--skip-ssl-verify-server-cert', `-p${token}`, 'demo_mysql', '-N', '-e', 'select current_user(); select email, ssn from customers order by id limit 1']);
    const [myUser, myRow] = my.stdout.trim().split('\n');
    assert.match(myUser!, /^jit_[0-9a-f]{8}_[a-z2-7]{12}@%$/);
    assert.match(myRow!, /^[a-z]\*\*\*@\S+\t\*\*\*\*$/);
    assert.ok(!out.includes('no MariaDB server binary'));
  } finally {
    child.kill('SIGINT');
    await exited;
  }
  assert.equal(child.exitCode, 0, err);
  assert.ok(!fs.existsSync(dir), 'the state folder is removed');
  fs.rmSync(parent, { recursive: true, force: true });
});
