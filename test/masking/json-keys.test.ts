import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyAction, type MaskAction } from '../../src/masking/actions.js';
import { compileGlob } from '../../src/masking/glob.js';
import { maskJsonKeys, maskLiteralJson, type KeyRule } from '../../src/masking/json-keys.js';
import { col, setup } from './fixtures.js';

const key = Buffer.from('json-keys test key');
const apply = (a: MaskAction, s: string) => applyAction(a, s, key);
function keyRules(...r: [MaskAction, ...string[]][]): { rules: KeyRule[]; hits: number[] } {
  const hits = r.map(() => 0);
  return { hits, rules: r.map(([action, ...globs], i) => ({ action, keyGlobs: globs.map(compileGlob), onHit: () => void hits[i]!++ })) };
}

test('a matching key masks its string value as a string; other keys and values untouched', () => {
  const { rules, hits } = keyRules(['redact', 'ssn'], ['email', 'email', '*_email'], ['partial', 'card_number']);
  const doc = '{"id":1,"name":"Ada","email":"ada@example.com","ssn":"168-49-5819","card_number":"4111111111111111","work_email":"a@b.co"}';
  const out = maskJsonKeys(doc, rules, apply);
  assert.deepEqual(JSON.parse(out), { id: 1, name: 'Ada', email: 'a***@example.com', ssn: '****', card_number: '************1111', work_email: 'a***@b.co' });
  assert.deepEqual(hits, [1, 2, 1]);
});

test('non-string values are masked as their JSON text and stay valid JSON; null stays null', () => {
  const { rules } = keyRules(['partial', 'card'], ['redact', 'ssn', 'secret']);
  const out = maskJsonKeys('{ "card" : 4111111111111111 , "ssn": {"a": [1, "168-49-5819"]}, "secret": null, "x": true }', rules, apply);
  assert.deepEqual(JSON.parse(out), { card: '************1111', ssn: '****', secret: null, x: true });
  const nul = keyRules(['null', 'ssn']);
  assert.deepEqual(JSON.parse(maskJsonKeys('{"ssn":"168-49-5819","k":[{"ssn":123456789}]}', nul.rules, apply)), { ssn: null, k: [{ ssn: null }] });
});

test('nested objects, arrays of objects (json_agg), escaped keys and values, whitespace (jsonb text)', () => {
  const { rules } = keyRules(['redact', 'ssn']);
  const doc = '[{"c": {"ssn": "168-49-5819", "note": "ssn \\"x\\""}}, {"s\\u0073n": "219-09-9999"}, {"ssn":"a\\"b"}]';
  const out = maskJsonKeys(doc, rules, apply);
  assert.deepEqual(JSON.parse(out), [{ c: { ssn: '****', note: 'ssn "x"' } }, { ssn: '****' }, { ssn: '****' }]);
  assert.ok(!out.includes('168-49-5819') && !out.includes('219-09-9999'));
  // A string that looks like a key inside a value is not a key.
  const v = '{"note":"\\"ssn\\":\\"1\\"","list":["ssn","x"]}';
  assert.equal(maskJsonKeys(v, rules, apply), v);
});

test('nothing matched: the same string back; not JSON: throws', () => {
  const { rules } = keyRules(['redact', 'ssn']);
  const doc = '{"a":{"b":[1,2,{"c":"d"}]}}';
  assert.equal(maskJsonKeys(doc, rules, apply), doc);
  assert.equal(maskJsonKeys('"ssn"', rules, apply), '"ssn"');
  assert.throws(() => maskJsonKeys('{"ssn":"unterminated', rules, apply));
});

test('property: any JSON object holding a secret under a rule key comes back valid JSON without it', () => {
  const { rules } = keyRules(['redact', 'ssn'], ['hash', 'token']);
  const secret = fc.string({ minLength: 12, maxLength: 30 }).filter((s) => s.trim().length >= 12);
  const value = fc.jsonValue({ maxDepth: 3 });
  fc.assert(
    fc.property(value, secret, fc.constantFrom('ssn', 'token', 'SSN'), (v, s, k) => {
      const doc = JSON.stringify({ a: v, nested: [{ [k]: s, b: v }], [k]: { deep: s } });
      const out = maskJsonKeys(doc, rules, apply);
      JSON.parse(out);
      assert.ok(!out.includes(JSON.stringify(s).slice(1, -1)), `${doc} -> ${out}`);
    }),
    { numRuns: 500 },
  );
});

test('masker: json/jsonb columns get rules on keys (text and binary, inside arrays and records), only when rules exist', async () => {
  const rules = [
    { columns: ['email'], action: 'email' as const },
    { columns: ['customers.ssn'], action: 'redact' as const, name: 'ssn' },
  ];
  const { hook, events } = setup({ rules });
  const m = (await hook!.planResult([
    col('row_to_json', { typeOid: 114 }),
    col('j', { typeOid: 3802, format: 'binary' }),
    col('arr', { typeOid: 199, format: 'binary' }),
    col('r', { typeOid: 2249, format: 'binary' }),
    col('t'),
  ]))!;
  const doc = '{"id":1,"email":"ada@example.com","ssn":"168-49-5819"}';
  const out = m.mask(0, Buffer.from(doc))!.toString();
  assert.deepEqual(JSON.parse(out), { id: 1, email: 'a***@example.com', ssn: '****' });
  const jb = m.mask(1, Buffer.concat([Buffer.from([1]), Buffer.from('{"ssn": "168-49-5819"}')]))!;
  assert.equal(jb[0], 1);
  assert.deepEqual(JSON.parse(jb.subarray(1).toString()), { ssn: '****' });
  // json[] with one element, and a record (int4, json)
  const el = Buffer.from(doc);
  const arr = Buffer.alloc(20 + 4 + el.length);
  arr.writeInt32BE(1, 0);
  arr.writeUInt32BE(114, 8);
  arr.writeInt32BE(1, 12);
  arr.writeInt32BE(1, 16);
  arr.writeInt32BE(el.length, 20);
  el.copy(arr, 24);
  const ma = m.mask(2, arr)!;
  assert.ok(!ma.includes('168-49-5819') && ma.includes('"ssn":"****"'));
  const rec = Buffer.alloc(4 + 8 + 4 + 8 + el.length);
  rec.writeInt32BE(2, 0);
  rec.writeUInt32BE(23, 4);
  rec.writeInt32BE(4, 8);
  rec.writeInt32BE(7, 12);
  rec.writeUInt32BE(114, 16);
  rec.writeInt32BE(el.length, 20);
  el.copy(rec, 24);
  const mr = m.mask(3, rec)!;
  assert.ok(!mr.includes('168-49-5819') && mr.includes('"ssn":"****"'));
  const clean = Buffer.from('{"id":1}');
  assert.equal(m.mask(0, clean), clean, 'no matching key: same Buffer');
  const t = Buffer.from('{"ssn":"x"}');
  assert.equal(m.mask(4, t), t, 'text columns are not parsed as JSON');
  hook!.endResult();
  assert.deepEqual(events[0]!.hits, { rule1: 3, ssn: 4 }, 'one hit per masked value');
  // Without rules (detectors only) JSON keys are not looked at.
  const det = setup({ detectors: ['email'] });
  const md = (await det.hook!.planResult([col('j', { typeOid: 114 })]))!;
  const d = Buffer.from('{"ssn":"x"}');
  assert.equal(md.mask(0, d), d);
});

test('text-format arrays and records: JSON in quoted elements gets the key rules, quoting kept', () => {
  const { rules } = keyRules(['redact', 'ssn']);
  const arr = '{"{\\"id\\":1,\\"ssn\\":\\"168-49-5819\\"}",NULL,"{\\"id\\":2}"}';
  const a = maskLiteralJson(arr, rules, apply);
  assert.equal(a, '{"{\\"id\\":1,\\"ssn\\":\\"****\\"}",NULL,"{\\"id\\":2}"}');
  const rec = '(1,"{""id"":1,""ssn"":""168-49-5819""}",x)';
  assert.equal(maskLiteralJson(rec, rules, apply), '(1,"{""id"":1,""ssn"":""****""}",x)');
  // A record inside an array, and plain text elements that are not JSON, untouched.
  // As PostgreSQL prints array_agg of (1, json_build_object('ssn', …)).
  const nested = String.raw`{"(1,\"{\"\"ssn\"\" : \"\"168-49-5819\"\"}\")","plain {text}"}`;
  const n = maskLiteralJson(nested, rules, apply);
  assert.equal(n, String.raw`{"(1,\"{\"\"ssn\"\" : \"\"****\"\"}\")","plain {text}"}`);
  const plain = '{a,b,"c d"}';
  assert.equal(maskLiteralJson(plain, rules, apply), plain);
});
