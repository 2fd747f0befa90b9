/**
 * The catalogue of bad inputs, one test per case, against an in-process proxy in front of a
 * real upstream. After every case: a healthy session opened before all of them still
 * answers, no login is stuck, no session crashed, the proxy still accepts. At the end: no
 * ephemeral user is left, no secret reached the logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoSecrets, onlyUsers, startBench, type Bench } from './harness.js';
import { pgCases } from './cases-pg.js';

describe('hostile input catalogue (PostgreSQL)', () => {
  let b: Bench;
  before(async () => {
    b = await startBench();
  });
  after(async () => {
    await b?.stop();
  });

  it('has at least 60 cases with unique names', () => {
    assert.ok(pgCases.length >= 60, `${pgCases.length} cases`);
    assert.equal(new Set(pgCases.map((c) => c.name)).size, pgCases.length);
  });

  for (const c of pgCases) {
    it(c.name, async () => {
      await c.run(b);
      await b.invariants({ liveSessions: c.live ?? 1 });
    });
  }

  it('leaves no ephemeral user but the healthy one', async () => {
    assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
  });

  it('no token, password or key in the logs', () => {
    assert.ok(b.ledger.size > 20);
    assertNoSecrets(b);
  });
});
