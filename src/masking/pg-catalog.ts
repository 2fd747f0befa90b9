/** The catalog resolver for a PostgreSQL target: its own small pool as the target's admin. */
import pg from 'pg';
import type { TargetConfig } from '../config/schema.js';
import { adminPoolConfig } from '../provision/pg-admin.js';
import { PgCatalogResolver } from './catalog.js';

export function pgCatalogResolver(target: TargetConfig): PgCatalogResolver {
  let pool: pg.Pool | null = null;
  const query = (sql: string, params: unknown[]) => {
    if (!pool) {
      pool = new pg.Pool({ ...adminPoolConfig(target), max: 2, application_name: 'jitgate-masking' });
      // A connection that drops (idle or in use) must not crash the process: the next query fails instead.
      pool.on('error', () => undefined);
      pool.on('connect', (client) => client.on('error', () => undefined));
    }
    return pool.query(sql, params);
  };
  return new PgCatalogResolver(query, {
    close: async () => {
      const p = pool;
      pool = null;
      await p?.end();
    },
  });
}
