import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CheckReport } from '../../src/provision/check-report.js';
import { checkPostgresTarget, dbaSetupSql } from '../../src/provision/postgres-setup.js';
import { quoteIdent } from '../../src/provision/sql.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';

function item(r: CheckReport, label: RegExp) {
  const found = r.items.find((i) => label.test(i.label));
  assert.ok(found, `no item ${label} in ${JSON.stringify(r.items)}`);
  return found;
}

test('dbaSetupSql creates the admin and jit_managed and grants what jitgate needs', () => {
  const sql = dbaSetupSql({ admin: 'jitgate_admin', password: "pa'ss", roles: ['app_read', 'app_write', 'app_read'], database: 'app' });
  assert.match(sql, /CREATE ROLE "jitgate_admin" LOGIN CREATEROLE PASSWORD 'pa''ss';/);
  assert.match(sql, /CREATE ROLE "jit_managed" NOLOGIN;/);
  assert.match(sql, /GRANT "jit_managed" TO "jitgate_admin" WITH ADMIN OPTION;/);
  assert.equal(sql.match(/GRANT "app_read" TO "jitgate_admin" WITH ADMIN OPTION;/g)?.length, 1);
  assert.match(sql, /GRANT "app_write" TO "jitgate_admin" WITH ADMIN OPTION;/);
  assert.match(sql, /GRANT pg_signal_backend TO "jitgate_admin";/);
  assert.match(sql, /GRANT CONNECT ON DATABASE "app" TO "jitgate_admin";/);
  assert.doesNotMatch(dbaSetupSql({ admin: 'a', roles: [], database: 'd' }), /PASSWORD/);
});

for (const server of ['embedded', 'local'] as const) {
  describe(`checkPostgresTarget (${server})`, () => {
    let up: PgUpstream;
    before(async () => {
      up = await startPgUpstream({ server });
    });
    after(async () => {
      await up?.stop();
    });

    test('passes on a prepared database', async () => {
      const r = await checkPostgresTarget('app', up.target({ reader: ['app_read'], writer: ['app_write'] }));
      assert.equal(r.ready, true, JSON.stringify(r.items, null, 2));
      assert.ok(r.items.every((i) => i.ok && !i.warn));
      assert.ok(r.items.some((i) => /dry run/.test(i.label)));
    });

    test('reports an admin without CREATEROLE, with the fix', async () => {
      await up.query(`ALTER ROLE ${quoteIdent(up.adminUser)} NOCREATEROLE`);
      try {
        const r = await checkPostgresTarget('app', up.target({ reader: ['app_read'] }));
        assert.equal(r.ready, false);
        const i = item(r, /CREATEROLE/);
        assert.equal(i.ok, false);
        assert.equal(i.fix, `ALTER ROLE ${quoteIdent(up.adminUser)} CREATEROLE;`);
      } finally {
        await up.query(`ALTER ROLE ${quoteIdent(up.adminUser)} CREATEROLE`);
      }
    });

    test('reports a missing profile role and a missing owner role', async () => {
      const r = await checkPostgresTarget('app', up.target({ reader: ['app_read', 'nope_role'] }, { owner: 'nope_owner' }));
      assert.equal(r.ready, false);
      assert.match(item(r, /profile role nope_role/).fix!, /CREATE ROLE "nope_role" NOLOGIN;/);
      assert.match(item(r, /owner role nope_owner/).fix!, /CREATE ROLE "nope_owner" NOLOGIN;/);
      assert.equal(item(r, /profile role app_read/).ok, true);
    });

    test('reports a wrong admin password', async () => {
      const t = up.target({ reader: ['app_read'] });
      t.admin = { user: 'no_such_admin_x', password: 'wrong' };
      const r = await checkPostgresTarget('app', t);
      assert.equal(r.ready, false);
      assert.equal(r.items.length, 1);
      assert.match(r.items[0]!.label, /can log in/);
      assert.doesNotMatch(JSON.stringify(r), /wrong/);
    });
  });
}

describe('checkPostgresTarget on an unprepared PostgreSQL 18', () => {
  let up: PgUpstream;
  before(async () => {
    up = await startPgUpstream({ prepare: false, roles: ['app_read', 'app_extra'] });
  });
  after(async () => {
    await up?.stop();
  });

  test('lists every missing privilege and object', async () => {
    const r = await checkPostgresTarget('app', up.target({ reader: ['app_read'] }));
    assert.equal(r.ready, false);
    const admin = quoteIdent(up.adminUser);
    assert.equal(item(r, /can log in/).ok, true);
    assert.equal(item(r, /CREATEROLE/).fix, `ALTER ROLE ${admin} CREATEROLE;`);
    assert.equal(item(r, /pg_signal_backend/).fix, `GRANT pg_signal_backend TO ${admin};`);
    assert.match(item(r, /jit_managed/).fix!, /CREATE ROLE "jit_managed" NOLOGIN;/);
    assert.match(item(r, /profile role app_read/).fix!, new RegExp(`GRANT "app_read" TO ${admin} WITH ADMIN OPTION;`));
  });

  test('a CREATEROLE admin without ADMIN OPTION on a role fails the dry-run grant (PG16+)', async () => {
    await up.query(`ALTER ROLE ${quoteIdent(up.adminUser)} CREATEROLE`);
    await up.query(`CREATE ROLE jit_managed NOLOGIN`);
    await up.query(`GRANT jit_managed TO ${quoteIdent(up.adminUser)} WITH ADMIN OPTION`);
    await up.query(`GRANT app_read TO ${quoteIdent(up.adminUser)} WITH ADMIN OPTION`);
    await up.query(`GRANT pg_signal_backend TO ${quoteIdent(up.adminUser)}`);
    const r = await checkPostgresTarget('app', up.target({ reader: ['app_read'], extra: ['app_extra'] }));
    assert.equal(r.ready, false);
    assert.equal(item(r, /profile role app_read/).ok, true);
    const extra = item(r, /profile role app_extra/);
    assert.equal(extra.ok, false);
    assert.match(extra.note!, /42501/);
    assert.equal(extra.fix, `GRANT "app_extra" TO ${quoteIdent(up.adminUser)} WITH ADMIN OPTION;`);
    assert.equal(item(r, /jit_managed/).ok, true);
  });
});

describe('jitgate check --config', () => {
  let up: PgUpstream;
  let dir: string;
  before(async () => {
    up = await startPgUpstream();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-check-'));
  });
  after(async () => {
    await up?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const writeConfig = (roles: string, extra = '') => {
    const file = path.join(dir, 'jitgate.yaml');
    fs.writeFileSync(
      file,
      `listen: { postgres: 127.0.0.1:15432 }
auth: { trust: [./public.jwks.json] }
targets:
  app:
    protocol: postgres
    host: ${up.host}
    port: ${up.port}
    database: ${up.database}
    admin: { user: ${up.adminUser}, password: "\${CHECK_ADMIN_PASSWORD}" }
    roles: { ${roles} }
${extra}`,
    );
    return file;
  };

  async function runCli(args: string[]) {
    const out: string[] = [];
    const log = mock.method(console, 'log', (...a: unknown[]) => void out.push(a.join(' ')));
    const err = mock.method(console, 'error', (...a: unknown[]) => void out.push(a.join(' ')));
    process.env.CHECK_ADMIN_PASSWORD = up.adminPassword;
    try {
      return { code: await main(args), out: out.join('\n') };
    } finally {
      log.mock.restore();
      err.mock.restore();
      delete process.env.CHECK_ADMIN_PASSWORD;
    }
  }

  test('a ✓ list on a ready target; a mysql target is checked too (here: its role is missing)', async () => {
    const mysql = `  shop:
    protocol: mysql
    database: shop
    admin: { user: root }
    roles: { reader: [shop_read] }`;
    const { code, out } = await runCli(['check', '--config', writeConfig('reader: [app_read], writer: [app_write]', mysql)]);
    assert.equal(code, 1, out);
    assert.match(out, /target app .*: ready/);
    assert.match(out, /✓ admin jitgate_admin can log in/);
    assert.match(out, /target shop \(mysql 127\.0\.0\.1:3306\/shop\): NOT ready/);
    assert.match(out, /✗ .*shop_read/);
    assert.doesNotMatch(out, new RegExp(up.adminPassword));
  });

  test('exit 1 with ✗ and the fix SQL when something is missing', async () => {
    const { code, out } = await runCli(['check', '--config', writeConfig('reader: [app_read, missing_role]')]);
    assert.equal(code, 1, out);
    assert.match(out, /✗ profile role missing_role/);
    assert.match(out, /CREATE ROLE "missing_role" NOLOGIN;/);
  });

  test('exit 2 for a bad config or a missing flag', async () => {
    assert.equal((await runCli(['check', '--config', writeConfig('reader: [app_read]', 'bogus: 1')])).code, 2);
    assert.equal((await runCli(['check'])).code, 2);
  });
});
