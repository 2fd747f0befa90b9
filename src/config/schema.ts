import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const hostPort = z.string().transform((v, ctx) => {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected host:port, got "${v}"` });
    return z.NEVER;
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
});

const sizeUnits: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

const byteSize = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(String(v));
  const unit = m ? sizeUnits[m[2]!.toLowerCase()] : undefined;
  const n = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n < 4096) {
    ctx.addIssue({ code: 'custom', message: `expected a size of at least 4096 bytes such as 64MB, got "${v}"` });
    return z.NEVER;
  }
  return n;
});

const identifier = z.string().min(1).max(63);

const adminLogin = z.strictObject({
  user: identifier,
  password: z.string().default(''),
});

const upstreamTls = z.strictObject({
  mode: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  ca: z.string().optional(),
  servername: z.string().optional(),
});

const target = z.strictObject({
  protocol: z.enum(['postgres', 'mysql']),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).optional(),
  database: z.string().min(1),
  admin: adminLogin,
  roles: z.record(z.string().min(1), z.array(identifier).min(1)),
  /** Role that receives objects an ephemeral user created (default: the profile's first role). */
  owner: identifier.optional(),
  tls: upstreamTls.prefault({}),
  /**
   * Users created ahead of demand, each with its upstream connection already logged in,
   * holding no role and with a login window that closes seconds after creation, until a
   * session claims it: logins skip CREATE ROLE and the upstream handshake. 0 disables it.
   */
  warmPool: z
    .strictObject({
      size: z.number().int().min(0).max(256).default(0),
      maxAge: duration.default(5 * 60_000),
    })
    .prefault({}),
  /** Max connections the admin pool keeps open to this target. */
  adminPoolSize: z.number().int().min(1).max(64).default(4),
});

const maskAction = z.enum(['redact', 'email', 'partial', 'hash', 'null', 'format-preserving']);

/** Content detectors `masking.detectors` may name. */
export const detectorNames = ['email', 'credit_card', 'us_ssn', 'iban', 'phone', 'jwt', 'private_key', 'api_key', 'ipv4', 'ipv6'] as const;

/** What a rule (or detector) does to a binary-format value it cannot re-encode: SQL NULL, or end the statement. */
const onBinary = z.enum(['null', 'error']);

const maskRule = z.strictObject({
  /** Globs on the output column name, the source column, `table.column` or `schema.table.column`. */
  columns: z.array(z.string().min(1)).min(1),
  action: maskAction,
  /** Shown in audit events; default `rule<N>`. */
  name: z.string().min(1).max(63).optional(),
  onBinary: onBinary.optional(),
});

const masking = z.strictObject({
  rules: z.array(maskRule).default([]),
  detectors: z.array(z.enum(detectorNames)).default([]),
  /** Default for rules and detectors without their own `onBinary`. */
  onBinary: onBinary.default('null'),
  exempt: z.array(z.string().min(1)).default([]),
  /** Key for the `hash` action (HMAC); defaults to a key derived from the signing key. */
  hashKey: z.string().optional(),
});

const limits = z.strictObject({
  handshakeTimeout: duration.default(10_000),
  maxStartupMessage: z.number().int().min(1024).max(1 << 20).default(10_000),
  maxMessageBeforeAuth: z.number().int().min(1024).max(1 << 20).default(100_000),
  maxMessage: z.number().int().min(1 << 16).max(1 << 30).default(1 << 30),
  maxSessions: z.number().int().min(1).default(1000),
  idleTimeout: duration.default(0),
  drainTimeout: duration.default(30_000),
});

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      postgres: hostPort.optional(),
      mysql: hostPort.optional(),
      http: hostPort.optional(),
    })
    .refine((l) => l.postgres || l.mysql, { message: 'listen needs postgres or mysql' }),
  tls: z
    .strictObject({
      cert: z.string().optional(),
      key: z.string().optional(),
      require: z.boolean().default(false),
    })
    .refine((t) => !!t.cert === !!t.key, { message: 'tls.cert and tls.key go together' })
    .prefault({}),
  auth: z.strictObject({
    issuer: z.string().min(1).default('jitgate'),
    signingKeys: z.string().optional(),
    trust: z.array(z.string().min(1)).default([]),
    maxTtl: duration.default(15 * 60_000),
    maxSession: duration.default(60 * 60_000),
    singleUse: z.boolean().default(false),
    algorithms: z.array(z.enum(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'])).default(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']),
  }),
  targets: z.record(z.string().min(1).max(63), target).refine((t) => Object.keys(t).length > 0, {
    message: 'at least one target is required',
  }),
  masking: masking.prefault({}),
  recordings: z
    .strictObject({
      dir: z.string().default('./recordings'),
      enabled: z.boolean().default(true),
      /** A recording continues in a new numbered segment file past this size (bytes, or 64MB, 1GB). */
      segmentSize: byteSize.default(256 * 1024 * 1024),
      /** Per-segment compression of event blocks. */
      compression: z.enum(['none', 'gzip', 'brotli']).default('none'),
      /** Closed recordings older than this are deleted; omitted: kept forever. */
      retention: duration.optional(),
    })
    .prefault({}),
  limits: limits.prefault({}),
  /** Stable name of this proxy instance; the reaper drops only its own leftovers. Default: hostname + listen ports. */
  instance: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/).optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      file: z.string().optional(),
    })
    .prefault({}),
  state: z.strictObject({ redis: z.string().optional(), dir: z.string().optional() }).optional(),
  policy: z.string().optional(),
});

export type RawConfig = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema> & { file: string; dir: string };
export type TargetConfig = Config['targets'][string];
export type MaskingConfig = Config['masking'];
export type LimitsConfig = Config['limits'];
