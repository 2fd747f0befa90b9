/**
 * Fixed-seed, bounded MySQL fuzzing as part of the suite (`npm run fuzz -- --frames N` runs
 * long): the protocols/mysql decoders, framer and the relay's ResponseTracker on mutated
 * packets, then mutated traffic to an in-process proxy's MySQL listener, then every saved
 * MySQL regression input replayed.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoMysqlSecrets, startMysqlBench, type MysqlBench } from './harness-mysql.js';
import { MysqlWire } from './mysql-wire.js';
import { fuzzMysqlDecoders, fuzzMysqlProxy, loadMysqlRegressions, replayMysqlDecoders, replayMysqlProxy } from './fuzz/mysql-run.js';

const SEED = 20_260_101;

describe('fuzz, MySQL (fixed seed)', () => {
  let b: MysqlBench;
  before(async () => {
    b = await startMysqlBench();
  });
  after(async () => {
    MysqlWire.destroyAll();
    await b?.stop();
  });
  afterEach(() => MysqlWire.destroyAll());

  it('decoders, framer and ResponseTracker: 40,000 mutated packets, only ProtocolError/FrameError', () => {
    const r = fuzzMysqlDecoders(40_000, SEED, { write: false });
    assert.deepEqual(r.failures.map((f) => `${f.frames.at(-1)}: ${f.error.split('\n')[0]}`), []);
  });

  it('proxy: 2,000 mutated packets before and after login; every connection closes after the client FIN, nothing unmasked', async () => {
    const r = await fuzzMysqlProxy(b, 2000, SEED, { write: false });
    assert.deepEqual(r.failures.map((f) => `${f.target}: ${f.error}`), []);
    await b.invariants();
    assert.deepEqual(await b.usersLeft(), []);
  });

  it('replays every saved MySQL regression input', async () => {
    for (const reg of loadMysqlRegressions()) {
      if (reg.target === 'mysql-decoders') replayMysqlDecoders(reg);
      else assert.equal(await replayMysqlProxy(b, reg), null, `${reg.target} regression: ${reg.error}`);
    }
    await b.invariants();
  });

  it('no token, password or key in the logs or recordings', () => {
    assertNoMysqlSecrets(b);
  });
});
