import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResultMasker } from '../../src/engine/types.js';
import { JitError } from '../../src/errors.js';
import { col, FakeCatalog, setup } from './fixtures.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const text = (v: Buffer | null) => (v === null ? null : v.toString('utf8'));

async function plan(hook: { planResult: (c: never) => unknown }, cols: unknown[]): Promise<ResultMasker | null> {
  return (await hook.planResult(cols as never)) as ResultMasker | null;
}

const rules = [
  { columns: ['email', '*_email'], action: 'email' as const },
  { columns: ['customers.ssn'], action: 'redact' as const, name: 'ssn' },
  { columns: ['public.customers.card_number'], action: 'partial' as const },
];

test('a rule matches the output name', async () => {
  const { hook } = setup({ rules });
  const m = (await plan(hook!, [col('id', { typeOid: 23 }), col('work_email')]))!;
  const id = b('1');
  assert.equal(m.mask(0, id), id, 'unmatched column: same Buffer');
  assert.equal(text(m.mask(1, b('ada@example.com'))), 'a***@example.com');
  assert.equal(m.mask(1, null), null);
});

test('a rule matches the source column whatever the alias (catalog looked up once, then cached)', async () => {
  const { hook, catalog } = setup({ rules });
  const cols = [col('x', { tableOid: 1000, attnum: 3 }), col('y', { tableOid: 1000, attnum: 4 }), col('z', { tableOid: 1000, attnum: 5 }), col('n', { tableOid: 1000, attnum: 2 })];
  const p = hook!.planResult(cols);
  assert.ok(p instanceof Promise, 'first time: catalog lookup');
  const m = (await p)!;
  assert.equal(text(m.mask(0, b('ada@example.com'))), 'a***@example.com');
  assert.equal(text(m.mask(1, b('123-45-6789'))), '****');
  assert.equal(text(m.mask(2, b('4111111111111111'))), '************1111');
  const name = b('Ada');
  assert.equal(m.mask(3, name), name);
  const again = hook!.planResult(cols);
  assert.ok(!(again instanceof Promise), 'cached: synchronous');
  assert.equal(catalog.loads, 1);
  hook!.commandComplete('ALTER TABLE');
  assert.ok(hook!.planResult(cols) instanceof Promise, 'DDL invalidates');
  hook!.commandComplete('SELECT 3');
});

test('no rule applies and no detectors: null plan, rows pass untouched', async () => {
  const { hook } = setup({ rules });
  assert.equal(await plan(hook!, [col('id', { typeOid: 23 }), col('name')]), null);
});

test('no rules and no detectors at all: no hook', () => {
  assert.equal(setup({}).hook, null);
});

test('detectors mask any text column and leave clean values as the same Buffer', async () => {
  const { hook } = setup({ detectors: ['email', 'credit_card', 'us_ssn'] });
  const m = (await plan(hook!, [col('note'), col('n', { typeOid: 1700 })]))!;
  const clean = b('Prefers phone contact.');
  assert.equal(m.mask(0, clean), clean);
  assert.equal(text(m.mask(0, b('Backup: ada@example.com, card 4111 1111 1111 1111, ssn 123-45-6789'))), 'Backup: a***@example.com, card **** **** **** 1111, ssn ***-**-6789');
  assert.equal(m.mask(1, b('4111111111111111')), null, 'a number holding a card cannot be rewritten as a number: NULL');
  const n = b('42');
  assert.equal(m.mask(1, n), n);
  // Non-ASCII text around a finding survives byte-exact.
  assert.equal(text(m.mask(0, b('Jürgen → jürgen.x@example.com ✓'))), 'Jürgen → j***@example.com ✓');
});

test('json: rule output stays valid JSON; detectors inside JSON documents', async () => {
  const { hook } = setup({ rules: [{ columns: ['doc'], action: 'redact' }], detectors: ['email'] });
  const m = (await plan(hook!, [col('doc', { typeOid: 114 }), col('j', { typeOid: 3802 })]))!;
  assert.equal(text(m.mask(0, b('"ada@example.com"'))), '"****"');
  assert.equal(text(m.mask(0, b('{"a":1}'))), '"****"');
  const out = text(m.mask(1, b('{"email": "ada@example.com", "id": 1}')))!;
  assert.deepEqual(JSON.parse(out), { email: 'a***@example.com', id: 1 });
});

test('binary text-like types are decoded, masked and re-encoded', async () => {
  const { hook } = setup({ rules, detectors: ['email'] });
  const m = (await plan(hook!, [
    col('email', { typeOid: 1043, format: 'binary' }),
    col('note', { typeOid: 25, format: 'binary' }),
    col('doc', { typeOid: 3802, format: 'binary' }),
    col('nm', { typeOid: 19, format: 'binary' }),
  ]))!;
  assert.equal(text(m.mask(0, b('ada@example.com'))), 'a***@example.com');
  assert.equal(text(m.mask(1, b('mail ada@example.com'))), 'mail a***@example.com');
  const jsonb = Buffer.concat([Buffer.from([1]), b('{"e": "ada@example.com"}')]);
  const mj = m.mask(2, jsonb)!;
  assert.equal(mj[0], 1, 'jsonb version byte kept');
  assert.equal(mj.subarray(1).toString(), '{"e": "a***@example.com"}');
  assert.equal(text(m.mask(3, b('bob@example.org'))), 'b***@example.org');
});

test('binary jsonb under a rule keeps its version byte and stays JSON', async () => {
  const { hook } = setup({ rules: [{ columns: ['email'], action: 'email' }] });
  const m = (await plan(hook!, [col('email', { typeOid: 3802, format: 'binary' })]))!;
  const out = m.mask(0, Buffer.concat([Buffer.from([1]), b('"ada@example.com"')]))!;
  assert.equal(out[0], 1);
  assert.equal(JSON.parse(out.subarray(1).toString()), 'a***@example.com');
});

test('a rule on a non-text binary column: NULL by default, an error when configured; never the value', async () => {
  const int4 = Buffer.from([0, 0, 0, 42]);
  const nul = setup({ rules: [{ columns: ['secret'], action: 'partial' }] });
  const m1 = (await plan(nul.hook!, [col('secret', { typeOid: 23, format: 'binary' })]))!;
  assert.equal(m1.mask(0, int4), null);
  const err = setup({ rules: [{ columns: ['secret'], action: 'partial', onBinary: 'error' }] });
  const m2 = (await plan(err.hook!, [col('secret', { typeOid: 23, format: 'binary' })]))!;
  assert.throws(() => m2.mask(0, int4), (e: unknown) => e instanceof JitError && e.code === 'masking_failed');
});

function textArray(items: (string | null)[], elem = 25): Buffer {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(20);
  h.writeInt32BE(1, 0);
  h.writeInt32BE(items.includes(null) ? 1 : 0, 4);
  h.writeUInt32BE(elem, 8);
  h.writeInt32BE(items.length, 12);
  h.writeInt32BE(1, 16);
  parts.push(h);
  for (const it of items) {
    const l = Buffer.alloc(4);
    if (it === null) {
      l.writeInt32BE(-1);
      parts.push(l);
    } else {
      l.writeInt32BE(Buffer.byteLength(it));
      parts.push(l, b(it));
    }
  }
  return Buffer.concat(parts);
}

function record(fields: [number, Buffer | null][]): Buffer {
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  n.writeInt32BE(fields.length);
  parts.push(n);
  for (const [oid, v] of fields) {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(oid);
    h.writeInt32BE(v ? v.length : -1, 4);
    parts.push(h);
    if (v) parts.push(v);
  }
  return Buffer.concat(parts);
}

test('binary arrays and records of text are masked element by element', async () => {
  const cat = new FakeCatalog({ 50000: { typtype: 'c', category: 'C', elem: 0, base: 0 } });
  const { hook } = setup({ detectors: ['email', 'credit_card'] }, { catalog: cat });
  const m = (await plan(hook!, [
    col('a', { typeOid: 1009, format: 'binary' }),
    col('r', { typeOid: 2249, format: 'binary' }),
    col('c', { typeOid: 50000, format: 'binary' }),
    col('i', { typeOid: 1007, format: 'binary' }),
  ]))!;
  const arr = textArray(['ada@example.com', null, 'clean']);
  const out = m.mask(0, arr)!;
  assert.ok(!out.includes(b('ada@example.com')));
  assert.ok(out.includes(b('a***@example.com')) && out.includes(b('clean')));
  const clean = textArray(['x', 'y']);
  assert.equal(m.mask(0, clean), clean);
  const int8 = Buffer.alloc(8);
  int8.writeBigInt64BE(4111111111111111n);
  const rec = record([[23, Buffer.from([0, 0, 0, 1])], [25, b('ada@example.com')], [25, null]]);
  const mr = m.mask(1, rec)!;
  assert.ok(!mr.includes(b('ada@example.com')) && mr.includes(b('a***@example.com')));
  assert.ok(!m.mask(2, rec)!.includes(b('ada@example.com')), 'a table row type resolves to a record');
  assert.equal(m.mask(1, record([[20, int8]])), null, 'a card number as int8 inside a record cannot be rewritten: NULL');
  const ints = Buffer.concat([textArray([], 23)]);
  assert.equal(m.mask(3, ints), ints);
});

test('binary int8 / numeric holding a card number become NULL (or an error)', async () => {
  const { hook } = setup({ detectors: ['credit_card'] });
  const m = (await plan(hook!, [col('a', { typeOid: 20, format: 'binary' }), col('b', { typeOid: 1700, format: 'binary' })]))!;
  const card = Buffer.alloc(8);
  card.writeBigInt64BE(4111111111111111n);
  const small = Buffer.alloc(8);
  small.writeBigInt64BE(42n);
  assert.equal(m.mask(0, card), null);
  assert.equal(m.mask(0, small), small);
  // numeric 4111111111111111: base-10000 digits 4111 1111 1111 1111, weight 3
  const num = Buffer.alloc(16);
  num.writeInt16BE(4, 0);
  num.writeInt16BE(3, 2);
  [4111, 1111, 1111, 1111].forEach((d, i) => num.writeInt16BE(d, 8 + i * 2));
  assert.equal(m.mask(1, num), null);
});

test('user-defined types: a domain over text, an enum, and an unknown type inside a record (fails closed)', async () => {
  const cat = new FakeCatalog({
    60000: { typtype: 'd', category: 'S', elem: 0, base: 25 },
    60001: { typtype: 'e', category: 'E', elem: 0, base: 0 },
  });
  const { hook } = setup({ detectors: ['email'] }, { catalog: cat });
  const m = (await plan(hook!, [col('d', { typeOid: 60000, format: 'binary' }), col('e', { typeOid: 60001, format: 'binary' }), col('r', { typeOid: 2249, format: 'binary' })]))!;
  assert.equal(text(m.mask(0, b('ada@example.com'))), 'a***@example.com');
  assert.equal(text(m.mask(1, b('ada@example.com'))), 'a***@example.com');
  assert.equal(m.mask(2, record([[70000, b('ada@example.com')]])), null);
});

test('a catalog failure fails closed with masking_failed', async () => {
  const cat = new FakeCatalog();
  cat.fail = true;
  const { hook } = setup({ rules }, { catalog: cat });
  await assert.rejects(async () => hook!.planResult([col('x', { tableOid: 1000, attnum: 3 })]), (e: unknown) => e instanceof JitError && e.code === 'masking_failed');
});

test('a malformed binary value fails closed (NULL or error, never the value)', async () => {
  const { hook } = setup({ detectors: ['email'], onBinary: 'error' });
  const m = (await plan(hook!, [col('a', { typeOid: 1009, format: 'binary' })]))!;
  assert.throws(() => m.mask(0, Buffer.from([0, 0, 0, 1])), (e: unknown) => e instanceof JitError && e.code === 'masking_failed');
});

test('maskText: detectors, unique-violation keys of rule columns, failing rows', () => {
  const { hook, events } = setup({ rules, detectors: ['email'] });
  assert.equal(hook!.maskText('duplicate key value violates unique constraint "c_email_key"'), 'duplicate key value violates unique constraint "c_email_key"');
  assert.equal(hook!.maskText('Key (email)=(ada@example.com) already exists.'), 'Key (email)=(****) already exists.');
  assert.equal(hook!.maskText('Key (ssn)=(123456789) already exists.'), 'Key (ssn)=(****) already exists.');
  assert.equal(hook!.maskText('Key (lower(email::text))=(ada@example.com) already exists.'), 'Key (lower(email::text))=(****) already exists.');
  assert.equal(hook!.maskText('Key (id)=(42) already exists.'), 'Key (id)=(42) already exists.');
  assert.equal(hook!.maskText('Key (id, ssn)=(1, 123) is not present in table "x".'), 'Key (id, ssn)=(****) is not present in table "x".');
  assert.equal(hook!.maskText('Failing row contains (1, Ada, 123456789, null).'), 'Failing row contains (****).');
  assert.equal(hook!.maskText('payload ada@example.com'), 'payload a***@example.com');
  assert.ok(events.some((e) => e.where === 'text' && e.hits.email === 1));
  assert.ok(!JSON.stringify(events).includes('ada@example.com'));
});

test('audit: one mask-hit event per result with rule/detector counts, never a value', async () => {
  const { hook, events } = setup({ rules, detectors: ['credit_card'] });
  const m = (await plan(hook!, [col('email'), col('note')]))!;
  m.mask(0, b('ada@example.com'));
  m.mask(0, b('bob@example.com'));
  m.mask(1, b('card 4111111111111111'));
  m.mask(1, b('nothing'));
  hook!.endResult();
  hook!.endResult();
  assert.equal(events.length, 1);
  assert.deepEqual(events[0]!.hits, { rule1: 2, credit_card: 1 });
  assert.equal(events[0]!.where, 'result');
  assert.equal(events[0]!.sub, 'alice');
  assert.ok(!JSON.stringify(events).includes('example.com'));
});

test('exempt role profiles get no masking, and that is logged', () => {
  const { hook, logs } = setup({ rules, detectors: ['email'], exempt: ['admin'] }, { role: 'admin' });
  assert.equal(hook, null);
  assert.ok(logs.some((l) => (l as { event: string }).event === 'mask.exempt'));
});

test('a row with more cells than its description fails closed', async () => {
  const { hook } = setup({ rules });
  const m = (await plan(hook!, [col('email')]))!;
  assert.throws(() => m.mask(1, b('x')), (e: unknown) => e instanceof JitError && e.code === 'masking_failed');
});

test('json: a detected number outside a string becomes a JSON string; the document stays valid', async () => {
  const { hook } = setup({ detectors: ['credit_card', 'email'] });
  const m = (await plan(hook!, [col('j', { typeOid: 114 })]))!;
  const out = text(m.mask(0, b('{"card":4111111111111111,"s":"4111 1111 1111 1111","e":"a\\"b@example.com"}')))!;
  assert.deepEqual(JSON.parse(out), { card: '************1111', s: '**** **** **** 1111', e: 'a"b***@example.com'.replace('b***', 'b***') });
});
