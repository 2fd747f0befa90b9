/**
 * Content detectors: each finds spans of one kind of secret in a string. They are
 * hand-written single-pass scanners (no regular expressions over the value), so a
 * value costs linear time whatever it holds; each starts from a cheap anchor (`@`,
 * `+`, `eyJ`, a digit run…) and confirms with the precise check (Luhn, mod-97, octets…).
 * Strings may be latin1 views of UTF-8 bytes: the scanners only look at ASCII.
 */
import { isIPv6 } from 'node:net';
import type { detectorNames } from '../config/schema.js';
import { maskEmail, partial, redact } from './actions.js';

export type DetectorName = (typeof detectorNames)[number];

export interface Span {
  start: number;
  end: number;
  detector: DetectorName;
  /** Two detectors' spans overlapped: the union is redacted. */
  merged?: boolean;
}

type Scanner = (s: string, out: Span[]) => void;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isAlpha = (c: number) => isUpper(c) || isLower(c);
const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
const isHex = (c: number) => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isB64url = (c: number) => isAlnum(c) || c === 45 || c === 95;

// ---- email ----
// Bytes >= 0x80: internationalised local parts (UTF-8 seen through latin1).
// RFC 5322 atext plus '.'.
const LOCAL_PUNCT = new Set(Array.from("!#$%&'*+-/=?^_`{|}~.", (c) => c.charCodeAt(0)));
const isLocal = (c: number) => isAlnum(c) || c >= 0x80 || LOCAL_PUNCT.has(c);
const isDomain = (c: number) => isAlnum(c) || c === 46 || c === 45;

/**
 * Where a domain ends: after its last label of two or more letters. A value glued behind it
 * (`concat(email, '1')`, `concat(email, ssn)`) does not hide it: `example.com1` and
 * `example.com.1` end after `com`. -1: no such domain.
 */
function domainEnd(domain: string): number {
  if (domain.includes('..') || domain.startsWith('.') || domain.startsWith('-')) return -1;
  for (let d = domain; ; ) {
    const dot = d.lastIndexOf('.');
    if (dot <= 0) return -1;
    let k = dot + 1;
    while (k < d.length && isAlpha(d.charCodeAt(k))) k++;
    if (k - dot - 1 >= 2) return k;
    d = d.slice(0, dot);
  }
}

const email: Scanner = (s, out) => {
  let from = 0;
  for (;;) {
    const at = s.indexOf('@', from);
    if (at < 0) return;
    from = at + 1;
    let i = at;
    while (i > 0 && at - i < 64 && isLocal(s.charCodeAt(i - 1))) i--;
    while (i < at && s.charCodeAt(i) === 46) i++;
    if (i === at) continue;
    let j = at + 1;
    while (j < s.length && j - at <= 253 && isDomain(s.charCodeAt(j))) j++;
    while (j > at + 1 && (s.charCodeAt(j - 1) === 46 || s.charCodeAt(j - 1) === 45)) j--;
    const end = domainEnd(s.slice(at + 1, j));
    if (end < 0) continue;
    out.push({ start: i, end: at + 1 + end, detector: 'email' });
    from = at + 1 + end;
  }
};

// ---- numbers with separators (cards) ----
function luhn(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the major card networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
function cardPrefix(d: string): boolean {
  const a = d.charCodeAt(0) - 48;
  const two = Number(d.slice(0, 2));
  if (a === 4 || a === 6) return true;
  if (a === 5) return two === 50 || (two >= 51 && two <= 58);
  if (a === 2) return two >= 22 && two <= 27;
  if (a === 3) return two === 30 || two === 34 || two === 35 || two === 36 || two === 37 || two === 38 || two === 39;
  return false;
}

const creditCard: Scanner = (s, out) => {
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(s.charCodeAt(i)) || (i > 0 && isDigit(s.charCodeAt(i - 1)))) {
      i++;
      continue;
    }
    // Digit groups joined by single ' ' or '-'.
    const groups: { start: number; end: number }[] = [];
    let j = i;
    for (;;) {
      const g = j;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      groups.push({ start: g, end: j });
      const c = s.charCodeAt(j);
      if ((c === 32 || c === 45) && j + 1 < n && isDigit(s.charCodeAt(j + 1))) j++;
      else break;
    }
    for (let a = 0; a < groups.length; a++) {
      let digits = '';
      for (let b = a; b < groups.length; b++) {
        digits += s.slice(groups[b]!.start, groups[b]!.end);
        if (digits.length > 19) break;
        if (digits.length >= 13 && cardPrefix(digits) && luhn(digits)) {
          out.push({ start: groups[a]!.start, end: groups[b]!.end, detector: 'credit_card' });
          a = b;
          break;
        }
      }
    }
    i = j;
  }
};

// ---- US SSN: AAA-GG-SSSS (or with spaces) ----
const usSsn: Scanner = (s, out) => {
  const n = s.length;
  for (let i = 0; i + 11 <= n; i++) {
    if (!isDigit(s.charCodeAt(i)) || (i > 0 && isDigit(s.charCodeAt(i - 1)))) continue;
    const sep = s.charCodeAt(i + 3);
    if (sep !== 45 && sep !== 32) continue;
    if (s.charCodeAt(i + 6) !== sep) continue;
    let ok = true;
    for (const k of [1, 2, 4, 5, 7, 8, 9, 10]) if (!isDigit(s.charCodeAt(i + k))) ok = false;
    if (!ok || (i + 11 < n && isDigit(s.charCodeAt(i + 11)))) continue;
    const area = Number(s.slice(i, i + 3));
    const group = s.slice(i + 4, i + 6);
    const serial = s.slice(i + 7, i + 11);
    if (area === 0 || area === 666 || area >= 900 || group === '00' || serial === '0000') continue;
    out.push({ start: i, end: i + 11, detector: 'us_ssn' });
    i += 10;
  }
};

// ---- IBAN: CCkk + up to 30 alphanumerics, optionally in groups of 4; mod-97 = 1 ----
function ibanValid(compact: string): boolean {
  const r = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < r.length; i++) {
    const c = r.charCodeAt(i);
    rem = isDigit(c) ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 55)) % 97;
  }
  return rem === 1;
}

const iban: Scanner = (s, out) => {
  const n = s.length;
  for (let i = 0; i + 15 <= n; i++) {
    if (!isUpper(s.charCodeAt(i)) || !isUpper(s.charCodeAt(i + 1)) || !isDigit(s.charCodeAt(i + 2)) || !isDigit(s.charCodeAt(i + 3))) continue;
    if (i > 0 && isAlnum(s.charCodeAt(i - 1))) continue;
    // Collect alphanumerics (upper case), single spaces between groups; remember where a cut may fall.
    let compact = '';
    const cuts: { len: number; end: number }[] = [];
    let j = i;
    while (j < n && compact.length < 34) {
      const c = s.charCodeAt(j);
      if (isDigit(c) || isUpper(c)) {
        compact += s[j];
        j++;
        continue;
      }
      if (c === 32 && j + 1 < n && (isDigit(s.charCodeAt(j + 1)) || isUpper(s.charCodeAt(j + 1)))) {
        cuts.push({ len: compact.length, end: j });
        j++;
        continue;
      }
      break;
    }
    if (j < n && isAlnum(s.charCodeAt(j))) {
      if (compact.length < 34) continue; // glued to more text: not an IBAN
    } else {
      cuts.push({ len: compact.length, end: j });
    }
    for (let k = cuts.length - 1; k >= 0; k--) {
      const c = cuts[k]!;
      if (c.len < 15) break;
      if (ibanValid(compact.slice(0, c.len))) {
        out.push({ start: i, end: c.end, detector: 'iban' });
        i = c.end - 1;
        break;
      }
    }
  }
};

// ---- phone, E.164 written with a leading + ----
const phone: Scanner = (s, out) => {
  let from = 0;
  for (;;) {
    const p = s.indexOf('+', from);
    if (p < 0) return;
    from = p + 1;
    if (p > 0 && isAlnum(s.charCodeAt(p - 1))) continue;
    let j = p + 1;
    if (j >= s.length || !isDigit(s.charCodeAt(j)) || s.charCodeAt(j) === 48) continue;
    let digits = 0;
    let last = j;
    let seps = 0;
    while (j < s.length) {
      const c = s.charCodeAt(j);
      if (isDigit(c)) {
        digits++;
        last = j + 1;
        seps = 0;
      } else if ((c === 32 || c === 45 || c === 46 || c === 40 || c === 41) && seps < 2) {
        seps++;
      } else break;
      j++;
    }
    if (digits < 8 || digits > 15) {
      from = j;
      continue;
    }
    if (last < s.length && isAlnum(s.charCodeAt(last))) continue;
    out.push({ start: p, end: last, detector: 'phone' });
    from = last;
  }
};

// ---- JWT (JWS/JWE compact): eyJ….eyJ….… ----
const jwt: Scanner = (s, out) => {
  let from = 0;
  for (;;) {
    const p = s.indexOf('eyJ', from);
    if (p < 0) return;
    from = p + 3;
    if (p > 0 && isB64url(s.charCodeAt(p - 1))) continue;
    let j = p;
    while (j < s.length && isB64url(s.charCodeAt(j))) j++;
    if (j - p < 10 || s.charCodeAt(j) !== 46 || !s.startsWith('eyJ', j + 1)) {
      from = j;
      continue;
    }
    let segs = 1;
    while (s.charCodeAt(j) === 46) {
      j++;
      segs++;
      while (j < s.length && isB64url(s.charCodeAt(j))) j++;
    }
    if (segs < 3) {
      from = j;
      continue;
    }
    out.push({ start: p, end: j, detector: 'jwt' });
    from = j;
  }
};

// ---- PEM private keys ----
const isPemBody = (c: number) => isAlnum(c) || c === 43 || c === 47 || c === 61 || c === 32 || c === 9 || c === 10 || c === 13 || c === 92 || c === 58 || c === 44 || c === 45;

const privateKey: Scanner = (s, out) => {
  let from = 0;
  for (;;) {
    const p = s.indexOf('-----BEGIN ', from);
    if (p < 0) return;
    const close = s.indexOf('-----', p + 11);
    from = p + 11;
    if (close < 0 || close - p > 80) continue;
    if (!s.slice(p, close).includes('PRIVATE KEY')) continue;
    const endMark = s.indexOf('-----END ', close + 5);
    let end: number;
    if (endMark >= 0) {
      const endClose = s.indexOf('-----', endMark + 9);
      end = endClose >= 0 && endClose - endMark < 80 ? endClose + 5 : endMark + 9;
    } else {
      // Truncated key: take everything that can belong to its body.
      end = close + 5;
      while (end < s.length && isPemBody(s.charCodeAt(end))) end++;
    }
    out.push({ start: p, end, detector: 'private_key' });
    from = end;
  }
};

// ---- API keys with a recognisable shape ----
interface KeyShape {
  prefix: string;
  min: number;
  max: number;
  ch: (c: number) => boolean;
  mixed?: boolean;
}
const upperDigit = (c: number) => isUpper(c) || isDigit(c);
const alnumUnder = (c: number) => isAlnum(c) || c === 95;
const alnumDash = (c: number) => isAlnum(c) || c === 45;
const keyShapes: KeyShape[] = [
  { prefix: 'AKIA', min: 16, max: 16, ch: upperDigit },
  { prefix: 'ASIA', min: 16, max: 16, ch: upperDigit },
  ...['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'].map((prefix) => ({ prefix, min: 36, max: 255, ch: isAlnum })),
  { prefix: 'github_pat_', min: 22, max: 255, ch: alnumUnder },
  ...['xoxb-', 'xoxp-', 'xoxa-', 'xoxr-', 'xoxs-'].map((prefix) => ({ prefix, min: 10, max: 255, ch: alnumDash })),
  ...['sk_live_', 'rk_live_', 'sk_test_', 'rk_test_', 'whsec_'].map((prefix) => ({ prefix, min: 16, max: 255, ch: isAlnum })),
  { prefix: 'AIza', min: 35, max: 35, ch: isB64url },
  { prefix: 'glpat-', min: 20, max: 255, ch: isB64url },
  { prefix: 'npm_', min: 36, max: 36, ch: isAlnum },
  { prefix: 'sk-', min: 32, max: 255, ch: isB64url, mixed: true },
];

const apiKey: Scanner = (s, out) => {
  for (const k of keyShapes) {
    let from = 0;
    for (;;) {
      const p = s.indexOf(k.prefix, from);
      if (p < 0) break;
      let j = p + k.prefix.length;
      from = j;
      if (p > 0 && alnumUnder(s.charCodeAt(p - 1))) continue;
      let digit = false;
      let alpha = false;
      while (j < s.length && j - p - k.prefix.length < k.max + 1 && k.ch(s.charCodeAt(j))) {
        const c = s.charCodeAt(j);
        if (isDigit(c)) digit = true;
        else if (isAlpha(c)) alpha = true;
        j++;
      }
      const len = j - p - k.prefix.length;
      from = j;
      if (len < k.min || len > k.max || (k.mixed && !(digit && alpha))) continue;
      if (j < s.length && isAlnum(s.charCodeAt(j))) continue;
      out.push({ start: p, end: j, detector: 'api_key' });
    }
  }
};

// ---- IPv4 (with an optional /prefix) ----
const ipv4: Scanner = (s, out) => {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    if (!isDigit(s.charCodeAt(i))) continue;
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (isAlnum(prev) || prev === 46) {
      while (i + 1 < n && isDigit(s.charCodeAt(i + 1))) i++;
      continue;
    }
    let j = i;
    let ok = true;
    for (let octet = 0; octet < 4 && ok; octet++) {
      if (octet > 0) {
        if (s.charCodeAt(j) !== 46) ok = false;
        else j++;
      }
      const st = j;
      while (j < n && j - st < 4 && isDigit(s.charCodeAt(j))) j++;
      if (j === st || j - st > 3 || Number(s.slice(st, j)) > 255) ok = false;
    }
    if (ok) {
      const next = j < n ? s.charCodeAt(j) : 0;
      if (isAlnum(next) || (next === 46 && isDigit(s.charCodeAt(j + 1)))) ok = false;
    }
    if (ok) {
      if (s.charCodeAt(j) === 47 && isDigit(s.charCodeAt(j + 1))) {
        j++;
        while (j < n && isDigit(s.charCodeAt(j))) j++;
      }
      out.push({ start: i, end: j, detector: 'ipv4' });
      i = j - 1;
    } else {
      while (i + 1 < n && (isDigit(s.charCodeAt(i + 1)) || s.charCodeAt(i + 1) === 46)) i++;
    }
  }
};

// ---- IPv6: a run of hex, ':' and '.', confirmed by the platform's parser ----
const ipv6: Scanner = (s, out) => {
  const n = s.length;
  const inRun = (c: number) => isHex(c) || c === 58 || c === 46;
  for (let i = 0; i < n; i++) {
    const c0 = s.charCodeAt(i);
    if (!inRun(c0)) continue;
    let j = i;
    while (j < n && inRun(s.charCodeAt(j))) j++;
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    const runEnd = j;
    while (j > i && s.charCodeAt(j - 1) === 46) j--;
    if (j - i > 1 && s.charCodeAt(j - 1) === 58 && s.charCodeAt(j - 2) !== 58) j--;
    const next = runEnd < n ? s.charCodeAt(runEnd) : 0;
    const cand = s.slice(i, j);
    if (!isAlnum(prev) && !isAlnum(next) && j - i >= 3 && j - i <= 45) {
      let colons = 0;
      let groups = 0;
      let inGroup = false;
      for (let k = 0; k < cand.length; k++) {
        const c = cand.charCodeAt(k);
        if (c === 58) {
          colons++;
          inGroup = false;
        } else if (!inGroup) {
          inGroup = true;
          groups++;
        }
      }
      if (colons >= 2 && groups >= 2 && isIPv6(cand)) {
        let end = j;
        if (s.charCodeAt(end) === 47 && isDigit(s.charCodeAt(end + 1))) {
          end++;
          while (end < n && isDigit(s.charCodeAt(end))) end++;
        }
        out.push({ start: i, end, detector: 'ipv6' });
      }
    }
    i = runEnd - 1;
  }
};

const scanners: Record<DetectorName, Scanner> = {
  email,
  credit_card: creditCard,
  us_ssn: usSsn,
  iban,
  phone,
  jwt,
  private_key: privateKey,
  api_key: apiKey,
  ipv4,
  ipv6,
};

/** Replacement for a detected span. */
function maskFor(d: DetectorName, text: string): string {
  switch (d) {
    case 'email': {
      // Leading '{' stay (array literals); keep the first character only when it is ASCII:
      // never half of a UTF-8 sequence.
      let k = 0;
      while (text.charCodeAt(k) === 123) k++;
      const rest = text.slice(k);
      const m = maskEmail(rest);
      const safe = rest.charCodeAt(0) >= 0x80 && m.charCodeAt(0) >= 0x80 ? '*' + m.slice(String.fromCodePoint(m.codePointAt(0)!).length) : m;
      return text.slice(0, k) + safe;
    }
    case 'credit_card':
    case 'us_ssn':
    case 'phone':
    case 'iban':
      return partial(text);
    default:
      return redact(text);
  }
}

/** Spans of every enabled detector, sorted, overlaps merged (a merged span is redacted). */
export function scan(s: string, enabled: readonly DetectorName[]): Span[] {
  const spans: Span[] = [];
  for (const d of enabled) scanners[d](s, spans);
  if (spans.length < 2) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [spans[0]!];
  for (let k = 1; k < spans.length; k++) {
    const last = merged[merged.length - 1]!;
    const sp = spans[k]!;
    if (sp.start < last.end) {
      merged[merged.length - 1] = { start: last.start, end: Math.max(sp.end, last.end), detector: last.detector, merged: true };
    } else merged.push(sp);
  }
  return merged;
}

/** The text with every span replaced; each replacement is ASCII without quotes, commas, braces or backslashes. */
export function maskSpans(s: string, spans: readonly Span[], quote?: (sp: Span) => boolean): string {
  let out = '';
  let pos = 0;
  for (const sp of spans) {
    const clear = s.slice(sp.start, sp.end);
    const m = sp.merged ? redact(clear) : maskFor(sp.detector, clear);
    out += s.slice(pos, sp.start) + (quote?.(sp) ? `"${m}"` : m);
    pos = sp.end;
  }
  return out + s.slice(pos);
}

/**
 * JSON text: a finding outside a string (a number such as a card stored as bigint) is
 * replaced by a JSON string, so the document stays valid.
 */
export function maskJsonSpans(s: string, spans: readonly Span[]): string {
  const outside = new Set<Span>();
  let k = 0;
  let inStr = false;
  for (let i = 0; i < s.length && k < spans.length; i++) {
    while (k < spans.length && spans[k]!.start === i) {
      if (!inStr) outside.add(spans[k]!);
      k++;
    }
    const c = s.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
  }
  return maskSpans(s, spans, (sp) => outside.has(sp));
}

export const allDetectors: readonly DetectorName[] = Object.keys(scanners) as DetectorName[];

const BIT: Record<DetectorName, number> = {
  email: 1,
  credit_card: 2,
  us_ssn: 4,
  iban: 8,
  phone: 16,
  jwt: 32,
  private_key: 64,
  api_key: 128,
  ipv4: 256,
  ipv6: 512,
};

/** Bit mask of detectors (for mayMatch). */
export function detectorMask(names: readonly DetectorName[]): number {
  let m = 0;
  for (const d of names) m |= BIT[d];
  return m;
}

/**
 * Detectors that could find something in `buf[start, end)`, from one pass over its bytes:
 * a necessary condition per detector (an '@' for email, 13 digits for a card, …), so a
 * value none can match is never turned into a string.
 */
export function mayMatch(buf: Buffer, start: number, end: number): number {
  let digits = 0;
  let upper = 0;
  let at = false;
  let plus = false;
  let dashes = 0;
  let under = false;
  let space = false;
  let dots = 0;
  let colons = 0;
  let eyJ = false;
  let awsLike = false;
  let p1 = 0;
  let p2 = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) digits++;
    else if (c >= 65 && c <= 90) {
      upper++;
      if (c === 74 && p1 === 121 && p2 === 101) eyJ = true; // "eyJ"
      else if (p1 === 65 && (c === 75 || c === 83 || c === 73)) awsLike = true; // AK…, AS…, AI…
    } else if (c < 65) {
      if (c === 64) at = true;
      else if (c === 46) dots++;
      else if (c === 45) dashes++;
      else if (c === 32) space = true;
      else if (c === 58) colons++;
      else if (c === 43) plus = true;
    } else if (c === 95) under = true;
    p2 = p1;
    p1 = c;
  }
  let m = 0;
  if (at) m |= BIT.email;
  if (digits >= 13) m |= BIT.credit_card;
  if (digits >= 9 && (dashes > 0 || space)) m |= BIT.us_ssn;
  if (upper >= 2 && digits >= 2 && upper + digits >= 15) m |= BIT.iban;
  if (plus && digits >= 8) m |= BIT.phone;
  if (eyJ) m |= BIT.jwt;
  if (dashes >= 10) m |= BIT.private_key;
  if (under || dashes > 0 || awsLike) m |= BIT.api_key;
  if (dots >= 3 && digits >= 4) m |= BIT.ipv4;
  if (colons >= 2) m |= BIT.ipv6;
  return m;
}
