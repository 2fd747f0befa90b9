/**
 * The MySQL catalogue of bad inputs, one test per case, against an in-process proxy in front
 * of the local MariaDB. After every case: a healthy session opened before all of them still
 * answers, no login is stuck, no session crashed, the proxy still greets, and no ephemeral
 * user of the case is left (within 5 s). At the end: no secret reached the logs or recordings.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoMysqlSecrets, startMysqlBench, type MysqlBench } from './harness-mysql.js';
import { mysqlCases } from './cases-mysql.js';
import { MysqlWire } from './mysql-wire.js';

describe('hostile input catalogue (MySQL)', () => {
  let b: MysqlBench;
  before(async () => {
    b = await startMysqlBench();
  });
  after(async () => {
    MysqlWire.destroyAll();
    await b?.stop();
  });
  // A failed case may leave its connection open: it must not fail the next one.
  afterEach(() => MysqlWire.destroyAll());

  it('has at least 30 cases with unique names', () => {
    assert.ok(mysqlCases.length >= 30, `${mysqlCases.length} cases`);
    assert.equal(new Set(mysqlCases.map((c) => c.name)).size, mysqlCases.length);
  });

  for (const c of mysqlCases) {
    it(c.name, async () => {
      await c.run(b);
      await b.invariants({ liveSessions: c.live ?? 1 });
      assert.deepEqual(await b.usersLeft(), [], 'no ephemeral user left');
    });
  }

  it('no token, password or key in the logs or recordings', () => {
    assert.ok(b.ledger.size > 20, `${b.ledger.size} secrets noted`);
    assertNoMysqlSecrets(b);
  });
});
