/**
 * Structure-aware frame generation for fuzzing: valid PostgreSQL messages of both directions
 * built from a seeded generator, then mutated where parsers are fragile — length fields,
 * type bytes, truncation, counts, string terminators, splices.
 */
import { cstr, i32, typed, untyped, u32 } from '../wire.js';

/** mulberry32: small, fast, reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  text(max = 24): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz_ 0123456789$\'";é漢👾';
    let s = '';
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) s += this.pick([...alphabet]);
    return s;
  }
}

const i16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v << 16 >> 16);
  return b;
};

const sqls = ['select 1', 'select $1::int', 'select secret, 2 as x from (values ($$s$$)) t(secret)', 'begin', 'commit', 'select pg_sleep(0)', 'show server_version', ''];

/** A valid frontend message (after login). */
export function frontendMessage(r: Rng): Buffer {
  switch (r.int(12)) {
    case 0:
    case 1:
      return typed('Q', cstr(r.pick(sqls)));
    case 2:
      return typed('P', cstr(r.chance(0.5) ? '' : `s${r.int(4)}`), cstr(r.pick(sqls)), i16(1), i32(23));
    case 3:
      return typed('B', cstr(''), cstr(r.chance(0.5) ? '' : `s${r.int(4)}`), i16(1), i16(r.int(2)), i16(1), i32(1), Buffer.from('7'), i16(1), i16(r.int(2)));
    case 4:
      return typed('D', Buffer.from(r.pick(['S', 'P'])), cstr(r.chance(0.5) ? '' : `s${r.int(4)}`));
    case 5:
      return typed('E', cstr(''), i32(r.int(3)));
    case 6:
      return typed('S');
    case 7:
      return typed('C', Buffer.from(r.pick(['S', 'P'])), cstr(`s${r.int(4)}`));
    case 8:
      return typed('H');
    case 9:
      return typed('d', r.bytes(r.int(20)));
    case 10:
      return typed('F', i32(r.int(5000)), i16(0), i16(0), i16(0));
    default:
      return typed('Q', cstr(`select ${r.int(1000)}, $$${r.text()}$$`));
  }
}

/** A valid backend message. */
export function backendMessage(r: Rng): Buffer {
  switch (r.int(12)) {
    case 0: {
      const n = r.int(4);
      const fields = Array.from({ length: n }, (_, i) =>
        Buffer.concat([cstr(r.chance(0.3) ? 'secret' : `c${i}`), i32(r.int(3) ? 0 : 16384), i16(r.int(4)), i32(r.pick([23, 25, 17, 1043])), i16(-1), i32(-1), i16(r.int(2))]),
      );
      return typed('T', i16(n), ...fields);
    }
    case 1:
    case 2: {
      const n = r.int(4);
      return typed('D', i16(n), ...Array.from({ length: n }, () => (r.chance(0.2) ? i32(-1) : ((v) => Buffer.concat([i32(v.length), v]))(Buffer.from(r.text())))));
    }
    case 3:
      return typed('C', cstr(r.pick(['SELECT 1', 'BEGIN', 'COPY 3', 'INSERT 0 1'])));
    case 4:
      return typed('Z', Buffer.from(r.pick(['I', 'T', 'E'])));
    case 5:
      return typed('E', Buffer.from('S'), cstr('ERROR'), Buffer.from('C'), cstr('42000'), Buffer.from('M'), cstr(r.text()), Buffer.from([0]));
    case 6:
      return typed('N', Buffer.from('S'), cstr('NOTICE'), Buffer.from('M'), cstr(r.text()), Buffer.from([0]));
    case 7:
      return typed(r.pick(['1', '2', '3', 'n', 'I', 's']));
    case 8:
      return typed('t', i16(1), i32(23));
    case 9:
      return typed('A', i32(r.int(9999)), cstr(r.text()), cstr(r.text()));
    case 10:
      return typed(r.pick(['H', 'G']), Buffer.from([0]), i16(1), i16(0));
    default:
      return typed('S', cstr(r.text(8)), cstr(r.text(8)));
  }
}

/** A valid startup-phase packet. */
export function startupPacket(r: Rng): Buffer {
  switch (r.int(5)) {
    case 0:
      return untyped(i32(80877103));
    case 1:
      return untyped(i32(80877104));
    case 2:
      return untyped(i32(80877102), i32(r.int(1 << 30)), r.bytes(4));
    default: {
      const params: [string, string][] = [['user', r.text(10) || 'u'], ['database', r.pick(['app', r.text(6)])]];
      if (r.chance(0.3)) params.push([r.pick(['application_name', 'options', 'replication', '_pq_.x', r.text(6)]), r.text()]);
      return untyped(u32((3 << 16) | (r.chance(0.9) ? 0 : r.int(5))), ...params.flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0]));
    }
  }
}

const interestingLengths = [-1, 0, 1, 3, 4, 5, 0x7fffffff, -0x80000000, 1 << 30, (1 << 30) + 1, 10_000, 100_001, 65_535];

/** One mutation of `frame`; `typed` says whether byte 0 is a type byte. */
export function mutate(r: Rng, frame: Buffer, isTyped: boolean): Buffer {
  const f = Buffer.from(frame);
  const lenAt = isTyped ? 1 : 0;
  switch (r.int(9)) {
    case 0: // length field
      if (f.length >= lenAt + 4) f.writeInt32BE((r.chance(0.5) ? r.pick(interestingLengths) : f.readInt32BE(lenAt) + r.int(9) - 4) | 0, lenAt);
      return f;
    case 1: // type byte
      if (isTyped) f[0] = r.int(256);
      return f;
    case 2: // truncate
      return f.subarray(0, r.int(f.length + 1));
    case 3: // flip a byte
      if (f.length) f[r.int(f.length)] = r.int(256);
      return f;
    case 4: // drop every NUL terminator after the header
      for (let i = lenAt + 4; i < f.length; i++) if (f[i] === 0) f[i] = 0x41;
      return f;
    case 5: // extend the body, keeping the length field consistent
      return fixLength(Buffer.concat([f, r.bytes(r.int(16) + 1)]), isTyped);
    case 6: // a 16-bit count somewhere in the body set to an extreme
      if (f.length >= lenAt + 6) f.writeInt16BE(r.pick([-1, -32768, 32767, 0, 1000]), lenAt + 4 + r.int(Math.max(1, f.length - lenAt - 5)));
      return f;
    case 7: // random bytes
      return r.bytes(r.int(32));
    default: // splice two halves of itself
      return Buffer.concat([f.subarray(0, r.int(f.length + 1)), f.subarray(r.int(f.length + 1))]);
  }
}

function fixLength(f: Buffer, isTyped: boolean): Buffer {
  const at = isTyped ? 1 : 0;
  if (f.length >= at + 4) f.writeInt32BE(f.length - at, at);
  return f;
}

/** Mutated with probability `p`, otherwise as generated. */
export function maybeMutate(r: Rng, frame: Buffer, isTyped: boolean, p: number): Buffer {
  return r.chance(p) ? mutate(r, frame, isTyped) : frame;
}
