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
import { detectorMask, maskJsonSpans, maskSpans, mayMatch, scan, type DetectorName } from './detectors.js';
import { compileGlob, type Glob } from './glob.js';
import { maskJsonKeys, maskLiteralJson, type KeyRule } from './json-keys.js';
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

/**
 * The masker jitgate's module returns: engines that frame rows themselves can skip the
 * columns nothing applies to and hand cells over as byte ranges (no Buffer view per cell).
 */
export interface CellMasker extends ResultMasker {
  /** 1 for columns that may change; a row with more cells than this has fails closed. */
  readonly active: Uint8Array;
  /** Masks `buf[start, end)` of column `column`: undefined when unchanged, null for SQL NULL. */
  maskAt(column: number, buf: Buffer, start: number, end: number): Buffer | null | undefined;
}

const STARS = Buffer.from('****');
const HASHES = Buffer.from('####');

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
  /** Index of `rule` (hit counters). */
  ri: number;
  detect: boolean;
  json: boolean;
  number: boolean;
  /** A text-format array or record: JSON in its elements gets the key rules. */
  literal: boolean;
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
    // Rule hits are counted per rule index (no per-value property lookups).
    const ruleHits = new Array<number>(rules.length).fill(0);
    let ruleHit = false;
    const arm = (): void => {
      // Fallback for engines that never say where a result ends.
      timer ??= setTimeout(flush, 1000).unref();
    };
    const hit = (name: string, n = 1): void => {
      pending ??= {};
      pending[name] = (pending[name] ?? 0) + n;
      arm();
    };
    const hitRule = (ri: number): void => {
      ruleHits[ri]!++;
      if (!ruleHit) {
        ruleHit = true;
        arm();
      }
    };
    const flush = (where: 'result' | 'text' = 'result'): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (ruleHit) {
        ruleHit = false;
        for (let i = 0; i < rules.length; i++) {
          const n = ruleHits[i]!;
          if (n === 0) continue;
          ruleHits[i] = 0;
          pending ??= {};
          pending[rules[i]!.name] = (pending[rules[i]!.name] ?? 0) + n;
        }
      }
      if (!pending) return;
      const hits = pending;
      pending = null;
      report({ ...who, where, hits });
    };

    const fail = (msg: string, cause?: unknown): JitError =>
      new JitError('masking_failed', msg, { cause });

    const enabledMask = detectorMask(detectors);
    /** Detectors by prefilter mask: only those whose cheap byte check passed run. */
    const subsets = new Map<number, DetectorName[]>();
    const subset = (m: number): DetectorName[] => {
      let d = subsets.get(m);
      if (!d) subsets.set(m, (d = detectors.filter((x) => (detectorMask([x]) & m) !== 0)));
      return d;
    };

    /** Detector pass over bytes (latin1 view: offsets are byte offsets; detectors look at ASCII only). */
    const detectRange = (v: Buffer, start: number, end: number, json: boolean): Buffer | undefined => {
      if (enabledMask === 0) return undefined;
      const m = mayMatch(v, start, end) & enabledMask;
      if (m === 0) return undefined;
      const s = v.toString('latin1', start, end);
      const spans = scan(s, subset(m));
      if (spans.length === 0) return undefined;
      for (const sp of spans) hit(sp.detector);
      return Buffer.from(json ? maskJsonSpans(s, spans) : maskSpans(s, spans), 'latin1');
    };
    const detectBytes = (v: Buffer): Buffer => detectRange(v, 0, v.length, false) ?? v;

    /** Column rules on JSON object keys (`row_to_json`, `json_agg`, …), then the detectors. */
    const keyRules: KeyRule[] = rules.map((r, i) => ({ action: r.action, keyGlobs: r.columnGlobs, onHit: () => hitRule(i) }));
    const applyKey = (action: MaskAction, clear: string): string | null => applyAction(action, clear, key);
    /** Detectors over the JSON text between values the key rules masked (spans never cross a value). */
    const detectSegment = (seg: string): string => {
      const spans = scan(seg, detectors);
      if (spans.length === 0) return seg;
      for (const sp of spans) hit(sp.detector);
      return maskJsonSpans(seg, spans);
    };
    const maskJsonRange = (v: Buffer, start: number, end: number): Buffer | undefined => {
      if (rules.length && hasByte(v, 123 /* { */, start, end)) {
        const s = v.toString('utf8', start, end);
        const k = maskJsonKeys(s, keyRules, applyKey, detectors.length ? detectSegment : undefined);
        if (k !== s) return Buffer.from(k, 'utf8');
      }
      return detectors.length ? detectRange(v, start, end, true) : undefined;
    };
    const detectJson = (v: Buffer): Buffer => maskJsonRange(v, 0, v.length) ?? v;
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

    /** A rule on plain text bytes: redact/null/email without '@' need no string at all. */
    const ruleBytes = (rule: CompiledRule, v: Buffer, start: number, end: number): Buffer | null => {
      switch (rule.action) {
        case 'null':
          return null;
        case 'redact':
          return allStars(v, start, end) ? HASHES : STARS;
        case 'email': {
          let at = end - 1;
          while (at >= start && v[at] !== 64) at--;
          if (at <= start || at >= end - 1) return allStars(v, start, end) ? HASHES : STARS;
          break;
        }
      }
      const out = applyAction(rule.action, v.toString('utf8', start, end), key);
      return out === null ? null : Buffer.from(out, 'utf8');
    };

    const unmaskable = (p: ColumnPlan, onBinary: 'null' | 'error', why: string): null => {
      if (onBinary === 'error') {
        throw fail(`column "${p.name}" cannot be masked in binary format (${why}); request it in text format`);
      }
      return null;
    };

    const maskCell = (p: ColumnPlan, v: Buffer, start: number, end: number): Buffer | null | undefined => {
      const rule = p.rule;
      if (rule) {
        hitRule(p.ri);
        if (p.kind === null || p.kind === 'text' || p.kind === 'json') {
          if (!p.json) return ruleBytes(rule, v, start, end);
          const out = ruleText(rule, v.toString('utf8', start, end), true);
          return out === null ? null : Buffer.from(out, 'utf8');
        }
        if (p.kind === 'jsonb') {
          if (end - start === 0 || v[start] !== 1) return unmaskable(p, rule.onBinary, 'unknown jsonb version');
          const out = ruleText(rule, v.toString('utf8', start + 1, end), true);
          if (out === null) return null;
          const enc = Buffer.allocUnsafe(1 + Buffer.byteLength(out, 'utf8'));
          enc[0] = 1;
          enc.write(out, 1, 'utf8');
          return enc;
        }
        return unmaskable(p, rule.onBinary, `type has no text form jitgate can rewrite`);
      }
      if (p.kind === null) {
        if (p.number) {
          if ((mayMatch(v, start, end) & enabledMask) === 0) return undefined;
          return probe(v.toString('latin1', start, end)) ? unmaskable(p, config.onBinary, 'a number holds a detected value') : undefined;
        }
        if (p.json) return maskJsonRange(v, start, end);
        if (p.literal && hasByte(v, 34 /* " */, start, end)) {
          const s = v.toString('utf8', start, end);
          const k = maskLiteralJson(s, keyRules, applyKey);
          if (k !== s) {
            const b = Buffer.from(k, 'utf8');
            return detectRange(b, 0, b.length, false) ?? b;
          }
        }
        return detectRange(v, start, end, false);
      }
      if (p.kind === 'json') {
        return maskJsonRange(v, start, end);
      }
      const view = v.subarray(start, end);
      try {
        const out = walkBinary(p.kind, view, p.json ? detectJson : detectBytes, probe, kindOf, 0, detectJson);
        return out === view ? undefined : out;
      } catch (e) {
        if (e instanceof Unmaskable) return unmaskable(p, config.onBinary, e.message);
        throw e;
      }
    };

    const makeMasker = (columns: ColumnInfo[]): CellMasker | null => {
      const plans: (ColumnPlan | null)[] = columns.map((c) => {
        const src: SourceColumn | null =
          c.sourceColumn !== undefined
            ? { schema: c.sourceSchema ?? '', table: c.sourceTable ?? '', column: c.sourceColumn }
            : c.tableOid !== 0 && c.attnum > 0 && resolver
              ? (resolver.column(c.tableOid, c.attnum) ?? null)
              : null;
        const rule = matchRule(rules, c.name, src);
        let kind: BinaryKind | null = null;
        if (c.format === 'binary') kind = binaryKind(c.typeOid, resolver) ?? 'opaque';
        const json = JSON_TYPES.has(c.typeOid) || kind === 'json' || kind === 'jsonb';
        const textKind = c.format === 'text' && rules.length ? binaryKind(c.typeOid, resolver) : undefined;
        const literal = textKind === 'array' || textKind === 'record';
        if (!rule) {
          if (kind === 'opaque') return null;
          // Without detectors only JSON can still need masking (rules on its keys), also inside arrays/records.
          if (detectors.length === 0 && !(rules.length && (json || literal || kind === 'array' || kind === 'record'))) return null;
        }
        return { rule, ri: rule ? rules.indexOf(rule) : -1, detect: !rule, json, number: NUMBER_TYPES.has(c.typeOid), literal, kind, name: c.name };
      });
      if (plans.every((p) => p === null)) return null;
      const active = Uint8Array.from(plans, (p) => (p ? 1 : 0));
      const guard = (e: unknown): never => {
        if (e instanceof JitError) throw e;
        throw fail('a value could not be masked; the statement was stopped', e);
      };
      return {
        active,
        maskAt(column, buf, start, end) {
          const p = plans[column];
          if (!p) {
            if (column >= plans.length) throw fail('a row has more columns than its description');
            return undefined;
          }
          try {
            return maskCell(p, buf, start, end);
          } catch (e) {
            return guard(e);
          }
        },
        mask(column, value) {
          if (value === null) return null;
          const p = plans[column];
          if (!p) {
            if (column >= plans.length) throw fail('a row has more columns than its description');
            return value;
          }
          try {
            const out = maskCell(p, value, 0, value.length);
            return out === undefined ? value : out;
          } catch (e) {
            return guard(e);
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
          // Text-format user types too when rules exist: a row type's text may carry JSON.
          if ((c.format === 'binary' || rules.length) && c.typeOid >= FIRST_USER_OID && binaryKind(c.typeOid, resolver) === undefined) {
            types.push(c.typeOid);
          }
        }
        if (tables.length === 0 && types.length === 0) return makeMasker(columns);
        return resolver.load(tables, types).then(
          async () => {
            // A domain's base or an array's element may need one more round.
            const more = columns
              .filter((c) => (c.format === 'binary' || rules.length) && c.typeOid >= FIRST_USER_OID)
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

function allStars(v: Buffer, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) if (v[i] !== 42) return false;
  return true;
}

function hasByte(v: Buffer, b: number, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (v[i] === b) return true;
  return false;
}
