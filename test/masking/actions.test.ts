import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAction, formatPreserving, hashValue, maskEmail, partial, redact } from '../../src/masking/actions.js';
import { compileGlob } from '../../src/masking/glob.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef');

test('redact hides length and content', () => {
  assert.equal(redact('123-45-6789'), '****');
  assert.equal(redact('*'), '####');
  assert.equal(redact('**'), '####');
});

test('email keeps the first character and the domain', () => {
  assert.equal(maskEmail('john.doe@example.com'), 'j***@example.com');
  assert.equal(maskEmail('Ada.Lovelace1@mail.example.com'), 'A***@mail.example.com');
  assert.equal(maskEmail('not an address'), '****');
  assert.equal(maskEmail('@example.com'), '****');
  assert.equal(maskEmail('a@'), '****');
  // Already masked-looking input is not passed through unchanged.
  assert.notEqual(maskEmail('a***@example.com'), 'a***@example.com');
});

test('partial keeps the last 4 digits of numbers and their separators', () => {
  assert.equal(partial('4111 1111 1111 1111'), '**** **** **** 1111');
  assert.equal(partial('4111-1111-1111-1234'), '****-****-****-1234');
  assert.equal(partial('123-45-6789'), '***-**-6789');
  assert.equal(partial('+1 (555) 123-4567'), '+* (***) ***-4567');
  assert.equal(partial('Ada Lovelace'), '********lace');
  assert.equal(partial('ab'), '**');
});

test('hash is keyed, stable and hex', () => {
  const a = hashValue('ada@example.com', key);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.equal(hashValue('ada@example.com', key), a);
  assert.notEqual(hashValue('ada@example.com', Buffer.from('other key')), a);
  assert.notEqual(hashValue('bob@example.com', key), a);
});

test('format-preserving keeps length, case and separators, changes every digit and letter', () => {
  const v = '4111-1111-1111-1111';
  const m = formatPreserving(v, key);
  assert.equal(m.length, v.length);
  assert.match(m, /^\d{4}-\d{4}-\d{4}-\d{4}$/);
  for (let i = 0; i < v.length; i++) if (v[i] !== '-') assert.notEqual(m[i], v[i]);
  assert.equal(formatPreserving(v, key), m, 'stable');
  assert.notEqual(formatPreserving(v, Buffer.from('k2')), m, 'keyed');
  const n = formatPreserving('AB-12cd', key);
  assert.match(n, /^[A-Z]{2}-\d{2}[a-z]{2}$/);
});

test('null action gives SQL NULL', () => {
  assert.equal(applyAction('null', 'x', key), null);
});

test('globs: * and ?, case-insensitive, whole string', () => {
  const g = compileGlob('*_email');
  assert.ok(g('WORK_EMAIL'));
  assert.ok(!g('email'));
  assert.ok(compileGlob('customers.*')('Customers.SSN'));
  assert.ok(compileGlob('s?n')('ssn'));
  assert.ok(!compileGlob('ssn')('ssn2'));
  assert.ok(compileGlob('*')(''));
  assert.ok(compileGlob('a*b*c')('aXbYbZc'));
  assert.ok(!compileGlob('a*b*c')('aXbYbZ'));
  // No blow-up on adversarial patterns.
  assert.ok(!compileGlob('*a*a*a*a*a*a*a*b')('a'.repeat(5000)));
});
