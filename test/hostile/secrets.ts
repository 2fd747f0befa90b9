/**
 * Secrets scan: every token, password and key a test used is noted here; at the end the
 * proxy's captured logs (and any other text it wrote) are searched for them. A hit names
 * the secret by kind and index, never by value.
 */
import fs from 'node:fs';
import path from 'node:path';

const NEEDLE_KEY = 8;
const PRIME = 16777619;
/** PRIME^(NEEDLE_KEY-1) mod 2^32: the weight of the byte leaving the window. */
const TOP = (() => {
  let t = 1;
  for (let i = 1; i < NEEDLE_KEY; i++) t = Math.imul(t, PRIME) >>> 0;
  return t;
})();

export class SecretLedger {
  private readonly secrets: { kind: string; value: string }[] = [];

  /** Notes a secret; returns it for chaining. Values shorter than 8 characters are too common to scan for. */
  add<T extends string>(kind: string, value: T): T {
    if (value.length >= 8 && !this.secrets.some((s) => s.value === value)) this.secrets.push({ kind, value });
    return value;
  }

  /** Notes every private member of a JWKS file (d, p, q, k…) and the file's whole text. */
  addJwksFile(file: string): void {
    const text = fs.readFileSync(file, 'utf8');
    const jwks = JSON.parse(text) as { keys?: Record<string, unknown>[] };
    for (const k of jwks.keys ?? []) {
      for (const field of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        if (typeof k[field] === 'string') this.add(`private key ${field}`, k[field] as string);
      }
    }
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Names of the secrets found in `text`. A JWT counts as leaked when it, its payload or its signature occurs. */
  scan(text: string): string[] {
    return this.scanBytes(Buffer.from(text, 'latin1'));
  }

  /**
   * The same over bytes, in one pass whatever the number of secrets: a rolling hash of every
   * 8-byte window is looked up in a bitset of the needles' first 8 bytes; candidates are
   * confirmed in place. (Secrets are ASCII, so latin1 text and bytes agree.)
   */
  scanBytes(buf: Buffer): string[] {
    const { bits, byHash } = this.needleIndex();
    const hits = new Set<number>();
    const n = buf.length;
    if (n < NEEDLE_KEY) return [];
    let h = 0;
    for (let i = 0; i < NEEDLE_KEY; i++) h = (Math.imul(h, PRIME) + buf[i]!) >>> 0;
    for (let i = 0; ; i++) {
      if (bits[h >>> 11]! & (1 << (h & 31))) {
        for (const { needle, secret } of byHash.get(h) ?? []) {
          if (!hits.has(secret) && i + needle.length <= n && buf.compare(needle, 0, needle.length, i, i + needle.length) === 0) hits.add(secret);
        }
      }
      if (i + NEEDLE_KEY >= n) break;
      h = (Math.imul((h - Math.imul(buf[i]!, TOP)) >>> 0, PRIME) + buf[i + NEEDLE_KEY]!) >>> 0;
    }
    return [...hits].sort((a, b) => a - b).map((i) => `${this.secrets[i]!.kind} #${i}`);
  }

  private indexed: { size: number; bits: Uint32Array; byHash: Map<number, { needle: Buffer; secret: number }[]> } | null = null;

  /** A JWT is also searched by its payload and signature alone (a recording might hold a fragment). */
  private needleIndex(): { bits: Uint32Array; byHash: Map<number, { needle: Buffer; secret: number }[]> } {
    if (this.indexed?.size === this.secrets.length) return this.indexed;
    // 2^32 hash values folded onto 2^21 words of 32 bits: index = top 21 bits, bit = low 5 bits.
    const bits = new Uint32Array(1 << 21);
    const byHash = new Map<number, { needle: Buffer; secret: number }[]>();
    this.secrets.forEach(({ value }, secret) => {
      const parts = value.split('.');
      const needles = parts.length === 3 ? [value, ...[parts[1]!, parts[2]!].filter((p) => p.length >= 16)] : [value];
      for (const text of needles) {
        const needle = Buffer.from(text, 'latin1');
        let h = 0;
        for (let i = 0; i < NEEDLE_KEY; i++) h = (Math.imul(h, PRIME) + needle[i]!) >>> 0;
        bits[h >>> 11]! |= 1 << (h & 31);
        let list = byHash.get(h);
        if (!list) byHash.set(h, (list = []));
        list.push({ needle, secret });
      }
    });
    this.indexed = { size: this.secrets.length, bits, byHash };
    return this.indexed;
  }

  /** Scans every regular file under `dir` (logs, recordings) as latin1 text. */
  scanDir(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const hits: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const p = path.join(e.parentPath ?? dir, e.name);
      for (const h of this.scanBytes(fs.readFileSync(p))) hits.push(`${h} in ${path.relative(dir, p)}`);
    }
    return hits;
  }
}
