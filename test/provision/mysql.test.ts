import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import mysql from 'mysql2/promise';
import type { Grant, Lease } from '../../src/engine/types.js';
import { JitError } from '../../src/errors.js';
import { EPHEMERAL_NAME } from '../../src/provision/names.js';
import { nativePasswordHash } from '../../protocols/mysql/auth.js';
import { MysqlProvisioner, quoteMysqlName } from '../../src/provision/mysql.js';
import type { ProvisionLogger } from '../../src/provision/postgres.js';
import { jitMysqlUsers, startMysqlUpstream, type MysqlUpstream } from '../helpers/mysql-upstream.js';

const silent: ProvisionLogger = { info() {}, warn() {}, error() {} };

function grant(sub: string, role: string): Grant {
  const now = Math.floor(Date.now() / 1000);
  return { sub, target: 'app', role, iat: now, exp: now + 300, issuer: 'test' };
}

async function loginAs(up: MysqlUpstream, lease: Lease): Promise<mysql.Connection> {
  // As the engine's first upstream login does it (MariaDB): no database until the lease's role is active.
  const role = lease.credentials.role;
  const c = await mysql.createConnection({
    host: up.host,
    port: up.port,
    database: role ? undefined : up.database,
    user: lease.credentials.user,
    password: lease.credentials.password,
  });
  c.on('error', () => undefined);
  if (role) {
    await c.query(`SET DEFAULT ROLE \`${role}\``);
    await c.query(`SET ROLE \`${role}\``);
    await c.query(`USE \`${up.database}\``);
  }
  return c;
}

async function accountExists(up: MysqlUpstream, name: string): Promise<boolean> {
  return (await up.query('SELECT 1 FROM mysql.user WHERE User = ?', [name])).length > 0;
}

async function metaRow(up: MysqlUpstream, user: string): Promise<Record<string, unknown> | undefined> {
  return (await up.query('SELECT * FROM jitgate.ephemeral_users WHERE user_name = ?', [user]))[0];
}

function provisioner(up: MysqlUpstream, instance: string, profiles: Record<string, string[]>): MysqlProvisioner {
  return new MysqlProvisioner({ targetName: 'app', target: up.target(profiles), instance, maxSessionMs: 60_000, nameKey: randomBytes(32), log: silent });
}

test('nativePasswordHash matches the server’s PASSWORD() and quoting doubles backticks', async () => {
  const up = await startMysqlUpstream();
  try {
    for (const pw of ['secret', 'pässwörd', randomBytes(32).toString('base64url')]) {
      const [row] = await up.query<{ h: string }>('SELECT PASSWORD(?) AS h', [pw]);
      assert.equal(nativePasswordHash(pw), row!.h);
    }
  } finally {
    await up.stop();
  }
  assert.equal(quoteMysqlName('a`b'), '`a``b`');
  assert.throws(() => quoteMysqlName('a\0b'));
});

describe('MysqlProvisioner (local MariaDB at 3306, admin from mysqlSetupSql)', () => {
  let up: MysqlUpstream;
  let prov: MysqlProvisioner;
  const instance = `test-${randomBytes(4).toString('hex')}`;
  const profiles = {
    reader: ['app_read'],
    writer: ['app_write'],
    both: ['app_read', 'app_write'],
    broken: ['app_read', 'no_such_role'],
    [`it's "odd"`]: ['app_read'],
  };

  before(async () => {
    up = await startMysqlUpstream();
    prov = provisioner(up, instance, profiles);
  });
  after(async () => {
    await prov?.close();
    await up?.stop();
  });

  test('provision: the user logs in with its password, holds its role, reads but cannot write', async () => {
    const lease = await prov.provision(grant('alice@example.com', 'reader'), 'sess-1');
    const user = lease.credentials.user;
    assert.match(user, EPHEMERAL_NAME);
    assert.ok(user.length <= 32);
    assert.equal(Buffer.from(lease.credentials.password, 'base64url').length, 32);
    assert.equal(prov.flavour, 'mariadb');

    const row = await metaRow(up, user);
    assert.deepEqual(
      { ...row, created_at: undefined, expires_at: undefined },
      { user_name: user, role_name: null, instance, target: 'app', profile: 'reader', sub: 'alice@example.com', session_id: 'sess-1', created_at: undefined, expires_at: undefined },
    );
    assert.equal(Date.parse(`${row!.expires_at}Z`), lease.expiresAt.getTime());

    const [stored] = await up.query<{ plugin: string; authentication_string: string; max_user_connections: number }>(
      `SELECT plugin, authentication_string, max_user_connections FROM mysql.user WHERE User = ? AND Host = '%'`,
      [user],
    );
    assert.equal(stored!.plugin, 'mysql_native_password');
    assert.equal(stored!.authentication_string, nativePasswordHash(lease.credentials.password));
    assert.equal(Number(stored!.max_user_connections), 2);

    const c = await loginAs(up, lease);
    try {
      const [[who]] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u, CURRENT_ROLE() AS r');
      assert.deepEqual({ ...who }, { u: `${user}@%`, r: up.roles.app_read });
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id, email, ssn FROM customers ORDER BY id');
      assert.equal(rows.length, 3);
      await assert.rejects(c.query(`INSERT INTO customers (id, name) VALUES (9, 'Eve')`), { errno: 1142 });
      // Room for the session and one KILL QUERY connection, no more: the provisioner's own login is closed.
      const second = await loginAs(up, lease);
      await assert.rejects(loginAs(up, lease), { errno: 1226 });
      await second.end();
    } finally {
      await c.end();
    }

    const result = await lease.release('session ended');
    assert.deepEqual(result, { user, ok: true, attempts: 1 });
    assert.equal(await accountExists(up, user), false);
    assert.equal(await metaRow(up, user), undefined);
  });

  test('a writer can write', async () => {
    await using lease = await prov.provision(grant('bob', 'writer'), 'sess-2');
    const c = await loginAs(up, lease);
    try {
      await c.query(`INSERT INTO customers (id, name) VALUES (10, 'Bob')`);
      await c.query('DELETE FROM customers WHERE id = 10');
    } finally {
      await c.end();
    }
  });

  test('release kills the user’s live connection, drops it, and is idempotent', async () => {
    const lease = await prov.provision(grant('carol', 'reader'), 'sess-3');
    const c = await loginAs(up, lease);
    const running = c.query('SELECT SLEEP(30)').then(
      () => 'finished',
      (e: { code?: string }) => e.code,
    );
    const [a, b] = await Promise.all([lease.release('revoked'), lease.release('again')]);
    assert.equal(a, b);
    assert.equal(a.ok, true, a.error);
    assert.equal(await running, 'PROTOCOL_CONNECTION_LOST');
    assert.equal(await accountExists(up, lease.credentials.user), false);
    assert.equal(await lease.release('third'), a);
    c.destroy();
  });

  test('a profile of several roles: one session role holding them, dropped with the user', async () => {
    const lease = await prov.provision(grant('dave', 'both'), 'sess-4');
    const user = lease.credentials.user;
    const sessionRole = `${user}_r`;
    assert.equal((await metaRow(up, user))!.role_name, sessionRole);
    const c = await loginAs(up, lease);
    try {
      const [[who]] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_ROLE() AS r');
      assert.equal(who!.r, sessionRole);
      const [granted] = await c.query<mysql.RowDataPacket[]>('SELECT ROLE_NAME FROM information_schema.ENABLED_ROLES ORDER BY 1');
      assert.deepEqual(granted.map((r) => r.ROLE_NAME).sort(), [up.roles.app_read, up.roles.app_write, sessionRole].sort());
      await c.query(`UPDATE customers SET name = name WHERE id = 1`);
    } finally {
      await c.end();
    }
    assert.equal((await lease.release('done')).ok, true);
    assert.equal(await accountExists(up, user), false);
    assert.equal(await accountExists(up, sessionRole), false);
  });

  test('a missing role: provisioning_failed naming it, and no user, role or row left', async () => {
    const before = new Set(await jitMysqlUsers(up));
    const err = await prov.provision(grant('erin', 'broken'), 'sess-5').then(
      () => assert.fail('provision should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof JitError);
    assert.equal(err.code, 'provisioning_failed');
    assert.equal(err.clientMessage, 'upstream role no_such_role does not exist');
    assert.equal(err.detail, '1959');
    assert.equal((await up.query(`SELECT 1 FROM jitgate.ephemeral_users WHERE session_id = 'sess-5' AND instance = ?`, [instance])).length, 0);
    const added = (await jitMysqlUsers(up)).filter((u) => !before.has(u));
    // Other runs may share the local server: none of theirs holds this upstream's roles.
    for (const u of added) assert.notEqual((await metaRow(up, u))?.session_id, 'sess-5');
    const roles = await up.query(`SELECT User FROM mysql.roles_mapping WHERE Role = ? AND Host = ''`, [up.roles.app_read]);
    assert.deepEqual(roles, []);
  });

  test('quotes in the sub and the profile are only data', async () => {
    const sub = `o'brien"); DROP USER root; -- \\' \``;
    await using lease = await prov.provision(grant(sub, `it's "odd"`), `s'3"`);
    const row = await metaRow(up, lease.credentials.user);
    assert.equal(row!.sub, sub);
    assert.equal(row!.profile, `it's "odd"`);
    assert.equal(row!.session_id, `s'3"`);
    const c = await loginAs(up, lease);
    await c.end();
    assert.equal((await up.query(`SELECT 1 FROM mysql.user WHERE User = 'root'`)).length > 0, true);
  });

  test('an unknown profile is refused before touching the server', async () => {
    await assert.rejects(prov.provision(grant('frank', 'nope'), 'sess-6'), { code: 'provisioning_failed' });
  });

  test('a wrong admin password is a provisioning failure that says so without the password', async () => {
    const t = up.target({ reader: ['app_read'] });
    t.admin = { user: up.adminUser, password: 'not-the-password' };
    const p = new MysqlProvisioner({ targetName: 'app', target: t, instance, maxSessionMs: 60_000, nameKey: randomBytes(32), log: silent });
    try {
      await assert.rejects(p.provision(grant('gina', 'reader'), 'sess-7'), (e: unknown) => {
        assert.ok(e instanceof JitError);
        assert.equal(e.code, 'provisioning_failed');
        assert.equal(e.detail, '1045');
        assert.equal(e.clientMessage, `jitgate admin ${up.adminUser} cannot log in upstream`);
        return true;
      });
    } finally {
      await p.close();
    }
  });

  test('an unreachable upstream: provisioning_failed whose cause keeps ECONNREFUSED', async () => {
    const srv = net.createServer().listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as net.AddressInfo).port;
    srv.close();
    await once(srv, 'close');
    const p = new MysqlProvisioner({
      targetName: 'app',
      target: up.target({ reader: ['app_read'] }, { port }),
      instance,
      maxSessionMs: 60_000,
      nameKey: randomBytes(32),
      log: silent,
    });
    try {
      await assert.rejects(p.provision(grant('hank', 'reader'), 'sess-8'), (e: unknown) => {
        assert.ok(e instanceof JitError);
        assert.equal(e.code, 'provisioning_failed');
        assert.equal((e.cause as { code?: string }).code, 'ECONNREFUSED');
        assert.equal(e.detail, 'ECONNREFUSED');
        return true;
      });
    } finally {
      await p.close();
    }
  });

  test('provision and release in a loop leave nothing behind', async () => {
    const users: string[] = [];
    for (let i = 0; i < 10; i++) {
      const lease = await prov.provision(grant(`loop-${i}`, i % 2 ? 'both' : 'reader'), `loop-${i}`);
      users.push(lease.credentials.user);
      assert.equal((await lease.release('done')).ok, true);
    }
    const left = await up.query<{ User: string }>('SELECT User FROM mysql.user WHERE User IN (?)', [[...users, ...users.map((u) => `${u}_r`)]]);
    assert.deepEqual(left, []);
  });
});

describe('MysqlProvisioner on an embedded mariadbd', () => {
  let up: MysqlUpstream;
  const provisioners: MysqlProvisioner[] = [];
  const make = (instance: string) => {
    const p = provisioner(up, instance, { reader: ['app_read'], both: ['app_read', 'app_write'] });
    provisioners.push(p);
    return p;
  };

  before(async () => {
    up = await startMysqlUpstream({ server: 'embedded' });
  });
  after(async () => {
    for (const p of provisioners) await p.close();
    await up?.stop();
  });

  test('start-up, provision, login; the plaintext password never reaches the server', async () => {
    await up.query(`SET GLOBAL log_output = 'TABLE'`);
    await up.query('SET GLOBAL general_log = 1');
    const prov = make('embedded');
    const lease = await prov.provision(grant('ida', 'both'), 'sess-e1');
    const c = await loginAs(up, lease);
    const [[who]] = await c.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
    assert.equal(who!.u, `${lease.credentials.user}@%`);
    await c.end();
    assert.equal((await lease.release('done')).ok, true);
    await up.query('SET GLOBAL general_log = 0');
    const log = await up.query<{ command_type: string; argument: Buffer | string }>('SELECT command_type, argument FROM mysql.general_log');
    const text = log.map((r) => String(r.argument)).join('\n');
    assert.match(text, new RegExp(`CREATE USER ${quoteMysqlName(lease.credentials.user)}@'%' IDENTIFIED BY PASSWORD '\\*[0-9A-F]{40}'`));
    assert.match(text, /SET DEFAULT ROLE/);
    assert.ok(!text.includes(lease.credentials.password), 'the password appears in the general log');
  });

  test('reap: this instance’s leftover and expired rows go, another instance’s unexpired row and live users stay, orphans go', async () => {
    const mine = make('mine');
    const other = make('other');
    const leftover = await mine.provision(grant('leftover', 'both'), 's-leftover');
    const live = await mine.provision(grant('live', 'reader'), 's-live');
    const otherLive = await other.provision(grant('other-live', 'reader'), 's-other');
    const expired = await other.provision(grant('expired', 'reader'), 's-expired');
    await up.query(`UPDATE jitgate.ephemeral_users SET expires_at = '2000-01-01' WHERE user_name = ?`, [expired.credentials.user]);
    // Accounts without a row (a row deleted by hand, or written to another metadata table).
    const orphan = `jit_0000beef_${'a'.repeat(12)}`;
    await up.query(`CREATE USER ${quoteMysqlName(orphan)}@'%'`);
    const orphanRole = `jit_0000beef_${'b'.repeat(12)}_r`;
    await up.query(`CREATE ROLE ${quoteMysqlName(orphanRole)}`);
    // Rows of a crashed provision: written, but the user was never created.
    await up.query(
      `INSERT INTO jitgate.ephemeral_users VALUES ('jit_0000beef_cccccccccccc', NULL, 'mine', 'app', 'reader', 'x', 'x', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)`,
    );
    await up.query(`CREATE USER jit_not_managed@'%'`);

    const restarted = make('mine'); // same instance name, fresh process: the leftover is not held by it
    const removed = await restarted.reap(new Set([live.credentials.user]));
    assert.deepEqual(
      removed.sort(),
      [leftover.credentials.user, expired.credentials.user, orphan, orphanRole.slice(0, -2), 'jit_0000beef_cccccccccccc'].sort(),
    );
    for (const gone of [leftover.credentials.user, `${leftover.credentials.user}_r`, expired.credentials.user, orphan, orphanRole]) {
      assert.equal(await accountExists(up, gone), false, gone);
    }
    for (const kept of [live.credentials.user, otherLive.credentials.user, 'jit_not_managed']) assert.equal(await accountExists(up, kept), true, kept);
    const rows = (await up.query<{ user_name: string }>('SELECT user_name FROM jitgate.ephemeral_users')).map((r) => r.user_name);
    assert.deepEqual(rows.sort(), [live.credentials.user, otherLive.credentials.user].sort());

    // A process never reaps users it still holds, even when the caller's live set misses them.
    assert.deepEqual(await mine.reap(new Set()), []);
    assert.equal(await accountExists(up, live.credentials.user), true);
    // The holder's own release after a reap is still fine.
    assert.equal((await leftover.release('late')).ok, true);
    for (const l of [live, otherLive, expired]) await l.release('test over');
    await up.query(`DROP USER jit_not_managed@'%'`);
  });

  test('teardown retries while the grant tables are locked, within the 5 s the contract allows', async () => {
    const prov = make('locks');
    const lease = await prov.provision(grant('jack', 'reader'), 'sess-lock');
    const holder = await mysql.createConnection({ host: up.host, port: up.port, user: 'root', password: '' });
    await holder.query('LOCK TABLES mysql.global_priv READ');
    // Held past the admin's statement timeout (2 s): the first DROP USER fails with 1969 and is retried.
    const unlock = new Promise<void>((resolve) => setTimeout(() => void holder.query('UNLOCK TABLES').then(() => resolve()), 2_500));
    try {
      const result = await lease.release('session ended');
      assert.equal(result.ok, true, result.error);
      assert.ok(result.attempts >= 2, `attempts: ${result.attempts}`);
      assert.equal(await accountExists(up, lease.credentials.user), false);
    } finally {
      await unlock;
      await holder.end();
    }
  });

  test('admin connections killed while idle do not crash the process; the next provision reconnects', async () => {
    const prov = make('killed-admin');
    await (await prov.provision(grant('kate', 'reader'), 'sess-k1')).release('done');
    await up.query(`KILL CONNECTION USER ${quoteMysqlName(up.adminUser)}`);
    await new Promise((r) => setTimeout(r, 100));
    const lease = await prov.provision(grant('kate', 'reader'), 'sess-k2');
    assert.equal((await lease.release('done')).ok, true);
  });

  test('startReaper reaps in the background until stopped', async () => {
    const crashed = make('crashy');
    const leftover = await crashed.provision(grant('crashed', 'reader'), 's-crashed');
    const reaper = make('crashy');
    reaper.startReaper(() => new Set(), 50);
    try {
      for (let i = 0; i < 400 && (await accountExists(up, leftover.credentials.user)); i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(await accountExists(up, leftover.credentials.user), false);
    } finally {
      reaper.stopReaper();
    }
  });
});
