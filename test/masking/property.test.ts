import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyAction, type MaskAction } from '../../src/masking/actions.js';
import { maskSpans, scan, allDetectors } from '../../src/masking/detectors.js';
import { col, setup } from './fixtures.js';

const key = Buffer.from('property-test key');
const actions: MaskAction[] = ['redact', 'email', 'partial', 'hash', 'format-preserving'];
const strings = fc.oneof(
  fc.string({ minLength: 1 }),
  fc.string({ unit: 'grapheme', minLength: 1 }),
  fc.emailAddress(),
  fc.stringMatching(/^\d{3}-\d{2}-\d{4}$/),
  fc.stringMatching(/^[0-9 -]{1,24}$/).filter((s) => s.length > 0),
  fc.constantFrom('*', '**', '#', '****', 'a***@b.co', '-', ' '),
);

for (const action of actions) {
  test(`${action}: the masked value never contains the clear value`, () => {
    fc.assert(
      fc.property(strings, (clear) => {
        const out = applyAction(action, clear, key)!;
        assert.ok(!out.includes(clear), `${JSON.stringify(clear)} -> ${JSON.stringify(out)}`);
      }),
      { numRuns: 2000 },
    );
  });
}

test('a rule-masked column never carries the clear value, text or binary, for every action', async () => {
  for (const action of [...actions, 'null' as const]) {
    const { hook } = setup({ rules: [{ columns: ['secret'], action }] });
    const m = (await hook!.planResult([col('secret'), col('secret', { format: 'binary', typeOid: 1043 })]))!;
    fc.assert(
      fc.property(strings, (clear) => {
        for (const i of [0, 1]) {
          const out = m.mask(i, Buffer.from(clear, 'utf8'));
          if (out !== null) assert.ok(!out.toString('utf8').includes(clear), `${action}: ${JSON.stringify(clear)}`);
        }
      }),
      { numRuns: 500 },
    );
  }
});

test('detectors: whatever surrounds a detected email or card, the masked text does not hold it', () => {
  const secret = fc.oneof(fc.emailAddress().filter((e) => /\.[A-Za-z]{2,}$/.test(e)), fc.constantFrom('4111111111111111', '5555 5555 5555 4444', '123-45-6789'));
  const around = fc.string({ maxLength: 20 }).map((s) => s.replace(/[A-Za-z0-9._%+\-@]+$/, ''));
  const after = fc.string({ maxLength: 20 }).map((s) => s.replace(/^[A-Za-z0-9.\-@ ]+/, ''));
  fc.assert(
    fc.property(around, secret, after, (a, s, z) => {
      const text = `${a} ${s} ${z}`;
      const masked = maskSpans(text, scan(text, allDetectors));
      assert.ok(!masked.includes(s), `${JSON.stringify(text)} -> ${JSON.stringify(masked)}`);
    }),
    { numRuns: 2000 },
  );
});

test('detectors: text with nothing to find comes back as the same Buffer', async () => {
  const { hook } = setup({ detectors: [...allDetectors] });
  const m = (await hook!.planResult([col('t')]))!;
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'abcxyz ,;!?ÄÖü→'.split('')) }), (s) => {
      const v = Buffer.from(s, 'utf8');
      assert.equal(m.mask(0, v), v);
    }),
  );
});
