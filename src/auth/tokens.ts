/**
 * Minting and verifying the JWTs clients present as their password.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, compactVerify, decodeProtectedHeader, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import type { Grant } from '../engine/types.js';
import { JitError, UsageError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { loadSigningKey, loadTrust } from './keys.js';
import { MemoryTokenState, type TokenStateStore } from './token-state.js';

export { MemoryTokenState, type TokenStateStore } from './token-state.js';

/** Tokens above this size are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;
/** Tolerance for exp / nbf (seconds). */
export const CLOCK_SKEW = 30;
/** Tolerance for an iat in the future (seconds). */
export const IAT_FUTURE_SKEW = 60;

export interface MintRequest {
  sub: string;
  target: string;
  role: string;
  ttlMs: number;
}

/** Signs a token with auth.signingKeys for `sub` to use `target` as role profile `role`. */
export async function mintToken(config: Config, req: MintRequest, now: number = Date.now()): Promise<string> {
  if (!req.sub) throw new UsageError('--sub must not be empty', '--sub');
  const target = Object.hasOwn(config.targets, req.target) ? config.targets[req.target] : undefined;
  if (!target) {
    throw new UsageError(`--target: no target "${req.target}" in config (have: ${Object.keys(config.targets).join(', ')})`, '--target');
  }
  if (!Object.hasOwn(target.roles, req.role)) {
    throw new UsageError(
      `--role: "${req.role}" is not a role profile of target "${req.target}" (have: ${Object.keys(target.roles).join(', ')})`,
      '--role',
    );
  }
  if (!Number.isFinite(req.ttlMs) || req.ttlMs <= 0) throw new UsageError('--ttl must be greater than 0', '--ttl');
  if (req.ttlMs > config.auth.maxTtl) {
    throw new UsageError(`--ttl ${formatDuration(req.ttlMs)} is above auth.maxTtl (${formatDuration(config.auth.maxTtl)})`, '--ttl');
  }
  if (!config.auth.signingKeys) throw new UsageError('auth.signingKeys is not set: cannot mint tokens', 'auth.signingKeys');
  const signing = await loadSigningKey(config.auth.signingKeys);

  const iat = Math.floor(now / 1000);
  const exp = iat + Math.max(1, Math.floor(req.ttlMs / 1000));
  return new SignJWT({ role: req.role })
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'JWT' })
    .setIssuer(config.auth.issuer)
    .setSubject(req.sub)
    .setAudience(req.target)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(signing.key);
}

export interface VerifierOptions {
  state?: TokenStateStore;
  /** Key resolver; default: loadTrust(config). */
  keys?: JWTVerifyGetKey;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

const refuse = (msg: string): JitError => new JitError('invalid_password', msg);

/** Verifies login tokens against the config's trust set. Every refusal is a JitError. */
export class TokenVerifier {
  readonly state: TokenStateStore;

  private constructor(
    private readonly config: Config,
    private readonly keys: JWTVerifyGetKey,
    state: TokenStateStore,
    private readonly now: () => number,
  ) {
    this.state = state;
  }

  static async create(config: Config, opts: VerifierOptions = {}): Promise<TokenVerifier> {
    const now = opts.now ?? Date.now;
    const keys = opts.keys ?? (await loadTrust(config));
    return new TokenVerifier(config, keys, opts.state ?? new MemoryTokenState(now), now);
  }

  async verify(token: string, login: { user: string; database: string }): Promise<Grant> {
    const { auth } = this.config;
    if (typeof token !== 'string' || token.length === 0) throw refuse('no token given as password');
    if (token.length > MAX_TOKEN_BYTES) throw refuse('token too large');
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) throw refuse('malformed token');

    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw refuse('malformed token');
    }
    // Checked before any key lookup: never `none`, never HS*, only the configured asymmetric algorithms.
    const alg = header.alg;
    if (typeof alg !== 'string' || !(auth.algorithms as string[]).includes(alg)) throw refuse('token algorithm not allowed');
    if (header.b64 !== undefined || header.crit !== undefined) throw refuse('malformed token');

    let payloadBytes: Uint8Array;
    try {
      ({ payload: payloadBytes } = await compactVerify(token, this.keys, { algorithms: auth.algorithms }));
    } catch (e) {
      throw refuse(signatureFailure(e));
    }

    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
    } catch {
      throw refuse('malformed token claims');
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw refuse('malformed token claims');

    const nowSec = this.now() / 1000;
    if (claims.iss !== auth.issuer) throw refuse('token issuer is not trusted');

    const aud = claims.aud;
    const audOk = typeof aud === 'string' ? aud === login.database : Array.isArray(aud) && aud.includes(login.database);
    if (!audOk) throw refuse(`token audience does not match database ${quote(login.database)}`);
    const targetName = login.database;
    const target = Object.hasOwn(this.config.targets, targetName) ? this.config.targets[targetName] : undefined;
    if (!target) throw refuse(`unknown target ${quote(targetName)}`);

    const exp = claims.exp;
    if (!isTime(exp)) throw refuse('token has no valid exp');
    if (exp + CLOCK_SKEW <= nowSec) throw refuse('token expired');
    if (claims.nbf !== undefined) {
      if (!isTime(claims.nbf)) throw refuse('token has an invalid nbf');
      if (claims.nbf - CLOCK_SKEW > nowSec) throw refuse('token not valid yet (nbf)');
    }
    const iat = claims.iat;
    if (!isTime(iat)) throw refuse('token has no valid iat');
    if (iat - IAT_FUTURE_SKEW > nowSec) throw refuse('token issued in the future (iat)');
    if ((nowSec - iat) * 1000 > auth.maxTtl + CLOCK_SKEW * 1000) throw refuse('token too old (iat beyond auth.maxTtl)');

    const role = claims.role;
    if (typeof role !== 'string' || role === '') throw refuse('token has no role');
    if (!Object.hasOwn(target.roles, role)) {
      throw refuse(`token role ${quote(role)} is not a profile of target ${quote(targetName)}`);
    }

    const sub = claims.sub;
    if (typeof sub !== 'string' || sub === '') throw refuse('token has no sub');
    const jti = claims.jti;
    if (jti !== undefined && (typeof jti !== 'string' || jti === '' || jti.length > 256)) throw refuse('token has an invalid jti');

    // Only a holder of a validly signed token gets this far: the mismatch reveals nothing to forgers.
    if (login.user !== sub) throw new JitError('invalid_authorization', 'login user does not match the token subject');

    const grant: Grant = { sub, target: targetName, role, iat, exp, issuer: auth.issuer };
    if (jti !== undefined) grant.jti = jti;

    if (await this.state.isRevoked(grant)) throw refuse('token revoked');
    if (auth.singleUse) {
      if (jti === undefined) throw refuse('token has no jti (single use required)');
      // Remember the jti for as long as this token could still be accepted.
      if (!(await this.state.useOnce(jti, exp + CLOCK_SKEW))) throw refuse('token already used');
    }
    return grant;
  }
}

function signatureFailure(e: unknown): string {
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad token signature';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'token signed by an unknown key';
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return 'token key is ambiguous (set kid)';
  if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) return 'token algorithm not allowed';
  if (e instanceof joseErrors.JWSInvalid) return 'malformed token';
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JOSEError) return 'token key could not be resolved';
  return 'token key could not be resolved';
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Quotes a client-supplied name for a message, bounded in length. */
function quote(s: string): string {
  const short = s.length > 64 ? `${s.slice(0, 64)}…` : s;
  return JSON.stringify(short);
}
