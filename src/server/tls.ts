/** Client-facing TLS: the configured certificate, or a self-signed one made at start. */
import fs from 'node:fs';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { Config } from '../config/schema.js';
import { UsageError } from '../errors.js';

export async function serverSecureContext(config: Config): Promise<{ context: tls.SecureContext; selfSigned: boolean; cert: string }> {
  if (config.tls.cert && config.tls.key) {
    let cert: string;
    let key: string;
    try {
      cert = fs.readFileSync(config.tls.cert, 'utf8');
    } catch (e) {
      throw new UsageError(`tls.cert: cannot read ${config.tls.cert}: ${(e as NodeJS.ErrnoException).code}`, 'tls.cert');
    }
    try {
      key = fs.readFileSync(config.tls.key, 'utf8');
    } catch (e) {
      throw new UsageError(`tls.key: cannot read ${config.tls.key}: ${(e as NodeJS.ErrnoException).code}`, 'tls.key');
    }
    try {
      return { context: tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' }), selfSigned: false, cert };
    } catch (e) {
      throw new UsageError(`tls.cert/tls.key: ${(e as Error).message}`, 'tls.cert');
    }
  }
  const pems = await generate([{ name: 'commonName', value: 'jitgate' }], {
    keySize: 2048,
    algorithm: 'sha256',
    days: 30,
    extensions: [
      { name: 'basicConstraints', cA: false },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  } as Parameters<typeof generate>[1]);
  return {
    context: tls.createSecureContext({ cert: pems.cert, key: pems.private, minVersion: 'TLSv1.2' }),
    selfSigned: true,
    cert: pems.cert,
  };
}
