import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Grant, Lease } from '../../src/engine/types.js';
import { PostgresProvisioner, type ProvisionLogger } from '../../src/provision/postgres.js';
import { quoteIdent } from '../../src/provision/sql.js';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';

const silent: ProvisionLogger = { info() {}, warn() {}, error() {} };

function grant(sub: string, role: string): Grant {
  const now = Math.floor(Date.now() / 1000);
  return { sub, target: 'app', role, iat: now, exp: now + 300, issuer: 'test' };
}

describe('reaping leftover ephemeral users (embedded PostgreSQL 18)', () => {
  let up: PgUpstream;
  const provisioners: PostgresProvisioner[] = [];
  const leases: Lease[] = [];
  const nameKey = randomBytes(32);

  const make = (instance: string) => {
    const p = new PostgresProvisioner({
      targetName: 'app',
      target: up.target({ reader: ['app_read'], writer: ['app_write'] }),
      instance,
      maxSessionMs: 60_000,
      nameKey,
      log: silent,
    });
    provisioners.push(p);
    return p;
  };
  const lease = async (p: PostgresProvisioner, sub: string, profile: string) => {
    const l = await p.provision(grant(sub, profile), `s-${sub}`);
    leases.push(l);
    return l;
  };
  const exists = async (name: string) => (await up.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1;

  before(async () => {
    up = await startPgUpstream();
  });
  after(async () => {
    for (const l of leases) await l.release('test over');
    for (const p of provisioners) await p.close();
    await up?.stop();
  });

  test('removes expired users and this instance’s users that are not live, and nothing else', async () => {
    const other = make('other-instance');
    const mine = make('mine');

    const expired = await lease(other, 'expired', 'writer');
    const c = new pg.Client({ host: up.host, port: up.port, database: up.database, user: expired.credentials.user, password: expired.credentials.password });
    await c.connect();
    await c.query('CREATE TABLE left_behind (id int)');
    await c.end();
    await up.query(`ALTER ROLE ${quoteIdent(expired.credentials.user)} VALID UNTIL '2000-01-01'`);

    const otherLive = await lease(other, 'other-live', 'reader');
    const leftover = await lease(mine, 'leftover', 'reader');
    const live = await lease(mine, 'live', 'reader');
    await up.query(`CREATE ROLE jit_not_managed NOLOGIN VALID UNTIL '2000-01-01'`);

    const restarted = make('mine'); // same instance name, fresh process: the leftover is not held
    const removed = await restarted.reap(new Set([live.credentials.user]));
    assert.deepEqual(removed.sort(), [expired.credentials.user, leftover.credentials.user].sort());
    assert.equal(await exists(expired.credentials.user), false);
    assert.equal(await exists(leftover.credentials.user), false);
    assert.equal(await exists(live.credentials.user), true);
    assert.equal(await exists(otherLive.credentials.user), true);
    assert.equal(await exists('jit_not_managed'), true);
    const owner = await up.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'left_behind'`);
    assert.equal(owner.rows[0]?.tableowner, 'app_write');

    // A process never reaps users it still holds, even when the caller's live set misses them.
    assert.deepEqual(await mine.reap(new Set()), []);
    assert.equal(await exists(live.credentials.user), true);

    // The holder's own release after a reap is still fine.
    assert.equal((await leftover.release('late')).ok, true);
    await up.query('DROP ROLE jit_not_managed');
  });

  test('startReaper reaps in the background until stopped', async () => {
    const crashed = make('crashy');
    const leftover = await lease(crashed, 'crashed', 'reader');
    const reaper = make('crashy');
    reaper.startReaper(() => new Set(), 50);
    try {
      for (let i = 0; i < 400 && (await exists(leftover.credentials.user)); i++) await sleep(25);
      assert.equal(await exists(leftover.credentials.user), false);
    } finally {
      reaper.stopReaper();
    }
  });
});
