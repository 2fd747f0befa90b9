/**
 * `jitgate demo`: an embedded PostgreSQL with password auth, a demo database, the proxy
 * in front of it with masking and recording configured, a token, and a psql command to
 * paste. Ctrl-C removes everything it created.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { stringify } from 'yaml';
import { parseFlags } from '../args.js';
import { UsageError } from '../../errors.js';
import { initKeys } from '../../auth/keys.js';
import { mintToken } from '../../auth/tokens.js';
import { loadConfig } from '../../config/load.js';
import { startProxy } from '../../server/proxy.js';
import { startEmbeddedPostgres } from '../../util/embedded-postgres.js';
import { dbaSetupSql } from '../../provision/postgres-setup.js';
import { quoteIdent as qi } from '../../provision/sql.js';
import { createLogger } from '../../audit/log.js';
import { demoCustomers } from '../../demo/data.js';
import mysql from 'mysql2/promise';
import { haveMariadbServer, startEmbeddedMariadb } from '../../util/embedded-mariadb.js';
import { mysqlSetupSql } from '../../provision/mysql-setup.js';
import { quoteMysqlName as qn } from '../../provision/mysql.js';

function portFlag(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${flag}: not a port number: ${v}`, `--${flag}`);
  return n;
}

const SCHEMA = `
CREATE TABLE customers (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL UNIQUE,
  ssn         text NOT NULL,
  card_number text NOT NULL,
  note        text
);
CREATE ROLE demo_read NOLOGIN;
CREATE ROLE demo_write NOLOGIN;
CREATE ROLE demo_admin NOLOGIN;
GRANT demo_read TO demo_write;
GRANT SELECT ON customers TO demo_read;
GRANT INSERT, UPDATE, DELETE ON customers TO demo_write;
GRANT USAGE, CREATE ON SCHEMA public TO demo_write;
GRANT SELECT, INSERT, UPDATE, DELETE ON customers TO demo_admin;
`;

/** The same demo in MariaDB: database, roles, rows, and the admin login jitgate uses. */
async function setUpMariadb(port: number, adminPassword: string): Promise<void> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', password: '' });
  try {
    await c.query('CREATE DATABASE demo');
    await c.query(
      'CREATE TABLE demo.customers (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200) NOT NULL UNIQUE, ' +
        'ssn VARCHAR(20) NOT NULL, card_number VARCHAR(30) NOT NULL, note TEXT)',
    );
    for (const r of demoCustomers(50)) {
      await c.query('INSERT INTO demo.customers VALUES (?, ?, ?, ?, ?, ?)', [r.id, r.name, r.email, r.ssn, r.card_number, r.note]);
    }
    for (const role of ['demo_read', 'demo_write', 'demo_admin']) await c.query(`CREATE ROLE ${qn(role)}`);
    await c.query('GRANT SELECT ON demo.* TO demo_read');
    await c.query('GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON demo.* TO demo_write');
    await c.query('GRANT SELECT, INSERT, UPDATE, DELETE ON demo.* TO demo_admin');
    for (const stmt of mysqlSetupSql({ adminUser: 'jitgate_admin', adminPassword, roles: ['demo_read', 'demo_write', 'demo_admin'] })) {
      await c.query(stmt);
    }
  } finally {
    await c.end();
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    'pg-port': { type: 'string' },
    'mysql-port': { type: 'string' },
    dir: { type: 'string' },
  });
  const pgPort = portFlag(values['pg-port'], 'pg-port', 15432);
  const mysqlPort = portFlag(values['mysql-port'], 'mysql-port', 13306);
  const created = !values.dir || !fs.existsSync(values.dir);
  const dir = path.resolve(values.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-demo-')));
  fs.mkdirSync(dir, { recursive: true });
  // The embedded server runs as the postgres OS user when we are root: it must reach its folder.
  if (process.getuid?.() === 0) fs.chmodSync(dir, 0o711);

  const cleanup: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    if (created) fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    console.error('starting an embedded PostgreSQL 18 (SCRAM password auth)…');
    const upstream = await startEmbeddedPostgres({ dir: path.join(dir, 'postgres') });
    cleanup.push(() => upstream.stop());

    const superClient = async (database: string) => {
      const c = new pg.Client({ connectionString: upstream.url(database) });
      await c.connect();
      return c;
    };
    const adminPassword = randomBytes(24).toString('base64url');
    {
      const c = await superClient('postgres');
      await c.query('CREATE DATABASE demo');
      await c.end();
      const d = await superClient('demo');
      await d.query(SCHEMA);
      const rows = demoCustomers(50);
      for (const r of rows) {
        await d.query('INSERT INTO customers (id, name, email, ssn, card_number, note) VALUES ($1,$2,$3,$4,$5,$6)', [
          r.id, r.name, r.email, r.ssn, r.card_number, r.note,
        ]);
      }
      await d.query(dbaSetupSql({ admin: 'jitgate_admin', password: adminPassword, roles: ['demo_read', 'demo_write', 'demo_admin'], database: 'demo' }));
      await d.query(`ALTER DATABASE demo OWNER TO ${qi('postgres')}`);
      await d.end();
    }

    // MySQL too when a MariaDB server binary is on this machine.
    let mariadb: { port: number; adminPassword: string } | null = null;
    if (await haveMariadbServer()) {
      console.error('starting an embedded MariaDB…');
      const server = await startEmbeddedMariadb({ dir: path.join(dir, 'mariadb') });
      cleanup.push(() => server.stop());
      mariadb = { port: server.port, adminPassword: randomBytes(24).toString('base64url') };
      await setUpMariadb(server.port, mariadb.adminPassword);
    }

    await initKeys(path.join(dir, 'keys'), { force: true });
    const configPath = path.join(dir, 'jitgate.yaml');
    fs.writeFileSync(
      configPath,
      stringify({
        listen: { postgres: `127.0.0.1:${pgPort}`, ...(mariadb ? { mysql: `127.0.0.1:${mysqlPort}` } : {}) },
        auth: {
          issuer: 'jitgate-demo',
          signingKeys: './keys/private.jwks.json',
          trust: ['./keys/public.jwks.json'],
          maxTtl: '15m',
          maxSession: '1h',
        },
        targets: {
          demo: {
            protocol: 'postgres',
            host: '127.0.0.1',
            port: upstream.port,
            database: 'demo',
            admin: { user: 'jitgate_admin', password: adminPassword },
            roles: { reader: ['demo_read'], writer: ['demo_write'], admin: ['demo_admin'] },
          },
          ...(mariadb
            ? {
                demo_mysql: {
                  protocol: 'mysql',
                  host: '127.0.0.1',
                  port: mariadb.port,
                  database: 'demo',
                  admin: { user: 'jitgate_admin', password: mariadb.adminPassword },
                  roles: { reader: ['demo_read'], writer: ['demo_write'], admin: ['demo_admin'] },
                },
              }
            : {}),
        },
        masking: {
          rules: [
            { columns: ['email', '*_email'], action: 'email' },
            { columns: ['ssn'], action: 'redact' },
            { columns: ['card_number'], action: 'partial' },
          ],
          detectors: ['email', 'credit_card', 'us_ssn'],
          exempt: ['admin'],
        },
        recordings: { dir: './recordings' },
      }),
      { mode: 0o600 },
    );
    const config = loadConfig(configPath);
    const log = createLogger({ level: 'info', file: path.join(dir, 'jitgate.log') });
    let proxy;
    try {
      proxy = await startProxy(config, { log });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        const port = (e as { port?: number }).port;
        const flag = mariadb && port === mysqlPort ? 'mysql-port' : 'pg-port';
        throw new UsageError(`--${flag}: port ${port ?? pgPort} is in use; pick another with --${flag}`, `--${flag}`);
      }
      throw e;
    }
    cleanup.push(() => proxy.close(5000));

    const token = await mintToken(config, { sub: 'demo', target: 'demo', role: 'reader', ttlMs: config.auth.maxTtl });
    const port = proxy.addresses.postgres!.port;
    const mint = `npx jitgate token --config ${configPath} --sub demo --target demo --role reader`;
    let mysqlText = 'MySQL: no MariaDB server binary (mariadbd) on this machine, so no MySQL demo (Debian: apt-get install mariadb-server).';
    if (mariadb) {
      const myToken = await mintToken(config, { sub: 'demo', target: 'demo_mysql', role: 'reader', ttlMs: config.auth.maxTtl });
      const myPort = proxy.addresses.mysql!.port;
      mysqlText = `MySQL (MariaDB) through jitgate, database demo_mysql (token valid 15 minutes):
  mariadb -h 127.0.0.1 -P ${myPort} -u demo --ssl --skip-ssl-verify-server-cert -p'${myToken}' demo_mysql
mysql2 DSN:
  mysql://demo:${myToken}@127.0.0.1:${myPort}/demo_mysql
A fresh token: npx jitgate token --config ${configPath} --sub demo --target demo_mysql --role reader`;
    }
    console.log(`
jitgate demo is running (state in ${dir}; audit log: ${path.join(dir, 'jitgate.log')}).

PostgreSQL through jitgate (token valid 15 minutes):
  psql "host=127.0.0.1 port=${port} dbname=demo user=demo sslmode=require password=${token}"

DSN:
  postgres://demo:${token}@127.0.0.1:${port}/demo?sslmode=require

Try: select current_user;  select * from customers limit 5;
A fresh token:  ${mint}
Other profiles: --role writer (insert/update/create), --role admin (sees clear values).

${mysqlText}

Ctrl-C stops the demo and removes everything it created.`);

    await new Promise<void>((resolve) => {
      // embedded-postgres's exit hook would stop its server and exit mid-way through our own
      // teardown (sessions, users, MariaDB, the folder): that runs in order below instead.
      process.removeAllListeners('SIGINT');
      process.removeAllListeners('SIGTERM');
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    console.error('\nstopping: ending sessions, dropping ephemeral users, removing the demo database…');
    return 0;
  } finally {
    await teardown();
  }
}
