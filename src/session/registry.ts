/** Live sessions: for cancel routing, revocation, drain on shutdown and the reaper's live set. */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { SessionInfo, SessionStats } from '../engine/types.js';
import type { JitError } from '../errors.js';

export interface LiveSession {
  info: SessionInfo;
  stats: SessionStats;
  controller: AbortController;
}

/** Time-sortable session id: 9 chars of milliseconds (base 36) + 12 hex random. */
export function newSessionId(): string {
  return Date.now().toString(36).padStart(9, '0') + randomBytes(6).toString('hex');
}

export class SessionRegistry extends EventEmitter {
  private readonly sessions = new Map<string, LiveSession>();
  /** Logins in progress (verified or not) — counted against limits.maxSessions. */
  pending = 0;

  get size(): number {
    return this.sessions.size;
  }

  add(s: LiveSession): void {
    this.sessions.set(s.info.id, s);
  }

  remove(id: string): void {
    this.sessions.delete(id);
    if (this.sessions.size === 0) this.emit('empty');
  }

  all(): LiveSession[] {
    return [...this.sessions.values()];
  }

  upstreamUsers(): Set<string> {
    return new Set(this.all().map((s) => s.info.upstreamUser));
  }

  /** Ends matching sessions with `err` (the client gets it as a protocol error). */
  end(match: (s: LiveSession) => boolean, err: JitError): number {
    let n = 0;
    for (const s of this.sessions.values()) {
      if (match(s) && !s.controller.signal.aborted) {
        s.controller.abort(err);
        n++;
      }
    }
    return n;
  }

  /** Resolves true when no session is live, false when `timeoutMs` passed first. */
  waitEmpty(timeoutMs: number): Promise<boolean> {
    if (this.sessions.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('empty', onEmpty);
        resolve(false);
      }, timeoutMs);
      const onEmpty = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('empty', onEmpty);
    });
  }
}
