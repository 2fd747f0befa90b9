import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EPHEMERAL_NAME, ephemeralPassword, ephemeralUserName } from '../../src/provision/names.js';
import { isTransient, quoteIdent, quoteLiteral } from '../../src/provision/sql.js';

test('ephemeral user names: jit_ + 8 hex of HMAC(sub) + _ + 12 base32, 25 chars, fresh each time', () => {
  const key = Buffer.alloc(32, 7);
  const a = ephemeralUserName('alice@example.com', key);
  const b = ephemeralUserName('alice@example.com', key);
  const c = ephemeralUserName('bob@example.com', key);
  for (const n of [a, b, c]) {
    assert.match(n, EPHEMERAL_NAME);
    assert.equal(n.length, 25);
  }
  assert.equal(a.slice(0, 12), b.slice(0, 12));
  assert.notEqual(a, b);
  assert.notEqual(a.slice(0, 12), c.slice(0, 12));
  assert.notEqual(ephemeralUserName('alice@example.com', Buffer.alloc(32, 8)).slice(0, 12), a.slice(0, 12));
  assert.ok(!a.includes('alice'));
});

test('ephemeral passwords: 32 random bytes as base64url', () => {
  const p = ephemeralPassword();
  assert.match(p, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(p, 'base64url').length, 32);
  assert.notEqual(p, ephemeralPassword());
});

test('identifiers and literals are quoted by PostgreSQL rules', () => {
  assert.equal(quoteIdent('app_read'), '"app_read"');
  assert.equal(quoteIdent('we"ird'), '"we""ird"');
  assert.throws(() => quoteIdent('a\0b'));
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
  assert.throws(() => quoteLiteral('a\0b'));
});

test('transient failures are recognised by SQLSTATE and connection error codes', () => {
  for (const code of ['2BP01', '55006', '40001', '40P01', '57P01', '08006']) assert.equal(isTransient({ code }), true, code);
  for (const code of ['42501', '42704', '23505']) assert.equal(isTransient({ code }), false, code);
  assert.equal(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' })), true);
  assert.equal(isTransient(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isTransient(new TypeError('bug')), false);
});
