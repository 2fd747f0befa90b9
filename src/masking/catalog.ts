/**
 * Where a result column comes from, and what a type OID is: the catalog lookups source-
 * column rules and binary decoding need. Answers are cached per (table OID, attnum) and
 * per type OID; a lookup of what is already known answers synchronously.
 */
export interface SourceColumn {
  schema: string;
  table: string;
  column: string;
}

export interface TypeInfo {
  /** pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  typtype: string;
  /** pg_type.typcategory: S string, A array, … */
  category: string;
  /** Element type of an array, else 0. */
  elem: number;
  /** Base type of a domain, else 0. */
  base: number;
}

export interface CatalogResolver {
  /** undefined: not looked up yet; null: no such column (computed, dropped). */
  column(tableOid: number, attnum: number): SourceColumn | null | undefined;
  type(oid: number): TypeInfo | null | undefined;
  /** Loads the given tables' columns and the given types into the cache. */
  load(tableOids: readonly number[], typeOids: readonly number[]): Promise<void>;
  /** A table's live columns in order, by name as the admin's search path resolves it; null if none. */
  tableColumns?(name: string): Promise<{ tableOid: number; columns: { name: string; attnum: number; typeOid: number }[] } | null>;
  /** Forgets everything (DDL seen). */
  invalidate(): void;
  close(): Promise<void>;
}

/** Runs one catalog query; PostgreSQL's is a pg.Pool as the target's admin. */
export type CatalogQuery = (sql: string, params: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

const COLUMNS_SQL = `select a.attrelid::int8 as reloid, a.attnum::int4 as attnum, n.nspname, c.relname, a.attname
  from pg_catalog.pg_attribute a
  join pg_catalog.pg_class c on c.oid = a.attrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
 where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped`;

const TYPES_SQL = `select t.oid::int8 as oid, t.typtype, t.typcategory, t.typelem::int8 as elem, t.typbasetype::int8 as base
  from pg_catalog.pg_type t where t.oid = any($1::oid[])`;

/** A resolver over PostgreSQL's catalog, cached; entries also expire after `ttlMs`. */
export class PgCatalogResolver implements CatalogResolver {
  private columns = new Map<number, Map<number, SourceColumn> | null>();
  private types = new Map<number, TypeInfo | null>();
  private loadedAt = Date.now();

  constructor(
    private readonly query: CatalogQuery,
    private readonly opts: { ttlMs?: number; close?: () => Promise<void> } = {},
  ) {}

  private fresh(): void {
    if (Date.now() - this.loadedAt > (this.opts.ttlMs ?? 300_000)) this.invalidate();
  }

  column(tableOid: number, attnum: number): SourceColumn | null | undefined {
    this.fresh();
    const t = this.columns.get(tableOid);
    if (t === undefined) return undefined;
    return t?.get(attnum) ?? null;
  }

  type(oid: number): TypeInfo | null | undefined {
    this.fresh();
    return this.types.get(oid);
  }

  async load(tableOids: readonly number[], typeOids: readonly number[]): Promise<void> {
    const tables = [...new Set(tableOids)].filter((o) => !this.columns.has(o));
    const types = [...new Set(typeOids)].filter((o) => !this.types.has(o));
    const [cr, tr] = await Promise.all([
      tables.length ? this.query(COLUMNS_SQL, [tables]) : null,
      types.length ? this.query(TYPES_SQL, [types]) : null,
    ]);
    if (cr) {
      for (const o of tables) this.columns.set(o, null);
      for (const r of cr.rows) {
        const oid = Number(r.reloid);
        let m = this.columns.get(oid);
        if (!m) this.columns.set(oid, (m = new Map()));
        m.set(Number(r.attnum), { schema: String(r.nspname), table: String(r.relname), column: String(r.attname) });
      }
    }
    if (tr) {
      for (const o of types) this.types.set(o, null);
      for (const r of tr.rows) {
        this.types.set(Number(r.oid), {
          typtype: String(r.typtype),
          category: String(r.typcategory),
          elem: Number(r.elem),
          base: Number(r.base),
        });
      }
    }
  }

  async tableColumns(name: string) {
    const r = await this.query(
      `select a.attrelid::int8 as reloid, a.attnum::int4 as attnum, a.attname, a.atttypid::int8 as typ
         from pg_catalog.pg_attribute a
        where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      [name],
    );
    if (r.rows.length === 0) return null;
    return {
      tableOid: Number(r.rows[0]!.reloid),
      columns: r.rows.map((x) => ({ name: String(x.attname), attnum: Number(x.attnum), typeOid: Number(x.typ) })),
    };
  }

  invalidate(): void {
    this.columns.clear();
    this.types.clear();
    this.loadedAt = Date.now();
  }

  async close(): Promise<void> {
    await this.opts.close?.();
  }
}
