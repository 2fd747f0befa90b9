/**
 * Fixed-seed, bounded fuzzing as part of the suite (`npm run fuzz -- --frames N` runs long):
 * the decoders and framer on mutated frames, then mutated traffic through an in-process proxy,
 * then every saved regression input replayed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoSecrets, onlyUsers, startBench, type Bench } from './harness.js';
import { fuzzDecoders, fuzzProxy, loadRegressions, replayDecoders, replayProxy } from './fuzz/run.js';

const SEED = 20_260_101;

describe('fuzz (fixed seed)', () => {
  let b: Bench;
  before(async () => {
    b = await startBench();
  });
  after(async () => {
    await b?.stop();
  });

  it('decoders and framer: 30,000 mutated frames, only FrameError/MessageError', () => {
    const r = fuzzDecoders(30_000, SEED, { write: false });
    assert.deepEqual(r.failures.map((f) => f.error), []);
  });

  it('proxy: 2,000 mutated frames before and after login; every connection closes after the client FIN', async () => {
    const r = await fuzzProxy(b, 2000, SEED, { write: false });
    assert.deepEqual(r.failures.map((f) => `${f.target}: ${f.error}`), []);
    await b.invariants();
    assert.deepEqual(await onlyUsers(b, [b.healthyUser]), []);
  });

  it('replays every saved regression input', async () => {
    for (const reg of loadRegressions()) {
      if (reg.target === 'decoders') replayDecoders(reg);
      else assert.equal(await replayProxy(b, reg), null, `${reg.target} regression: ${reg.error}`);
    }
    await b.invariants();
  });

  it('no token, password or key in the logs', () => {
    assertNoSecrets(b);
  });
});
