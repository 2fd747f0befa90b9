/**
 * Secrets scan: every token, password and key a test used is noted here; at the end the
 * proxy's captured logs (and any other text it wrote) are searched for them. A hit names
 * the secret by kind and index, never by value.
 */
import fs from 'node:fs';
import path from 'node:path';

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
    const hits: string[] = [];
    this.secrets.forEach(({ kind, value }, i) => {
      const parts = value.split('.');
      const needles = parts.length === 3 ? [value, ...[parts[1]!, parts[2]!].filter((p) => p.length >= 16)] : [value];
      if (needles.some((n) => text.includes(n))) hits.push(`${kind} #${i}`);
    });
    return hits;
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
