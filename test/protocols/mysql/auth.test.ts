import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fc from 'fast-check';
import * as my from '../../../protocols/mysql/index.js';

const sha1 = (...b: Buffer[]) => crypto.createHash('sha1').update(Buffer.concat(b)).digest();
const sha256 = (...b: Buffer[]) => crypto.createHash('sha256').update(Buffer.concat(b)).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

const scrambleArb = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a));
const passwordArb = fc.string({ minLength: 1, maxLength: 64 });

describe('mysql_native_password', () => {
  it("nativePasswordHash('password') is the documented PASSWORD() value", () => {
    assert.equal(my.nativePasswordHash('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
    assert.equal(my.nativePasswordHash(''), '*BE1BDEC0AA74B4DCB079943E70528096CCA985F8');
  });

  it('an empty password answers with no bytes', () => {
    assert.equal(my.nativePasswordScramble('', Buffer.alloc(20, 1)).length, 0);
    assert.equal(my.nativePasswordScramble(Buffer.alloc(0), Buffer.alloc(20, 1)).length, 0);
  });

  it('the server check passes: SHA1(response XOR SHA1(scramble + stage2)) === stage2; the precomputed form agrees', () => {
    fc.assert(
      fc.property(passwordArb, scrambleArb, (pw, scramble) => {
        const response = my.nativePasswordScramble(pw, scramble);
        assert.equal(response.length, 20);
        // What the server stores is the hash without '*'.
        const stage2 = Buffer.from(my.nativePasswordHash(pw).slice(1), 'hex');
        const stage1 = xor(response, sha1(scramble, stage2));
        assert.ok(sha1(stage1).equals(stage2));
        assert.ok(my.nativePasswordScrambleFromHash(stage1, stage2, scramble).equals(response));
        assert.ok(my.nativePasswordScramble(Buffer.from(pw, 'utf8'), scramble).equals(response));
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('a different scramble gives a different response', () => {
    const a = my.nativePasswordScramble('pw', Buffer.alloc(20, 1));
    const b = my.nativePasswordScramble('pw', Buffer.alloc(20, 2));
    assert.ok(!a.equals(b));
  });
});

describe('caching_sha2_password', () => {
  it('constants of AuthMoreData', () => {
    assert.deepEqual([my.REQUEST_PUBLIC_KEY, my.FAST_AUTH_SUCCESS, my.PERFORM_FULL_AUTHENTICATION], [2, 3, 4]);
  });

  it('the server fast-path check passes: SHA256(response XOR SHA256(stored + scramble)) === stored', () => {
    fc.assert(
      fc.property(passwordArb, scrambleArb, (pw, scramble) => {
        const response = my.cachingSha2Scramble(pw, scramble);
        assert.equal(response.length, 32);
        const stored = sha256(sha256(Buffer.from(pw, 'utf8')));
        const stage1 = xor(response, sha256(stored, scramble));
        assert.ok(sha256(stage1).equals(stored));
      }),
      { seed: 42, numRuns: 200 },
    );
    assert.equal(my.cachingSha2Scramble('', Buffer.alloc(20)).length, 0);
  });
});

describe('RSA password exchange (sha256_password / caching_sha2_password full authentication)', () => {
  it('xorPassword cycles the scramble and is its own inverse', () => {
    const scramble = Buffer.from('0123456789abcdefghij');
    const pw = Buffer.from('a much longer password than twenty bytes\0');
    const x = my.xorPassword(pw, scramble);
    for (let i = 0; i < pw.length; i++) assert.equal(x[i], pw[i]! ^ scramble[i % 20]!);
    assert.ok(my.xorPassword(x, scramble).equals(pw));
    assert.throws(() => my.xorPassword(pw, Buffer.alloc(0)), my.ProtocolError);
  });

  it('a 400-byte password with a 4096-bit key: encrypt with the public PEM, decrypt with the private key', () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 4096 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const scramble = crypto.randomBytes(20);
    const password = 'p€'.repeat(75) + 'x'.repeat(100); // 400 bytes of UTF-8
    assert.equal(Buffer.byteLength(password), 400);
    const encrypted = my.rsaEncryptPassword(pem, password, scramble);
    assert.equal(encrypted.length, 512);
    assert.equal(my.rsaDecryptPassword(privateKey, encrypted, scramble), password);
    // OAEP with SHA-1, and the plaintext is (password + NUL) XOR scramble.
    const raw = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, encrypted);
    assert.ok(my.xorPassword(raw, scramble).equals(Buffer.from(password + '\0')));
    assert.notEqual(my.rsaDecryptPassword(privateKey, encrypted, crypto.randomBytes(20)), password, 'another scramble');
    assert.equal(my.rsaDecryptPassword(privateKey, my.rsaEncryptPassword(pem, '', scramble), scramble), '');
  });

  it('rsaDecryptPasswordAsync (WebCrypto, off the event loop) gives what rsaDecryptPassword gives; a wrong key rejects', async () => {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await crypto.webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const scramble = crypto.randomBytes(20);
    const encrypted = my.rsaEncryptPassword(pem, 'a-token.of.some.length', scramble);
    assert.equal(await my.rsaDecryptPasswordAsync(key, encrypted, scramble), 'a-token.of.some.length');
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const otherKey = await crypto.webcrypto.subtle.importKey('pkcs8', other.export({ type: 'pkcs8', format: 'der' }), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']);
    await assert.rejects(my.rsaDecryptPasswordAsync(otherKey, encrypted, scramble));
  });
});
