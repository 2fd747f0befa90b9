/**
 * The signed seal at the end of a recording: a signature with the proxy's signing key
 * (auth.signingKeys) over the chain hash before the seal and the seal's own contents, so
 * nothing before it can change, and nothing can be cut off, without breaking the signature.
 */
import crypto, { KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import type { JWK } from 'jose';
import { loadSigningKey } from '../auth/keys.js';
import type { Config } from '../config/schema.js';

export interface Signer {
  kid: string;
  alg: string;
  sign(data: Buffer): Buffer;
}

export interface SealVerifier {
  /** null when no configured key has this kid. */
  verify(kid: string, alg: string, data: Buffer, sig: Buffer): boolean | null;
}

/** node:crypto digest and signature encoding for a JOSE algorithm. */
function algParams(alg: string): { digest: string | null; dsaEncoding?: 'ieee-p1363' } {
  switch (alg) {
    case 'EdDSA':
      return { digest: null };
    case 'ES256':
      return { digest: 'sha256', dsaEncoding: 'ieee-p1363' };
    case 'ES384':
      return { digest: 'sha384', dsaEncoding: 'ieee-p1363' };
    case 'RS256':
      return { digest: 'sha256' };
    default:
      throw new Error(`unsupported seal algorithm ${alg}`);
  }
}

export async function loadSigner(config: Config): Promise<Signer | null> {
  if (!config.auth.signingKeys) return null;
  const k = await loadSigningKey(config.auth.signingKeys);
  const key = KeyObject.from(k.key);
  const { digest, dsaEncoding } = algParams(k.alg);
  return {
    kid: k.kid,
    alg: k.alg,
    sign: (data) => crypto.sign(digest, data, dsaEncoding ? { key, dsaEncoding } : key),
  };
}

/** Public keys that may have sealed a recording: the signing key's public half and local trust files. */
export async function loadSealVerifier(config: Config): Promise<SealVerifier> {
  const jwks: JWK[] = [];
  if (config.auth.signingKeys) jwks.push((await loadSigningKey(config.auth.signingKeys)).publicJwk);
  for (const entry of config.auth.trust) {
    if (/^[a-z]+:\/\//i.test(entry)) continue;
    try {
      const parsed = JSON.parse(await fs.readFile(entry, 'utf8')) as { keys?: JWK[] };
      for (const k of parsed.keys ?? []) if (k && typeof k === 'object' && k.kid) jwks.push(k);
    } catch {
      // An unreadable trust file is reported by `jitgate check`; here it just adds no key.
    }
  }
  return {
    verify(kid, alg, data, sig) {
      const candidates = jwks.filter((j) => j.kid === kid);
      if (candidates.length === 0) return null;
      for (const jwk of candidates) {
        try {
          const { d: _d, ...pub } = jwk as JWK & { d?: string };
          const key = crypto.createPublicKey({ key: pub as crypto.JsonWebKey, format: 'jwk' });
          const { digest, dsaEncoding } = algParams(alg);
          if (crypto.verify(digest, data, dsaEncoding ? { key, dsaEncoding } : key, sig)) return true;
        } catch {
          // a key of another type: try the next
        }
      }
      return false;
    },
  };
}
