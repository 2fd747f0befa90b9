import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';
import { UsageError } from '../errors.js';

/** Replaces `${NAME}` with the environment variable; a missing variable is a config error. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, at: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) throw new UsageError(`${at.join('.')}: environment variable ${name} is not set`, at.join('.'));
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, [...at, String(i)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, [...at, k])]));
  }
  return value;
}

function resolvePath(dir: string, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  if (/^https?:\/\//.test(p)) return p;
  return path.resolve(dir, p);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid YAML: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object') throw new UsageError(`${file}: expected a YAML mapping`);
  const expanded = expandEnv(raw, env);
  const result = configSchema.safeParse(expanded);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let key = issue.path.join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const extra = (issue as { keys: string[] }).keys;
      key = [...issue.path, extra[0]].join('.');
      message = `unknown key`;
    }
    throw new UsageError(`${file}: ${key || '(root)'}: ${message}`, key);
  }
  const cfg = result.data;
  const dir = path.dirname(path.resolve(file));
  cfg.tls.cert = resolvePath(dir, cfg.tls.cert);
  cfg.tls.key = resolvePath(dir, cfg.tls.key);
  cfg.auth.signingKeys = resolvePath(dir, cfg.auth.signingKeys);
  cfg.auth.trust = cfg.auth.trust.map((t) => resolvePath(dir, t)!);
  cfg.recordings.dir = resolvePath(dir, cfg.recordings.dir)!;
  if (cfg.log.file) cfg.log.file = resolvePath(dir, cfg.log.file);
  if (cfg.policy) cfg.policy = resolvePath(dir, cfg.policy);
  if (cfg.state?.dir) cfg.state.dir = resolvePath(dir, cfg.state.dir);
  for (const [name, t] of Object.entries(cfg.targets)) {
    t.port ??= t.protocol === 'postgres' ? 5432 : 3306;
    if (t.tls.ca) t.tls.ca = resolvePath(dir, t.tls.ca);
    if (Object.keys(t.roles).length === 0) {
      throw new UsageError(`${file}: targets.${name}.roles: at least one role profile is required`, `targets.${name}.roles`);
    }
  }
  // Keys of the product surface this build does not implement yet: refusing them beats
  // silently running without the policy, shared state or HTTP API they ask for.
  for (const [key, set] of [
    ['policy', cfg.policy !== undefined],
    ['state', cfg.state !== undefined],
    ['listen.http', cfg.listen.http !== undefined],
  ] as const) {
    if (set) throw new UsageError(`${file}: ${key}: not supported by this version of jitgate yet`, key);
  }
  if (!cfg.auth.signingKeys && cfg.auth.trust.length === 0) {
    throw new UsageError(`${file}: auth: set auth.signingKeys or auth.trust`, 'auth.signingKeys');
  }
  cfg.instance ??= defaultInstance(cfg);
  return Object.assign(cfg, { file: path.resolve(file), dir });
}

/**
 * Stable across restarts (the reaper removes what a crashed run of the same instance left):
 * hostname + listen ports. A port of 0 has no stable identity, so such an instance is
 * unique to its process.
 */
function defaultInstance(cfg: Omit<Config, 'file' | 'dir'>): string {
  const ports = [cfg.listen.postgres?.port, cfg.listen.mysql?.port].filter((p) => p !== undefined);
  const host = os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32);
  const base = `${host}-${ports.join('-')}`;
  return ports.includes(0) ? `${base}-${process.pid}-${randomBytes(3).toString('hex')}` : base;
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, '--config');
  }
  return parseConfig(text, file, env);
}
