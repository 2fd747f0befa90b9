/**
 * PostgreSQL binary formats the masker can see into: text-like types (UTF-8 bytes; jsonb
 * with a 1-byte version prefix), arrays and records (self-describing: each element carries
 * its type OID or the array its element OID), and numbers/addresses that can hold a
 * detectable value (int8, float8, numeric, inet) but cannot be re-encoded masked.
 */
import type { CatalogResolver } from './catalog.js';

export type BinaryKind = 'text' | 'json' | 'jsonb' | 'array' | 'record' | 'int8' | 'float8' | 'numeric' | 'inet' | 'opaque';

const builtin = new Map<number, BinaryKind>([
  [25, 'text'], [1043, 'text'], [1042, 'text'], [19, 'text'], [114, 'json'], [142, 'text'], [705, 'text'], [2275, 'text'],
  [3802, 'jsonb'],
  [2249, 'record'],
  [20, 'int8'], [701, 'float8'], [1700, 'numeric'], [869, 'inet'], [650, 'inet'],
  // arrays
  [1009, 'array'], [1015, 'array'], [1014, 'array'], [1003, 'array'], [199, 'array'], [143, 'array'], [3807, 'array'],
  [1016, 'array'], [1022, 'array'], [1231, 'array'], [1041, 'array'], [651, 'array'], [2287, 'array'], [1263, 'array'],
  [1000, 'array'], [1001, 'array'], [1002, 'array'], [1005, 'array'], [1007, 'array'], [1021, 'array'], [1028, 'array'],
  [1115, 'array'], [1182, 'array'], [1183, 'array'], [1185, 'array'], [2951, 'array'],
]);

/** Built-in OIDs are below this (FirstNormalObjectId); anything above needs the catalog. */
export const FIRST_USER_OID = 16384;

/** The binary kind of a type, or undefined when the catalog has not been asked yet. */
export function binaryKind(oid: number, resolver: CatalogResolver | null, depth = 0): BinaryKind | undefined {
  const b = builtin.get(oid);
  if (b) return b;
  if (oid < FIRST_USER_OID || !resolver || depth > 8) return 'opaque';
  const t = resolver.type(oid);
  if (t === undefined) return undefined;
  if (t === null) return 'opaque';
  if (t.typtype === 'd') return binaryKind(t.base, resolver, depth + 1);
  if (t.typtype === 'c') return 'record';
  if (t.typtype === 'e') return 'text';
  if (t.category === 'A' && t.elem !== 0) return 'array';
  if (t.category === 'S' && t.typtype === 'b') return 'text';
  return 'opaque';
}

/** Thrown inside a walk when a value holds something that cannot be masked in place. */
export class Unmaskable extends Error {}

/** Masks the text parts of a binary value; returns `v` itself when nothing changed. */
export type TextMask = (v: Buffer) => Buffer;
/** Masks a JSON document (json text, jsonb body): column rules on its keys, then detectors. */
export type JsonMask = (v: Buffer) => Buffer;
/** True when the textual form of a number/address holds a detectable value. */
export type Probe = (s: string) => boolean;

export function walkBinary(
  kind: BinaryKind,
  v: Buffer,
  maskText: TextMask,
  probe: Probe,
  kindOf: (oid: number) => BinaryKind,
  depth = 0,
  maskJson: JsonMask = maskText,
): Buffer {
  if (depth > 32) throw new Unmaskable('value nested too deeply');
  switch (kind) {
    case 'text':
      return maskText(v);
    case 'json':
      return maskJson(v);
    case 'jsonb': {
      if (v.length === 0 || v[0] !== 1) throw new Unmaskable('unknown jsonb binary version');
      const body = v.subarray(1);
      const m = maskJson(body);
      return m === body ? v : Buffer.concat([v.subarray(0, 1), m]);
    }
    case 'int8':
      if (v.length !== 8) throw new Unmaskable('bad int8');
      if (probe(v.readBigInt64BE(0).toString())) throw new Unmaskable('int8 holds a detected value');
      return v;
    case 'float8': {
      if (v.length !== 8) throw new Unmaskable('bad float8');
      const f = v.readDoubleBE(0);
      if (Number.isFinite(f) && probe(Math.abs(f) < 1e21 ? BigInt(Math.trunc(f)).toString() : String(f))) {
        throw new Unmaskable('float8 holds a detected value');
      }
      return v;
    }
    case 'numeric':
      if (probe(numericInteger(v))) throw new Unmaskable('numeric holds a detected value');
      return v;
    case 'inet':
      if (probe(inetText(v))) throw new Unmaskable('address holds a detected value');
      return v;
    case 'array':
      return walkArray(v, maskText, probe, kindOf, depth, maskJson);
    case 'record':
      return walkRecord(v, maskText, probe, kindOf, depth, maskJson);
    case 'opaque':
      return v;
  }
}

function walkArray(v: Buffer, maskText: TextMask, probe: Probe, kindOf: (oid: number) => BinaryKind, depth: number, maskJson: JsonMask): Buffer {
  if (v.length < 12) throw new Unmaskable('bad array');
  const ndim = v.readInt32BE(0);
  if (ndim < 0 || ndim > 6) throw new Unmaskable('bad array');
  const elem = v.readUInt32BE(8);
  const kind = kindOf(elem);
  let pos = 12 + ndim * 8;
  if (pos > v.length) throw new Unmaskable('bad array');
  if (kind === 'opaque') return v;
  const header = v.subarray(0, pos);
  const parts: Buffer[] = [header];
  let changed = false;
  while (pos < v.length) {
    if (pos + 4 > v.length) throw new Unmaskable('bad array');
    const len = v.readInt32BE(pos);
    if (len === -1) {
      parts.push(v.subarray(pos, pos + 4));
      pos += 4;
      continue;
    }
    if (len < 0 || pos + 4 + len > v.length) throw new Unmaskable('bad array');
    const e = v.subarray(pos + 4, pos + 4 + len);
    const m = walkBinary(kind, e, maskText, probe, kindOf, depth + 1, maskJson);
    if (m !== e) changed = true;
    const lb = Buffer.allocUnsafe(4);
    lb.writeInt32BE(m.length, 0);
    parts.push(lb, m);
    pos += 4 + len;
  }
  return changed ? Buffer.concat(parts) : v;
}

function walkRecord(v: Buffer, maskText: TextMask, probe: Probe, kindOf: (oid: number) => BinaryKind, depth: number, maskJson: JsonMask): Buffer {
  if (v.length < 4) throw new Unmaskable('bad record');
  const n = v.readInt32BE(0);
  if (n < 0) throw new Unmaskable('bad record');
  let pos = 4;
  const parts: Buffer[] = [v.subarray(0, 4)];
  let changed = false;
  for (let i = 0; i < n; i++) {
    if (pos + 8 > v.length) throw new Unmaskable('bad record');
    const oid = v.readUInt32BE(pos);
    const len = v.readInt32BE(pos + 4);
    if (len === -1) {
      parts.push(v.subarray(pos, pos + 8));
      pos += 8;
      continue;
    }
    if (len < 0 || pos + 8 + len > v.length) throw new Unmaskable('bad record');
    const e = v.subarray(pos + 8, pos + 8 + len);
    const m = walkBinary(kindOf(oid), e, maskText, probe, kindOf, depth + 1, maskJson);
    if (m !== e) changed = true;
    const h = Buffer.allocUnsafe(8);
    h.writeUInt32BE(oid, 0);
    h.writeInt32BE(m.length, 4);
    parts.push(h, m);
    pos += 8 + len;
  }
  if (pos !== v.length) throw new Unmaskable('bad record');
  return changed ? Buffer.concat(parts) : v;
}

/** The integer digits of a binary numeric (base-10000 digits, weight of the first). */
function numericInteger(v: Buffer): string {
  if (v.length < 8) throw new Unmaskable('bad numeric');
  const ndigits = v.readInt16BE(0);
  const weight = v.readInt16BE(2);
  if (ndigits < 0 || v.length !== 8 + ndigits * 2) throw new Unmaskable('bad numeric');
  if (weight < 0) return '0';
  let s = '';
  for (let i = 0; i <= weight; i++) {
    const d = i < ndigits ? v.readInt16BE(8 + i * 2) : 0;
    s += i === 0 ? String(d) : String(d).padStart(4, '0');
  }
  return s;
}

function inetText(v: Buffer): string {
  if (v.length < 4) throw new Unmaskable('bad inet');
  const family = v[0];
  const addr = v.subarray(4);
  if (family === 2 && addr.length === 4) return Array.from(addr).join('.');
  if (family === 3 && addr.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(addr.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  throw new Unmaskable('bad inet');
}
