/**
 * Signing keys (JWKS files) and the trust set used to verify client tokens.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  errors as joseErrors,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { Config } from '../config/schema.js';
import { UsageError } from '../errors.js';

export const PRIVATE_JWKS = 'private.jwks.json';
export const PUBLIC_JWKS = 'public.jwks.json';

export interface KeyFiles {
  privatePath: string;
  publicPath: string;
  kid: string;
}

export interface SigningKey {
  key: CryptoKey;
  kid: string;
  alg: string;
  /** The public half, as a JWK carrying kid/alg/use. */
  publicJwk: JWK;
}

/** Writes DIR/private.jwks.json (0600) and DIR/public.jwks.json holding a fresh Ed25519 key pair. */
export async function initKeys(dir: string, opts: { force?: boolean } = {}): Promise<KeyFiles> {
  const privatePath = path.resolve(dir, PRIVATE_JWKS);
  const publicPath = path.resolve(dir, PUBLIC_JWKS);
  if (!opts.force) {
    for (const p of [privatePath, publicPath]) {
      if (await exists(p)) throw new UsageError(`${p} already exists (use --force to replace it)`, '--force');
    }
  }
  await fs.mkdir(path.resolve(dir), { recursive: true, mode: 0o700 });

  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const priv = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(priv, 'sha256');
  const privJwk: JWK = { ...priv, kid, alg: 'EdDSA', use: 'sig' };
  const pubJwk = publicHalf(privJwk);

  await writeKeyFile(privatePath, jwksText(privJwk), 0o600, !!opts.force);
  await writeKeyFile(publicPath, jwksText(pubJwk), 0o644, !!opts.force);
  return { privatePath, publicPath, kid };
}

/** Loads the private signing key named by `auth.signingKeys`. */
export async function loadSigningKey(file: string): Promise<SigningKey> {
  const bad = (why: string): UsageError => new UsageError(`auth.signingKeys: ${file}: ${why}`, 'auth.signingKeys');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw bad(`cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw bad('not a JWKS ({"keys": [...]})');
  const jwk = keys.find((k): k is JWK => !!k && typeof k === 'object' && typeof (k as JWK).d === 'string');
  if (!jwk) throw bad('holds no private key');
  const alg = jwk.alg ?? inferAlg(jwk);
  if (!alg) throw bad('cannot tell the key algorithm (set "alg")');
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, alg)) as CryptoKey;
  } catch {
    throw bad(`private key does not import as ${alg}`);
  }
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  return { key, kid, alg, publicJwk: publicHalf({ ...jwk, kid, alg }) };
}

/** Public JWK of a private one: drops every private member. */
export function publicHalf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, key_ops: _ops, ext: _ext, ...pub } = jwk as JWK & {
    oth?: unknown;
  };
  return { ...pub, use: 'sig' };
}

/**
 * Key resolver for token verification: the public half of auth.signingKeys, local JWKS files
 * and https JWKS URLs from auth.trust. Selection is by `kid`; a token without `kid` is accepted
 * only when exactly one key in the whole trust set fits its alg.
 */
export async function loadTrust(cfg: Config): Promise<JWTVerifyGetKey> {
  const local: JWK[] = [];
  const seen = new Set<string>();
  const add = async (jwk: JWK): Promise<void> => {
    if (typeof jwk.d === 'string') return; // never trust a private member as-is
    const id = `${jwk.kid ?? ''}|${await calculateJwkThumbprint(jwk, 'sha256').catch(() => JSON.stringify(jwk))}`;
    if (seen.has(id)) return;
    seen.add(id);
    local.push(jwk);
  };
  if (cfg.auth.signingKeys) await add((await loadSigningKey(cfg.auth.signingKeys)).publicJwk);

  const remotes: JWTVerifyGetKey[] = [];
  for (const entry of cfg.auth.trust) {
    if (/^[a-z]+:\/\//i.test(entry)) {
      remotes.push(createRemoteJWKSet(trustUrl(entry)));
      continue;
    }
    for (const jwk of await readPublicJwks(entry)) await add(jwk);
  }

  let localSet: JWTVerifyGetKey | null = null;
  if (local.length > 0) {
    try {
      localSet = createLocalJWKSet({ keys: local });
    } catch {
      throw new UsageError('auth.trust: a JWKS file holds a malformed key', 'auth.trust');
    }
  }
  const sets = localSet ? [localSet, ...remotes] : remotes;

  return async (header, token) => {
    const found: CryptoKey[] = [];
    for (const set of sets) {
      try {
        found.push((await set(header, token)) as CryptoKey);
      } catch (e) {
        if (e instanceof joseErrors.JWKSNoMatchingKey) continue;
        if (e instanceof joseErrors.JWKSMultipleMatchingKeys) throw new joseErrors.JWKSMultipleMatchingKeys();
        throw e;
      }
      // With a kid the first source that knows it wins; without one every source is asked.
      if (header.kid !== undefined) break;
    }
    if (found.length === 0) throw new joseErrors.JWKSNoMatchingKey();
    if (found.length > 1) throw new joseErrors.JWKSMultipleMatchingKeys();
    return found[0]!;
  };
}

async function readPublicJwks(file: string): Promise<JWK[]> {
  const bad = (why: string): UsageError => new UsageError(`auth.trust: ${file}: ${why}`, 'auth.trust');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(code ? `cannot read (${code})` : 'not valid JSON');
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || !keys.every((k) => k && typeof k === 'object' && typeof k.kty === 'string')) {
    throw bad('not a JWKS ({"keys": [...]})');
  }
  // A private JWKS listed in trust: use only its public halves.
  return (keys as JWK[]).map((k) => (typeof k.d === 'string' ? publicHalf(k) : k));
}

function trustUrl(entry: string): URL {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw new UsageError(`auth.trust: "${entry}" is not a valid URL`, 'auth.trust');
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new UsageError(`auth.trust: "${entry}": JWKS URLs must use https`, 'auth.trust');
  }
  return url;
}

function inferAlg(jwk: JWK): string | undefined {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'RSA') return 'RS256';
  return undefined;
}

function jwksText(jwk: JWK): string {
  return `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;
}

async function writeKeyFile(file: string, text: string, mode: number, replace: boolean): Promise<void> {
  // Write a fresh file next to the target, then move it in place: the key never sits in a file
  // with a looser mode, and without `replace` link() refuses an existing file atomically.
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    if (replace) {
      await fs.rename(tmp, file);
    } else {
      await fs.link(tmp, file).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') throw new UsageError(`${file} already exists (use --force to replace it)`, '--force');
        throw e;
      });
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}
