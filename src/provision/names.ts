/** Names and passwords of ephemeral upstream users. */
import { createHmac, randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function randomBase32(n: number): string {
  // 32 divides 256, so `byte & 31` is uniform.
  const bytes = randomBytes(n);
  let out = '';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/**
 * `jit_<8 hex of HMAC-SHA256(key, sub)>_<12 random base32>` (25 chars): the prefix lets an
 * operator group one identity's users without the name revealing the identity.
 */
export function ephemeralUserName(sub: string, key: Buffer): string {
  const tag = createHmac('sha256', key).update(sub, 'utf8').digest('hex').slice(0, 8);
  return `jit_${tag}_${randomBase32(12)}`;
}

/** 32 random bytes, base64url (43 chars). */
export function ephemeralPassword(): string {
  return randomBytes(32).toString('base64url');
}

export const EPHEMERAL_NAME = /^jit_[0-9a-f]{8}_[a-z2-7]{12}$/;
