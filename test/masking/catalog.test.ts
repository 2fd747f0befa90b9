import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgCatalogResolver } from '../../src/masking/catalog.js';
import { binaryKind } from '../../src/masking/binary.js';

test('PgCatalogResolver resolves table OID + attnum and user types from the catalog, cached', async () => {
  const schema = `mask_cat_${randomBytes(4).toString('hex')}`;
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  let queries = 0;
  const resolver = new PgCatalogResolver((sql, params) => {
    queries++;
    return c.query(sql, params);
  });
  try {
    await c.query(`CREATE SCHEMA "${schema}"`);
    await c.query(`CREATE DOMAIN "${schema}".email_t AS text`);
    await c.query(`CREATE TYPE "${schema}".mood AS ENUM ('ok')`);
    await c.query(`CREATE TABLE "${schema}".customers (id int, dropped int, email "${schema}".email_t, m "${schema}".mood)`);
    await c.query(`ALTER TABLE "${schema}".customers DROP COLUMN dropped`);
    const oid = Number((await c.query(`SELECT '"${schema}".customers'::regclass::oid AS o`)).rows[0].o);
    const types = (await c.query(`SELECT typname, oid::int8 AS oid FROM pg_type WHERE typnamespace = $1::regnamespace`, [schema])).rows;
    const t = Object.fromEntries(types.map((r) => [r.typname, Number(r.oid)]));

    assert.equal(resolver.column(oid, 1), undefined);
    await resolver.load([oid, 1], [t.email_t!, t.mood!, t.customers!, t._customers!]);
    assert.deepEqual(resolver.column(oid, 1), { schema, table: 'customers', column: 'id' });
    assert.equal(resolver.column(oid, 2), null, 'dropped column');
    assert.deepEqual(resolver.column(oid, 3), { schema, table: 'customers', column: 'email' });
    assert.equal(resolver.column(1, 1), null, 'no such table');
    assert.equal(binaryKind(t.email_t!, resolver), 'text', 'domain over text');
    assert.equal(binaryKind(t.mood!, resolver), 'text', 'enum');
    assert.equal(binaryKind(t.customers!, resolver), 'record', 'row type');
    assert.equal(binaryKind(t._customers!, resolver), 'array');
    const n = queries;
    await resolver.load([oid], [t.email_t!]);
    assert.equal(queries, n, 'cached');
    resolver.invalidate();
    assert.equal(resolver.column(oid, 1), undefined);
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await c.end();
  }
});
