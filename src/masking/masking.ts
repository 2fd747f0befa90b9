/**
 * Session masking: turns `masking` config into a MaskingHook per session. A column is
 * masked by the first rule whose glob matches its output name or its source column
 * (`column`, `table.column`, `schema.table.column`); every other value goes through the
 * enabled content detectors. Unchanged values are returned as the same Buffer, so rows
 * that hold nothing to mask pass byte-identical. Any failure throws
 * JitError('masking_failed'): the engine ends the statement, never forwarding the value.
 */
import type { Logger } from '../audit/log.js';
import type { MaskingConfig } from '../config/schema.js';
import type { ColumnInfo, MaskingHook, ResultMasker, SessionInfo } from '../engine/types.js';
import { JitError } from '../errors.js';
import { applyAction, type MaskAction } from './actions.js';
import { binaryKind, FIRST_USER_OID, Unmaskable, walkBinary, type BinaryKind } from './binary.js';
import type { CatalogResolver, SourceColumn } from './catalog.js';
import { maskJsonSpans, maskSpans, scan, type DetectorName } from './detectors.js';
import { compileGlob, type Glob } from './glob.js';
import { copyColumnNames } from './pg-copy.js';

export interface CompiledRule {
  name: string;
  action: MaskAction;
  onBinary: 'null' | 'error';
  globs: Glob[];
  /** The globs' column part (after the last '.'), for messages that name a column but not its table. */
  columnGlobs: Glob[];
}

export interface MaskHitEvent {
  session: string;
  sub: string;
  target: string;
  role: string;
  /** Where the values were: result rows, or error/notice/notification text. */
  where: 'result' | 'text';
  /** Rule or detector name → number of values masked. Never a value. */
  hits: Record<string, number>;
}

export interface MaskingDeps {
  /** Catalog lookups for the session's target (null: match output names only). */
  resolver?: (session: SessionInfo) => CatalogResolver | null;
  log?: Logger;
  /** Receives each mask-hit summary (default: logged as `mask.hit`). */
  auditHit?: (e: MaskHitEvent) => void;
  /** HMAC key for `hash` and `format-preserving`. */
  hashKey: Buffer;
}

/** The hook plus what the engine tells it about the statement flow. */
export interface SessionMasking extends MaskingHook {
  /** The current result ended (CommandComplete, PortalSuspended, error): reports its hits. */
  endResult(): void;
  /** A command completed; DDL makes cached catalog answers stale. */
  commandComplete(tag: string): void;
  /**
   * Masker for the rows of `COPY table [(columns)] TO` (text cells); `table` undefined for
   * `COPY (query) TO`, whose columns are unknown: refused (masking_failed) when rules exist.
   */
  planCopy(copy: { table?: string; columns?: string[] }): Promise<ResultMasker | null>;
  /** True when column rules exist (a format that cannot be masked must then be refused). */
  readonly hasRules: boolean;
}

export type MaskingFactory = (session: SessionInfo) => SessionMasking | null;

export function compileRules(config: MaskingConfig): CompiledRule[] {
  return config.rules.map((r, i) => ({
    name: r.name ?? `rule${i + 1}`,
    action: r.action,
    onBinary: r.onBinary ?? config.onBinary,
    globs: r.columns.map(compileGlob),
    columnGlobs: r.columns.map((c) => compileGlob(c.slice(c.lastIndexOf('.') + 1))),
  }));
}

/** First rule matching the column by output name or source. */
export function matchRule(rules: readonly CompiledRule[], name: string, src: SourceColumn | null): CompiledRule | null {
  const names = [name];
  if (src) names.push(src.column, `${src.table}.${src.column}`, `${src.schema}.${src.table}.${src.column}`);
  for (const r of rules) for (const g of r.globs) for (const n of names) if (g(n)) return r;
  return null;
}

const DDL = /^(ALTER|DROP|CREATE|COMMENT|GRANT|REVOKE|IMPORT|SECURITY)\b/;
const JSON_TYPES = new Set([114, 3802]);
/** Number types: a detected value in their text form cannot be rewritten as a number. */
const NUMBER_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700, 790]);

interface ColumnPlan {
  rule: CompiledRule | null;
  detect: boolean;
  json: boolean;
  number: boolean;
  /** null: text format. */
  kind: BinaryKind | null;
  name: string;
}

export function createMasking(config: MaskingConfig, deps: MaskingDeps): MaskingFactory {
  const rules = compileRules(config);
  const detectors = [...new Set(config.detectors)] as DetectorName[];
  const exempt = new Set(config.exempt);
  const key = deps.hashKey;
  const log = deps.log;

  return (session) => {
    const who = { session: session.id, sub: session.grant.sub, target: session.targetName, role: session.grant.role };
    if (exempt.has(session.grant.role)) {
      log?.info({ event: 'mask.exempt', ...who }, 'role profile is exempt from masking: clear values');
      return null;
    }
    if (rules.length === 0 && detectors.length === 0) return null;
    const resolver = deps.resolver?.(session) ?? null;
    const report = deps.auditHit ?? ((e: MaskHitEvent) => log?.info({ event: 'mask.hit', ...e }, 'values masked'));

    let pending: Record<string, number> | null = null;
    let timer: NodeJS.Timeout | null = null;
    const hit = (name: string, n = 1): void => {
      pending ??= {};
      pending[name] = (pending[name] ?? 0) + n;
      // Fallback for engines that never say where a result ends.
      timer ??= setTimeout(flush, 1000).unref();
    };
    const flush = (where: 'result' | 'text' = 'result'): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (!pending) return;
      const hits = pending;
      pending = null;
      report({ ...who, where, hits });
    };

    const fail = (msg: string, cause?: unknown): JitError =>
      new JitError('masking_failed', msg, { cause });

    /** Detector pass over bytes (latin1 view: offsets are byte offsets; detectors look at ASCII only). */
    const detectBytes = (v: Buffer, json = false): Buffer => {
      const s = v.toString('latin1');
      const spans = scan(s, detectors);
      if (spans.length === 0) return v;
      for (const sp of spans) hit(sp.detector);
      return Buffer.from(json ? maskJsonSpans(s, spans) : maskSpans(s, spans), 'latin1');
    };
    const detectJson = (v: Buffer): Buffer => detectBytes(v, true);
    const probe = (s: string): boolean => {
      const spans = scan(s, detectors);
      for (const sp of spans) hit(sp.detector);
      return spans.length > 0;
    };
    const kindOf = (oid: number): BinaryKind => {
      const k = binaryKind(oid, resolver);
      if (k === undefined) throw new Unmaskable(`type ${oid} is not known`);
      return k;
    };

    const ruleText = (rule: CompiledRule, clear: string, json: boolean): string | null => {
      if (!json) return applyAction(rule.action, clear, key);
      // A JSON string value is masked inside its quotes; any other JSON as a whole. The result stays JSON.
      let inner = clear;
      try {
        const parsed: unknown = JSON.parse(clear);
        if (typeof parsed === 'string') inner = parsed;
      } catch {
        /* not JSON: mask as is */
      }
      const out = applyAction(rule.action, inner, key);
      return out === null ? null : JSON.stringify(out);
    };

    const unmaskable = (p: ColumnPlan, onBinary: 'null' | 'error', why: string): null => {
      if (onBinary === 'error') {
        throw fail(`column "${p.name}" cannot be masked in binary format (${why}); request it in text format`);
      }
      return null;
    };

    const maskValue = (p: ColumnPlan, v: Buffer): Buffer | null => {
      const rule = p.rule;
      if (rule) {
        hit(rule.name);
        if (p.kind === null) {
          const out = ruleText(rule, v.toString('utf8'), p.json);
          return out === null ? null : Buffer.from(out, 'utf8');
        }
        if (p.kind === 'text' || p.kind === 'jsonb') {
          const body = p.kind === 'jsonb' ? v.subarray(1) : v;
          if (p.kind === 'jsonb' && v[0] !== 1) return unmaskable(p, rule.onBinary, 'unknown jsonb version');
          const out = ruleText(rule, body.toString('utf8'), p.json);
          if (out === null) return null;
          const enc = Buffer.from(out, 'utf8');
          return p.kind === 'jsonb' ? Buffer.concat([v.subarray(0, 1), enc]) : enc;
        }
        return unmaskable(p, rule.onBinary, `type has no text form jitgate can rewrite`);
      }
      if (p.kind === null) {
        if (p.number) return probe(v.toString('latin1')) ? unmaskable(p, config.onBinary, 'a number holds a detected value') : v;
        return p.json ? detectJson(v) : detectBytes(v);
      }
      try {
        return walkBinary(p.kind, v, p.json ? detectJson : detectBytes, probe, kindOf);
      } catch (e) {
        if (e instanceof Unmaskable) return unmaskable(p, config.onBinary, e.message);
        throw e;
      }
    };

    const makeMasker = (columns: ColumnInfo[]): ResultMasker | null => {
      const plans: (ColumnPlan | null)[] = columns.map((c) => {
        const src: SourceColumn | null =
          c.sourceColumn !== undefined
            ? { schema: c.sourceSchema ?? '', table: c.sourceTable ?? '', column: c.sourceColumn }
            : c.tableOid !== 0 && c.attnum > 0 && resolver
              ? (resolver.column(c.tableOid, c.attnum) ?? null)
              : null;
        const rule = matchRule(rules, c.name, src);
        if (!rule && detectors.length === 0) return null;
        let kind: BinaryKind | null = null;
        if (c.format === 'binary') {
          kind = binaryKind(c.typeOid, resolver) ?? 'opaque';
          if (!rule && kind === 'opaque') return null;
        }
        return { rule, detect: !rule, json: JSON_TYPES.has(c.typeOid), number: NUMBER_TYPES.has(c.typeOid), kind, name: c.name };
      });
      if (plans.every((p) => p === null)) return null;
      return {
        mask(column, value) {
          if (value === null) return null;
          const p = plans[column];
          if (!p) {
            if (column >= plans.length) throw fail('a row has more columns than its description');
            return value;
          }
          try {
            return maskValue(p, value);
          } catch (e) {
            if (e instanceof JitError) throw e;
            throw fail('a value could not be masked; the statement was stopped', e);
          }
        },
      };
    };

    const hook: SessionMasking = {
      planResult(columns) {
        flush();
        if (!resolver) return makeMasker(columns);
        const tables: number[] = [];
        const types: number[] = [];
        for (const c of columns) {
          if (rules.length && c.sourceColumn === undefined && c.tableOid !== 0 && c.attnum > 0 && resolver.column(c.tableOid, c.attnum) === undefined) {
            tables.push(c.tableOid);
          }
          if (c.format === 'binary' && c.typeOid >= FIRST_USER_OID && binaryKind(c.typeOid, resolver) === undefined) {
            types.push(c.typeOid);
          }
        }
        if (tables.length === 0 && types.length === 0) return makeMasker(columns);
        return resolver.load(tables, types).then(
          async () => {
            // A domain's base or an array's element may need one more round.
            const more = columns
              .filter((c) => c.format === 'binary' && c.typeOid >= FIRST_USER_OID)
              .flatMap((c) => {
                const t = resolver.type(c.typeOid);
                return t ? [t.base, t.elem].filter((o) => o >= FIRST_USER_OID && resolver.type(o) === undefined) : [];
              });
            if (more.length) await resolver.load([], more);
            return makeMasker(columns);
          },
          (e) => {
            throw fail('jitgate could not look up where result columns come from; the statement was stopped', e);
          },
        );
      },

      maskText(text) {
        flush();
        try {
          let out = text;
          if (rules.length) out = maskKeyDetail(out, rules);
          if (detectors.length) {
            const spans = scan(out, detectors);
            if (spans.length) {
              for (const sp of spans) hit(sp.detector);
              out = maskSpans(out, spans);
            }
          }
          if (out !== text) flush('text');
          return out;
        } catch (e) {
          throw fail('a message could not be masked', e);
        }
      },

      endResult() {
        flush();
      },

      commandComplete(tag) {
        if (resolver && DDL.test(tag)) resolver.invalidate();
      },

      hasRules: rules.length > 0,

      async planCopy(copy) {
        flush();
        const detectOnly: ResultMasker | null = detectors.length
          ? { mask: (_i, v) => (v === null ? null : detectBytes(v)) }
          : null;
        let table: Awaited<ReturnType<NonNullable<CatalogResolver['tableColumns']>>> = null;
        if (copy.table && resolver?.tableColumns) {
          try {
            table = await resolver.tableColumns(copy.table);
          } catch (e) {
            throw fail('jitgate could not look up the columns this COPY reads; it was stopped', e);
          }
        }
        if (!table) {
          if (rules.length) throw fail('COPY of a query cannot be masked by column rules; use SELECT instead');
          return detectOnly;
        }
        let cols = table.columns;
        if (copy.columns?.length) {
          const byName = new Map(cols.map((c) => [c.name, c]));
          const picked = copyColumnNames(copy.columns).map((n) => byName.get(n));
          if (picked.some((c) => !c)) throw fail('COPY names a column jitgate cannot find; it was stopped');
          cols = picked as typeof cols;
        }
        return hook.planResult(
          cols.map((c) => ({ name: c.name, tableOid: table!.tableOid, attnum: c.attnum, typeOid: c.typeOid, format: 'text' as const })),
        );
      },
    };
    return hook;
  };
}

/**
 * Error details that quote row values: `Key (email)=(a@b.c) already exists.` names its
 * columns, so a value whose column a rule matches is redacted; `Failing row contains (…)`
 * does not, so when any rule exists the whole tuple is redacted.
 */
export function maskKeyDetail(text: string, rules: readonly CompiledRule[]): string {
  let out = text;
  const failing = out.indexOf('Failing row contains (');
  if (failing >= 0) {
    const open = failing + 'Failing row contains '.length;
    const close = out.lastIndexOf(')');
    if (close > open) out = out.slice(0, open) + '(****)' + out.slice(close + 1);
  }
  let from = 0;
  for (;;) {
    const k = indexOfKey(out, from);
    if (k < 0) break;
    const eq = out.indexOf(')=(', k + 5);
    if (eq < 0) break;
    // Column names may be index expressions (`lower(email::text)`): test every identifier in them.
    const idents = out.slice(k + 5, eq).match(/[A-Za-z_][A-Za-z0-9_$]*/g) ?? [];
    let close = -1;
    for (const suffix of [') already exists', ') is not present', ') is still referenced', ') conflicts with', ') is duplicated']) {
      const at = out.indexOf(suffix, eq + 3);
      if (at >= 0 && (close < 0 || at < close)) close = at;
    }
    if (close < 0) close = out.lastIndexOf(')');
    if (close < eq + 3) break;
    if (idents.some((c) => rules.some((r) => r.columnGlobs.some((g) => g(c))))) out = out.slice(0, eq + 3) + '****' + out.slice(close);
    from = eq + 3;
  }
  return out;
}

function indexOfKey(s: string, from: number): number {
  const a = s.indexOf('Key (', from);
  const b = s.indexOf('key (', from);
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}
