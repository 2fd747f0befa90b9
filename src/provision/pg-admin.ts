/** Connection settings for jitgate's admin login on a PostgreSQL target. */
import fs from 'node:fs';
import type { ClientConfig, PoolConfig } from 'pg';
import type { TargetConfig } from '../config/schema.js';

export function adminSsl(target: TargetConfig): ClientConfig['ssl'] {
  switch (target.tls.mode) {
    case 'verify-full':
      return {
        ...(target.tls.ca ? { ca: fs.readFileSync(target.tls.ca, 'utf8') } : {}),
        servername: target.tls.servername ?? target.host,
        rejectUnauthorized: true,
      };
    case 'require':
      return { rejectUnauthorized: false };
    default:
      return false;
  }
}

/** Admin client settings; `database` defaults to the target's. */
export function adminClientConfig(target: TargetConfig, database: string = target.database): ClientConfig {
  return {
    host: target.host,
    port: target.port ?? 5432,
    database,
    user: target.admin.user,
    password: target.admin.password,
    ssl: adminSsl(target),
    application_name: 'jitgate-admin',
    connectionTimeoutMillis: 10_000,
    // Teardown must not wait forever behind another session's lock: fail and retry instead.
    options: '-c lock_timeout=3000',
  };
}

export function adminPoolConfig(target: TargetConfig): PoolConfig {
  return { ...adminClientConfig(target), max: target.adminPoolSize, idleTimeoutMillis: 30_000 };
}
