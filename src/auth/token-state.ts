import type { Grant } from '../engine/types.js';

/** Revocation and single-use bookkeeping consulted after a token verified. */
export interface TokenStateStore {
  isRevoked(g: Grant): boolean | Promise<boolean>;
  /** Records `jti` until `exp` (seconds); false when it was already used. */
  useOnce(jti: string, exp: number): boolean | Promise<boolean>;
}

/** In-process state: revocations last until restart, used jtis until their token expires. */
export class MemoryTokenState implements TokenStateStore {
  private readonly subs = new Set<string>();
  private readonly jtis = new Set<string>();
  private readonly used = new Map<string, number>();
  private nextPrune = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Refuses every token with this sub and/or jti from now on. */
  revoke(what: { sub?: string; jti?: string }): void {
    if (what.sub !== undefined) this.subs.add(what.sub);
    if (what.jti !== undefined) this.jtis.add(what.jti);
  }

  isRevoked(g: Grant): boolean {
    return this.subs.has(g.sub) || (g.jti !== undefined && this.jtis.has(g.jti));
  }

  useOnce(jti: string, exp: number): boolean {
    const nowSec = this.now() / 1000;
    this.prune(nowSec);
    const until = this.used.get(jti);
    if (until !== undefined && until > nowSec) return false;
    this.used.set(jti, exp);
    return true;
  }

  private prune(nowSec: number): void {
    if (nowSec < this.nextPrune) return;
    this.nextPrune = nowSec + 60;
    for (const [jti, exp] of this.used) if (exp <= nowSec) this.used.delete(jti);
  }
}
