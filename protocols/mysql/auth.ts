/**
 * Password scrambles of the MySQL authentication plugins (§ Native Authentication, § Caching_sha2_password,
 * § SHA256 / RSA password exchange). Scrambles are the 20-byte auth-plugin-data without a trailing NUL.
 */
import crypto from 'node:crypto';
import { ProtocolError } from './reader.js';

/** AuthMoreData bytes of caching_sha2_password (§ Caching_sha2_password information). */
export const REQUEST_PUBLIC_KEY = 0x02;
export const FAST_AUTH_SUCCESS = 0x03;
export const PERFORM_FULL_AUTHENTICATION = 0x04;

const sha1 = (...parts: Buffer[]) => {
  const h = crypto.createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Buffer[]) => {
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

const bytesOf = (password: string | Buffer) => (typeof password === 'string' ? Buffer.from(password, 'utf8') : password);

/** '*' + upper-case hex of SHA1(SHA1(password)): the form `IDENTIFIED BY PASSWORD '…'` takes. */
export function nativePasswordHash(password: string): string {
  return '*' + sha1(sha1(Buffer.from(password, 'utf8'))).toString('hex').toUpperCase();
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). An empty password answers with no bytes. */
export function nativePasswordScramble(password: string | Buffer, scramble: Buffer): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  const stage1 = sha1(pw);
  return nativePasswordScrambleFromHash(stage1, sha1(stage1), scramble);
}

/** The same from precomputed stage1 = SHA1(pw) and stage2 = SHA1(SHA1(pw)). */
export function nativePasswordScrambleFromHash(stage1: Buffer, stage2: Buffer, scramble: Buffer): Buffer {
  return xor(stage1, sha1(scramble, stage2));
}

/** caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). Empty password: no bytes. */
export function cachingSha2Scramble(password: string | Buffer, scramble: Buffer): Buffer {
  const pw = bytesOf(password);
  if (pw.length === 0) return Buffer.alloc(0);
  const stage1 = sha256(pw);
  return xor(stage1, sha256(sha256(stage1), scramble));
}

/** The password (with its trailing NUL) XORed with the scramble repeated: what gets RSA-encrypted. */
export function xorPassword(password: Buffer, scramble: Buffer): Buffer {
  if (scramble.length === 0) throw new ProtocolError('empty scramble');
  const out = Buffer.allocUnsafe(password.length);
  for (let i = 0; i < password.length; i++) out[i] = password[i]! ^ scramble[i % scramble.length]!;
  return out;
}

/** RSA-OAEP (SHA-1) of (password + NUL) XOR scramble, for sha256_password / caching_sha2_password full authentication. */
export function rsaEncryptPassword(publicKeyPem: string, password: string, scramble: Buffer): Buffer {
  const plain = xorPassword(Buffer.from(password + '\0', 'utf8'), scramble);
  return crypto.publicEncrypt({ key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
}

/** The inverse of rsaEncryptPassword: the password without its trailing NUL. */
export function rsaDecryptPassword(privateKey: crypto.KeyObject, encrypted: Buffer, scramble: Buffer): string {
  return unscramble(
    crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, encrypted),
    scramble,
  );
}

/**
 * The same with a WebCrypto key (RSA-OAEP, SHA-1): the decryption — milliseconds for a 4096-bit
 * key — runs in the thread pool, not on the event loop every session shares.
 */
export async function rsaDecryptPasswordAsync(privateKey: crypto.webcrypto.CryptoKey, encrypted: Buffer, scramble: Buffer): Promise<string> {
  return unscramble(Buffer.from(await crypto.webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, privateKey, encrypted)), scramble);
}

function unscramble(decrypted: Buffer, scramble: Buffer): string {
  const plain = xorPassword(decrypted, scramble);
  const end = plain.length > 0 && plain[plain.length - 1] === 0 ? plain.length - 1 : plain.length;
  return plain.toString('utf8', 0, end);
}
