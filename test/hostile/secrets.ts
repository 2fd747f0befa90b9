/**
 * Secrets scan: every token, password and key a test used is noted here; at the end the
 * proxy's captured logs (and any other text it wrote) are searched for them. A hit names
 * the secret by kind and index, never by value.
 */
import fs from 'node:fs';
import path from 'node:path';

const NEEDLE_KEY = 8;

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
    // One pass over the text whatever the number of secrets: needles are indexed by their
    // first 8 characters (every needle has at least 8), candidates confirmed in place.
    const index = this.needleIndex();
    const hits = new Set<number>();
    for (let i = 0; i + NEEDLE_KEY <= text.length; i++) {
      const candidates = index.get(text.substr(i, NEEDLE_KEY));
      if (!candidates) continue;
      for (const { needle, secret } of candidates) {
        if (!hits.has(secret) && text.startsWith(needle, i)) hits.add(secret);
      }
    }
    return [...hits].sort((a, b) => a - b).map((i) => `${this.secrets[i]!.kind} #${i}`);
  }

  private indexed: { size: number; index: Map<string, { needle: string; secret: number }[]> } | null = null;

  /** A JWT is also searched by its payload and signature alone (a recording might hold a fragment). */
  private needleIndex(): Map<string, { needle: string; secret: number }[]> {
    if (this.indexed?.size === this.secrets.length) return this.indexed.index;
    const index = new Map<string, { needle: string; secret: number }[]>();
    this.secrets.forEach(({ value }, secret) => {
      const parts = value.split('.');
      const needles = parts.length === 3 ? [value, ...[parts[1]!, parts[2]!].filter((p) => p.length >= 16)] : [value];
      for (const needle of needles) {
        const key = needle.slice(0, NEEDLE_KEY);
        let list = index.get(key);
        if (!list) index.set(key, (list = []));
        list.push({ needle, secret });
      }
    });
    this.indexed = { size: this.secrets.length, index };
    return index;
  }


  /** Scans every regular file under `dir` (logs, recordings) as latin1 text. */
  scanDir(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    const hits: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const p = path.join(e.parentPath ?? dir, e.name);
      for (const h of this.scan(fs.readFileSync(p).toString('latin1'))) hits.push(`${h} in ${path.relative(dir, p)}`);
    }
    return hits;
  }
}
