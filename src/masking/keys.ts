/** The key for `hash` and `format-preserving`: `masking.hashKey`, else derived from the signing key. */
import fs from 'node:fs';
import { createHash, createHmac } from 'node:crypto';
import type { Config } from '../config/schema.js';

export function maskingKey(config: Config): Buffer {
  if (config.masking.hashKey) return createHash('sha256').update('jitgate masking key\0').update(config.masking.hashKey, 'utf8').digest();
  const seed =
    config.auth.signingKeys && fs.existsSync(config.auth.signingKeys)
      ? fs.readFileSync(config.auth.signingKeys)
      : Buffer.from(`${config.auth.issuer}\0${config.instance ?? ''}`);
  return createHmac('sha256', seed).update('jitgate masking key').digest();
}
