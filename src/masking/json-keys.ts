/**
 * Column rules applied to JSON object keys: `row_to_json(c)`, `to_json`, `json_agg`,
 * `jsonb_build_object('ssn', ssn)` carry column values under their column names, with no
 * source column to match. One left-to-right pass over the document: a key matching a
 * rule's column glob gets the rule's action on its value — a string masked as a string,
 * any other value (number, object, array) masked as its JSON text and written as a JSON
 * string (or `null` for the `null` action) — so the document stays valid JSON. Keys of a
 * matched value's own objects are not visited again (the whole value is masked).
 */
import type { MaskAction } from './actions.js';
import type { Glob } from './glob.js';

export interface KeyRule {
  action: MaskAction;
  /** Globs over a bare key (a rule's column globs, table part dropped). */
  keyGlobs: readonly Glob[];
  /** Counted once per masked value. */
  onHit(): void;
}

export type ApplyAction = (action: MaskAction, clear: string) => string | null;

class BadJson extends Error {}

const isWs = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

/** End (exclusive) of the JSON string starting at `i` (a '"'). */
function stringEnd(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34) return j + 1;
  }
  throw new BadJson('unterminated string');
}

/** End (exclusive) of the JSON value starting at `i` (not whitespace). */
function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 34) return stringEnd(s, i);
  if (c === 123 || c === 91) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 34) j = stringEnd(s, j) - 1;
      else if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) {
        if (--depth === 0) return j + 1;
      }
    }
    throw new BadJson('unterminated container');
  }
  let j = i;
  while (j < s.length) {
    const d = s.charCodeAt(j);
    if (d === 44 || d === 125 || d === 93 || isWs(d)) break;
    j++;
  }
  if (j === i) throw new BadJson('missing value');
  return j;
}

function decodeString(token: string): string {
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

function ruleFor(rules: readonly KeyRule[], key: string): KeyRule | null {
  for (const r of rules) for (const g of r.keyGlobs) if (g(key)) return r;
  return null;
}

/**
 * The document with every value under a matching key masked; `s` itself when no key
 * matched. When something was masked, `rest` (the content detectors) rewrites the text
 * between masked values — never a masked value again. Throws on text that is not JSON
 * (the caller fails closed).
 */
export function maskJsonKeys(s: string, rules: readonly KeyRule[], apply: ApplyAction, rest: (segment: string) => string = (x) => x): string {
  if (rules.length === 0 || s.indexOf('{') < 0) return s;
  let out = '';
  let copied = 0;
  const n = s.length;
  // Walk every character once; inside an object, the string right after '{' or ',' is a key.
  let expectKey = false;
  const stack: number[] = []; // 123 object, 91 array
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) {
      const end = stringEnd(s, i);
      if (expectKey) {
        expectKey = false;
        const rule = ruleFor(rules, decodeString(s.slice(i, end)));
        let j = end;
        while (j < n && isWs(s.charCodeAt(j))) j++;
        if (s.charCodeAt(j) !== 58) throw new BadJson('missing colon');
        j++;
        while (j < n && isWs(s.charCodeAt(j))) j++;
        if (rule) {
          const vEnd = valueEnd(s, j);
          const raw = s.slice(j, vEnd);
          if (raw !== 'null') {
            const clear = raw.charCodeAt(0) === 34 ? decodeString(raw) : raw;
            const masked = apply(rule.action, clear);
            rule.onHit();
            out += rest(s.slice(copied, j)) + (masked === null ? 'null' : JSON.stringify(masked));
            copied = vEnd;
          }
          i = vEnd - 1;
        } else {
          i = j - 1;
        }
        continue;
      }
      i = end - 1;
    } else if (c === 123) {
      stack.push(123);
      expectKey = true;
    } else if (c === 91) {
      stack.push(91);
      expectKey = false;
    } else if (c === 125 || c === 93) {
      stack.pop();
      expectKey = false;
    } else if (c === 44) {
      expectKey = stack[stack.length - 1] === 123;
    }
  }
  return copied === 0 ? s : out + rest(s.slice(copied));
}

/**
 * PostgreSQL text-format arrays `{…}` and records `(…)` (`array_agg(row_to_json(c))`,
 * `(1, row_to_json(c))`): JSON documents in their quoted elements get the key rules,
 * recursively; everything else is copied as is. `s` itself when nothing changed.
 */
export function maskLiteralJson(s: string, rules: readonly KeyRule[], apply: ApplyAction): string {
  if (rules.length === 0 || s.indexOf('"') < 0) return s;
  return literal(s, rules, apply, 0);
}

function literal(s: string, rules: readonly KeyRule[], apply: ApplyAction, depth: number): string {
  if (depth > 32) return s;
  const c = s.charCodeAt(0);
  if (c === 123 /* { */) {
    // A JSON object first; what does not parse as one is an array literal.
    try {
      return maskJsonKeys(s, rules, apply);
    } catch {
      return arrayLiteral(s, rules, apply, depth);
    }
  }
  if (c === 40 /* ( */) return recordLiteral(s, rules, apply, depth);
  if (c === 91 /* [ */) {
    try {
      return maskJsonKeys(s, rules, apply);
    } catch {
      const eq = s.indexOf('={');
      return eq > 0 ? s.slice(0, eq + 1) + arrayLiteral(s.slice(eq + 1), rules, apply, depth) : s;
    }
  }
  return s;
}

/** Array literal: quoted elements use backslash escapes. */
function arrayLiteral(s: string, rules: readonly KeyRule[], apply: ApplyAction, depth: number): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 34) continue;
    let v = '';
    let j = i + 1;
    for (; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 92) v += s[++j] ?? '';
      else if (d === 34) break;
      else v += s[j];
    }
    const m = literal(v, rules, apply, depth + 1);
    if (m !== v) {
      out += s.slice(copied, i) + '"' + m.replace(/[\\"]/g, '\\$&') + '"';
      copied = j + 1;
    }
    i = j;
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** Record literal: quoted fields double their quotes and backslashes. */
function recordLiteral(s: string, rules: readonly KeyRule[], apply: ApplyAction, depth: number): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 34) continue;
    let v = '';
    let j = i + 1;
    for (; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 92) v += s[++j] ?? '';
      else if (d === 34) {
        if (s.charCodeAt(j + 1) === 34) {
          v += '"';
          j++;
        } else break;
      } else v += s[j];
    }
    const m = literal(v, rules, apply, depth + 1);
    if (m !== v) {
      out += s.slice(copied, i) + '"' + m.replace(/["\\]/g, '$&$&') + '"';
      copied = j + 1;
    }
    i = j;
  }
  return copied === 0 ? s : out + s.slice(copied);
}
