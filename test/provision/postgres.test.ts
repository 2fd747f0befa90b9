import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Grant, Lease } from '../../src/engine/types.js';
import { JitError } from '../../src/errors.js';
import { PostgresProvisioner, type ProvisionLogger } from '../../src/provision/postgres.js';
import { EPHEMERAL_NAME } from '../../src/provision/names.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';

const silent: ProvisionLogger = { info() {}, warn() {}, error() {} };

function grant(sub: string, role: string): Grant {
  const now = Math.floor(Date.now() / 1000);
  return { sub, target: 'app', role, iat: now, exp: now + 300, issuer: 'test' };
}

async function loginAs(up: PgUpstream, lease: Lease): Promise<pg.Client> {
  const c = new pg.Client({
    host: up.host,
    port: up.port,
    database: up.database,
    user: lease.credentials.user,
    password: lease.credentials.password,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function roleExists(up: PgUpstream, name: string): Promise<boolean> {
  return (await up.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;
}

for (const server of ['embedded', 'local'] as const) {
  describe(`PostgresProvisioner (${server === 'embedded' ? 'embedded PostgreSQL 18, SCRAM' : 'local PostgreSQL at 5432'})`, () => {
    let up: PgUpstream;
    let prov: PostgresProvisioner;
    const instance = `test-${randomBytes(4).toString('hex')}`;

    before(async () => {
      up = await startPgUpstream({ server });
      prov = new PostgresProvisioner({
        targetName: 'app',
        target: up.target({ reader: ['app_read'], writer: ['app_write'], broken: ['app_read', 'no_such_role'] }),
        instance,
        maxSessionMs: 60_000,
        nameKey: randomBytes(32),
        log: silent,
      });
    });
    after(async () => {
      await prov?.close();
      await up?.stop();
    });

    test('provision, log in, create a table, release: the next user of the profile can use it', async () => {
      const lease = await prov.provision(grant('alice@example.com', 'writer'), 'sess-1');
      const user = lease.credentials.user;
      assert.match(user, EPHEMERAL_NAME);
      assert.ok(lease.expiresAt.getTime() > Date.now() + 60_000);

      const stored = await up.query<{ rolpassword: string; rolvaliduntil: Date; comment: string }>(
        `SELECT rolpassword, rolvaliduntil, shobj_description(oid, 'pg_authid') AS comment FROM pg_authid WHERE rolname = $1`,
        [user],
      );
      assert.match(stored.rows[0]!.rolpassword, /^SCRAM-SHA-256\$256:/);
      assert.equal(stored.rows[0]!.rolvaliduntil.getTime(), lease.expiresAt.getTime());
      const comment = JSON.parse(stored.rows[0]!.comment);
      assert.deepEqual(
        { ...comment, expires: undefined },
        { jitgate: 1, sub: 'alice@example.com', session: 'sess-1', instance, target: 'app', profile: 'writer', expires: undefined },
      );

      const table = `t_${randomBytes(4).toString('hex')}`;
      const c = await loginAs(up, lease);
      try {
        assert.equal((await c.query('SELECT current_user AS u')).rows[0].u, user);
        const roles = await c.query<{ rolname: string }>(
          `SELECT rolname FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER') AND rolname <> current_user ORDER BY 1`,
        );
        assert.deepEqual(roles.rows.map((r) => r.rolname).sort(), [up.roles.app_write, 'jit_managed'].sort());
        await c.query(`CREATE TABLE ${table} (id int)`);
        await c.query(`INSERT INTO ${table} VALUES (42)`);
      } finally {
        await c.end();
      }

      const result = await lease.release('session ended');
      assert.equal(result.ok, true, result.error);
      assert.equal(result.reassignedTo, up.roles.app_write);
      assert.equal(await roleExists(up, user), false);
      const owner = await up.query<{ tableowner: string }>('SELECT tableowner FROM pg_tables WHERE tablename = $1', [table]);
      assert.equal(owner.rows[0]?.tableowner, up.roles.app_write);

      await using next = await prov.provision(grant('bob@example.com', 'writer'), 'sess-2');
      const c2 = await loginAs(up, next);
      try {
        assert.deepEqual((await c2.query(`SELECT id FROM ${table}`)).rows, [{ id: 42 }]);
      } finally {
        await c2.end();
      }
    });

    test('a reader holds only its profile role', async () => {
      await using lease = await prov.provision(grant('carol', 'reader'), 'sess-3');
      const c = await loginAs(up, lease);
      try {
        const r = await c.query(`SELECT pg_has_role(current_user, $1, 'USAGE') AS read, pg_has_role(current_user, $2, 'USAGE') AS write`, [
          up.roles.app_read,
          up.roles.app_write,
        ]);
        assert.deepEqual(r.rows[0], { read: true, write: false });
        await assert.rejects(c.query(`CREATE TABLE t_reader (id int)`), { code: '42501' });
      } finally {
        await c.end();
      }
    });

    test('release terminates the user’s live backends and is idempotent', async () => {
      const lease = await prov.provision(grant('dave', 'reader'), 'sess-4');
      const c = await loginAs(up, lease);
      const ended = new Promise((resolve) => c.once('end', resolve));
      const [a, b] = await Promise.all([lease.release('revoked'), lease.release('again')]);
      assert.equal(a, b);
      assert.equal(a.ok, true, a.error);
      await ended;
      await assert.rejects(c.query('SELECT 1'));
      assert.equal(await roleExists(up, lease.credentials.user), false);
      assert.deepEqual(await lease.release('third'), a);
    });

    test('a failing grant half-way leaves no user behind', async () => {
      const before = await up.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%'`);
      const err = await prov.provision(grant('erin', 'broken'), 'sess-5').then(
        () => assert.fail('provision should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof JitError);
      assert.equal(err.code, 'provisioning_failed');
      assert.equal(err.detail, '42704');
      assert.match(err.clientMessage, /no_such_role does not exist/);
      const leftovers = await up.query(
        `SELECT rolname FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE '%"session":"sess-5"%'`,
      );
      assert.equal(leftovers.rowCount, 0);
      const afterRows = await up.query(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%'`);
      assert.ok(afterRows.rowCount! <= before.rowCount! + 1); // other runs may share a local server
    });

    if (server === 'embedded') {
      test('missing ADMIN OPTION on a profile role names the role and leaves nothing behind (PG16+)', async () => {
        await up.query('CREATE ROLE app_extra NOLOGIN');
        const p = new PostgresProvisioner({
          targetName: 'app',
          target: up.target({ extra: ['app_read', 'app_extra'] }),
          instance,
          maxSessionMs: 60_000,
          nameKey: randomBytes(32),
          log: silent,
        });
        try {
          await assert.rejects(p.provision(grant('gina', 'extra'), 'sess-7'), (e: unknown) => {
            assert.ok(e instanceof JitError);
            assert.equal(e.clientMessage, 'jitgate admin lacks ADMIN OPTION on role app_extra');
            assert.equal(e.detail, '42501');
            return true;
          });
          const left = await up.query(`SELECT 1 FROM pg_roles WHERE shobj_description(oid, 'pg_authid') LIKE '%"session":"sess-7"%'`);
          assert.equal(left.rowCount, 0);
        } finally {
          await p.close();
          await up.query('DROP ROLE app_extra');
        }
      });

      test('a wrong admin password is a provisioning failure that says so', async () => {
        const t = up.target({ reader: ['app_read'] });
        t.admin = { user: up.adminUser, password: 'not-the-password' };
        const p = new PostgresProvisioner({ targetName: 'app', target: t, instance, maxSessionMs: 60_000, nameKey: randomBytes(32), log: silent });
        try {
          await assert.rejects(p.provision(grant('hank', 'reader'), 'sess-8'), (e: unknown) => {
            assert.ok(e instanceof JitError);
            assert.equal(e.code, 'provisioning_failed');
            assert.equal(e.detail, '28P01');
            assert.doesNotMatch(e.clientMessage, /not-the-password/);
            return true;
          });
        } finally {
          await p.close();
        }
      });

      test('teardown retries while another session holds a lock on the user’s table', async () => {
        const lease = await prov.provision(grant('ivan', 'writer'), 'sess-9');
        const c = await loginAs(up, lease);
        await c.query('CREATE TABLE locked_by_other (id int)');
        await c.end();
        const holder = new pg.Client({ connectionString: up.superUrl });
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE locked_by_other IN ACCESS SHARE MODE');
        // Held past the admin's lock_timeout (3 s) so the first pass fails with 55P03 and is retried.
        const unlock = new Promise<void>((resolve) => setTimeout(() => void holder.query('COMMIT').then(() => resolve()), 3_500));
        try {
          const result = await lease.release('session ended');
          assert.equal(result.ok, true, result.error);
          assert.ok(result.attempts >= 2, `attempts: ${result.attempts}`);
          assert.equal(await roleExists(up, lease.credentials.user), false);
        } finally {
          await unlock;
          await holder.end();
        }
      });
    }

    test('an unknown profile is refused before touching the server', async () => {
      await assert.rejects(prov.provision(grant('frank', 'nope'), 'sess-6'), { code: 'provisioning_failed' });
    });
  });
}
