/** The catalog resolver for a PostgreSQL target: its own small pool as the target's admin. */
import pg from 'pg';
import type { TargetConfig } from '../config/schema.js';
import { adminPoolConfig } from '../provision/pg-admin.js';
import { PgCatalogResolver } from './catalog.js';

export function pgCatalogResolver(target: TargetConfig): PgCatalogResolver {
  let pool: pg.Pool | null = null;
  const query = (sql: string, params: unknown[]) => {
    pool ??= new pg.Pool({ ...adminPoolConfig(target), max: 2, application_name: 'jitgate-masking' });
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
