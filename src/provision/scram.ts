/**
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677): keys derived once from the ephemeral password,
 * PostgreSQL's stored verifier, and the client half of the exchange so jitgate can log in
 * upstream without running PBKDF2 again at every login.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ScramKeys } from '../engine/types.js';

const pbkdf2Async = promisify(pbkdf2);

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * The password is used as its UTF-8 bytes. SASLprep leaves printable ASCII unchanged, which
 * is all an ephemeral (base64url) password holds; PostgreSQL does the same for such input.
 */
export async function deriveScramKeys(
  password: string,
  opts: { salt?: Buffer; iterations?: number } = {},
): Promise<ScramKeys> {
  const salt = opts.salt ?? randomBytes(16);
  const iterations = opts.iterations ?? 4096;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    salt: Buffer.from(salt),
    iterations,
    clientKey,
    storedKey: sha256(clientKey),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** PostgreSQL's stored form: `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (base64). */
export function scramVerifier(keys: ScramKeys): string {
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${keys.iterations}:${b64(keys.salt)}$${b64(keys.storedKey)}:${b64(keys.serverKey)}`;
}

/** saslname escaping (RFC 5802 §5.1). */
function saslName(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function parseAttributes(msg: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of msg.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) throw new Error('SCRAM: malformed server message');
    if (!attrs.has(m[1]!)) attrs.set(m[1]!, m[2]!);
  }
  return attrs;
}

type State = 'initial' | 'first-sent' | 'final-sent' | 'done';

/** Client side of SCRAM-SHA-256 without channel binding (gs2 header `n,,`), from precomputed keys. */
export class ScramClient {
  readonly #keys: ScramKeys;
  readonly #user: string;
  readonly #nonce: string;
  #state: State = 'initial';
  #clientFirstBare = '';
  #expectedServerSignature: Buffer | null = null;

  /** `user` defaults to `*`: PostgreSQL takes the user from the startup message. `nonce` is for test vectors only. */
  constructor(keys: ScramKeys, user = '*', opts: { nonce?: string } = {}) {
    this.#keys = keys;
    this.#user = user;
    this.#nonce = opts.nonce ?? randomBytes(18).toString('base64');
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(this.#nonce)) throw new Error('SCRAM: nonce must be printable and comma-free');
  }

  clientFirstMessage(): string {
    if (this.#state !== 'initial') throw new Error('SCRAM: client-first already sent');
    this.#state = 'first-sent';
    this.#clientFirstBare = `n=${saslName(this.#user)},r=${this.#nonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  /** Checks the server-first message and returns the client-final message. */
  handleServerFirst(serverFirst: string): string {
    if (this.#state !== 'first-sent') throw new Error('SCRAM: unexpected server-first message');
    this.#state = 'final-sent';
    const attrs = parseAttributes(serverFirst);
    if (attrs.has('m')) throw new Error('SCRAM: unsupported mandatory extension');
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = attrs.get('i');
    if (nonce === undefined || salt === undefined || iterations === undefined) throw new Error('SCRAM: server-first lacks r, s or i');
    if (!nonce.startsWith(this.#nonce) || nonce.length <= this.#nonce.length) throw new Error('SCRAM: server nonce does not extend the client nonce');
    if (!/^\d+$/.test(iterations) || Number(iterations) !== this.#keys.iterations || !Buffer.from(salt, 'base64').equals(this.#keys.salt)) {
      // The server holds a verifier jitgate did not compute: not our user, or it was altered.
      throw new Error('SCRAM: server salt or iteration count does not match the provisioned verifier');
    }
    const finalWithoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${finalWithoutProof}`;
    const clientSignature = hmac(this.#keys.storedKey, authMessage);
    const proof = xor(this.#keys.clientKey, clientSignature);
    this.#expectedServerSignature = hmac(this.#keys.serverKey, authMessage);
    return `${finalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Verifies the server's signature (constant-time); throws when it is wrong or the server reported an error. */
  verifyServerFinal(serverFinal: string): void {
    if (this.#state !== 'final-sent' || !this.#expectedServerSignature) throw new Error('SCRAM: unexpected server-final message');
    this.#state = 'done';
    const attrs = parseAttributes(serverFinal);
    const error = attrs.get('e');
    if (error !== undefined) throw new Error(`SCRAM: server reported ${error}`);
    const v = attrs.get('v');
    if (v === undefined) throw new Error('SCRAM: server-final lacks a signature');
    const got = Buffer.from(v, 'base64');
    const want = this.#expectedServerSignature;
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error('SCRAM: bad server signature');
  }
}
