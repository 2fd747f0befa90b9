/** A session and an in-memory catalog for masking unit tests. */
import type { MaskingConfig, TargetConfig } from '../../src/config/schema.js';
import type { ColumnInfo, SessionInfo } from '../../src/engine/types.js';
import type { CatalogResolver, SourceColumn, TypeInfo } from '../../src/masking/catalog.js';
import { createMasking, type MaskHitEvent, type SessionMasking } from '../../src/masking/masking.js';

export const key = Buffer.from('unit-test masking key, 32 bytes!');

export function session(role = 'reader'): SessionInfo {
  return {
    id: 'sess-1',
    protocol: 'postgres',
    grant: { sub: 'alice', target: 'app', role, iat: 0, exp: 0, issuer: 'test' },
    targetName: 'app',
    target: {} as TargetConfig,
    upstreamUser: 'jit_x',
    startedAt: new Date(),
    remoteAddress: '127.0.0.1',
  };
}

export function maskingConfig(c: Partial<MaskingConfig>): MaskingConfig {
  return { rules: [], detectors: [], exempt: [], onBinary: 'null', ...c };
}

/** Catalog: table 1000 = public.customers(id, name, email, ssn, card_number); types as given. */
export class FakeCatalog implements CatalogResolver {
  loads = 0;
  fail = false;
  private cols = new Map<number, Map<number, SourceColumn>>();
  private known = new Set<number>();
  private knownTypes = new Map<number, TypeInfo | null>();
  constructor(public types: Record<number, TypeInfo> = {}) {
    const t = new Map<number, SourceColumn>();
    ['id', 'name', 'email', 'ssn', 'card_number'].forEach((c, i) => t.set(i + 1, { schema: 'public', table: 'customers', column: c }));
    this.cols.set(1000, t);
  }
  column(oid: number, attnum: number) {
    if (!this.known.has(oid)) return undefined;
    return this.cols.get(oid)?.get(attnum) ?? null;
  }
  type(oid: number) {
    return this.knownTypes.get(oid);
  }
  async load(tables: readonly number[], types: readonly number[]) {
    this.loads++;
    if (this.fail) throw new Error('catalog down');
    for (const t of tables) this.known.add(t);
    for (const t of types) this.knownTypes.set(t, this.types[t] ?? null);
  }
  invalidate() {
    this.known.clear();
    this.knownTypes.clear();
  }
  async close() {}
}

export function setup(c: Partial<MaskingConfig>, opts: { role?: string; catalog?: FakeCatalog } = {}) {
  const events: MaskHitEvent[] = [];
  const logs: unknown[] = [];
  const catalog = opts.catalog ?? new FakeCatalog();
  const log = { info: (o: unknown) => logs.push(o) } as never;
  const factory = createMasking(maskingConfig(c), { resolver: () => catalog, hashKey: key, auditHit: (e) => events.push(e), log });
  const hook = factory(session(opts.role)) as SessionMasking | null;
  return { hook, events, logs, catalog };
}

export function col(name: string, o: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name, tableOid: 0, attnum: 0, typeOid: 25, format: 'text', ...o };
}
