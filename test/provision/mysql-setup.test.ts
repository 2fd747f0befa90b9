import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { CheckReport } from '../../src/provision/check-report.js';
import { nativePasswordHash } from '../../protocols/mysql/auth.js';
import { checkMysqlTarget, mysqlSetupSql } from '../../src/provision/mysql-setup.js';
import { jitMysqlUsers, startMysqlUpstream, type MysqlUpstream } from '../helpers/mysql-upstream.js';

test('mysqlSetupSql: least privilege, quoted names, wildcards escaped, the password only as its hash', () => {
  const sql = mysqlSetupSql({ adminUser: 'jit`admin', adminHost: '10.0.0.%', adminPassword: "it's", roles: ['app_read', 'app_read', 'app write'], metaDatabase: 'jit_meta' });
  assert.deepEqual(sql, [
    `CREATE USER IF NOT EXISTS \`jit\`\`admin\`@\`10.0.0.%\` IDENTIFIED BY PASSWORD '${nativePasswordHash("it's")}'`,
    'GRANT CREATE USER ON *.* TO `jit``admin`@`10.0.0.%`',
    'GRANT CONNECTION ADMIN ON *.* TO `jit``admin`@`10.0.0.%`',
    'GRANT SELECT (User, Host, is_role) ON mysql.user TO `jit``admin`@`10.0.0.%`',
    'GRANT CREATE, SELECT, INSERT, DELETE ON `jit\\_meta`.* TO `jit``admin`@`10.0.0.%`',
    'GRANT `app_read` TO `jit``admin`@`10.0.0.%` WITH ADMIN OPTION',
    'GRANT `app write` TO `jit``admin`@`10.0.0.%` WITH ADMIN OPTION',
  ]);
  const mysql8 = mysqlSetupSql({ adminUser: 'a', roles: ['r'], flavour: 'mysql' });
  assert.deepEqual(mysql8, [
    'GRANT CREATE USER ON *.* TO `a`@`%`',
    'GRANT CONNECTION_ADMIN, PROCESS ON *.* TO `a`@`%`',
    'GRANT SELECT (User, Host) ON mysql.user TO `a`@`%`',
    'GRANT CREATE, SELECT, INSERT, DELETE ON `jitgate`.* TO `a`@`%`',
    'GRANT `r` TO `a`@`%` WITH ADMIN OPTION',
  ]);
});

const failed = (r: CheckReport) => r.items.filter((i) => !i.ok).map((i) => i.label);
const fixes = (r: CheckReport) => [...new Set(r.items.filter((i) => !i.ok && i.fix).map((i) => i.fix!))].join('\n');

async function apply(up: MysqlUpstream, sql: string): Promise<void> {
  for (const stmt of sql.split(/;\n?/).map((s) => s.trim()).filter(Boolean)) await up.query(stmt);
}

test('checkMysqlTarget: the helper’s admin (set up with mysqlSetupSql) is ready, and the dry run leaves nothing', async () => {
  const up = await startMysqlUpstream();
  try {
    const report = await checkMysqlTarget('app', up.target({ reader: ['app_read'], both: ['app_read', 'app_write'] }));
    assert.deepEqual(failed(report), []);
    assert.equal(report.ready, true);
    assert.equal(report.protocol, 'mysql');
    assert.match(report.items[0]!.note ?? '', /MariaDB/);
    assert.deepEqual((await jitMysqlUsers(up)).filter((u) => u.startsWith('jit_check_')), []);
  } finally {
    await up.stop();
  }
});

describe('checkMysqlTarget on an embedded mariadbd: a bare admin login, fixed step by step with the SQL it prints', () => {
  let up: MysqlUpstream;
  before(async () => {
    up = await startMysqlUpstream({ server: 'embedded' });
  });
  after(async () => {
    await up?.stop();
  });

  test('reports each missing privilege and role; its fixes make the target ready', async () => {
    const password = randomBytes(12).toString('base64url');
    await up.query(`CREATE USER bare@'%' IDENTIFIED BY PASSWORD '${nativePasswordHash(password)}'`);
    const target = up.target({ reader: ['app_read'], both: ['app_read', 'ghost_role'] }, { admin: { user: 'bare', password } });

    const first = await checkMysqlTarget('app', target);
    assert.equal(first.ready, false);
    assert.deepEqual(failed(first), [
      'admin can keep user metadata in database jitgate (CREATE, SELECT, INSERT, DELETE)',
      'admin can list ephemeral users (SELECT on columns of mysql.user)',
      'admin can create and drop users and roles (CREATE USER)',
    ]);
    assert.match(fixes(first), /^GRANT CREATE, SELECT, INSERT, DELETE ON `jitgate`\.\* TO `bare`@`%`;$/m);
    await apply(up, fixes(first));

    const second = await checkMysqlTarget('app', target);
    assert.deepEqual(failed(second), [
      'profile role app_read exists and admin can grant it',
      'profile role ghost_role exists and admin can grant it',
      "admin can end another user's connections (CONNECTION ADMIN)",
    ]);
    assert.match(fixes(second), /^CREATE ROLE `ghost_role`;$/m);
    await apply(up, fixes(second));

    const third = await checkMysqlTarget('app', target);
    assert.deepEqual(failed(third), []);
    assert.equal(third.ready, true);
    assert.deepEqual(await jitMysqlUsers(up), []);
    assert.deepEqual(await up.query(`SELECT User FROM mysql.user WHERE User LIKE 'jit!_check!_%' ESCAPE '!'`), []);
  });

  test('a wrong admin password fails the login item', async () => {
    const report = await checkMysqlTarget('app', up.target({ reader: ['app_read'] }, { admin: { user: up.adminUser, password: 'wrong' } }));
    assert.equal(report.ready, false);
    assert.equal(report.items.length, 1);
    assert.match(report.items[0]!.note ?? '', /error 1045/);
  });
});
