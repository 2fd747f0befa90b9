/**
 * Warm pool for one PostgreSQL target: blank ephemeral users, each already logged in
 * upstream on its own connection, holding no roles, whose login window (VALID UNTIL)
 * closes seconds after creation. A session claims
 * one — rename, grant, expiry in one transaction — and applies its startup parameters
 * with SET, skipping CREATE ROLE and the upstream handshake on the login path. Every
 * entry is used by one session at most and dropped after it, like any ephemeral user.
 */
import { Backend, ErrorField, Framer, decodeErrorFields, decodeParameterStatus } from '../../../protocols/postgres/index.js';
import { MessageBuilder } from '../../../protocols/postgres/writer.js';
import { Frontend } from '../../../protocols/postgres/codes.js';
import type { TargetConfig } from '../../config/schema.js';
import type { Grant, Lease } from '../../engine/types.js';
import { JitError } from '../../errors.js';
import type { Logger } from '../../audit/log.js';
import type { BlankUser, PostgresProvisioner } from '../../provision/postgres.js';
import { quoteIdent, quoteLiteral } from '../../provision/sql.js';
import { MessageStream } from './message-stream.js';
import { pgConnect, PgUpstream } from './upstream.js';

interface Entry {
  blank: BlankUser;
  upstream: PgUpstream;
  dead: boolean;
}

export class WarmPool {
  private idle: Entry[] = [];
  private filling = 0;
  private failures = 0;
  private closed = false;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly target: TargetConfig,
    private readonly provisioner: PostgresProvisioner,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.recycle(), Math.min(30_000, target.warmPool.maxAge / 4));
    this.timer.unref();
    this.fill();
  }

  get size(): number {
    return this.idle.length;
  }

  /** Claims a warm user for `grant`; null when none is ready or the client needs a fresh login. */
  async claim(
    grant: Grant,
    sessionId: string,
    startupParams: [string, string][],
  ): Promise<{ lease: Lease; upstream: PgUpstream } | null> {
    // `options` can carry settings only a fresh backend takes at start-up.
    if (startupParams.some(([k]) => k === 'options')) return null;
    let entry: Entry | undefined;
    while ((entry = this.idle.pop()) && (entry.dead || entry.upstream.socket.destroyed)) this.discard(entry, 'connection lost');
    this.fill();
    if (!entry) return null;
    // The grant (admin connection) and the client's parameters (its own connection) are
    // independent: one round trip each, in parallel.
    const [claimed, applied] = await Promise.allSettled([
      this.provisioner.claim(entry.blank, grant, sessionId),
      applyStartupParams(entry.upstream, startupParams),
    ]);
    if (claimed.status === 'rejected' || applied.status === 'rejected') {
      entry.upstream.close();
      if (claimed.status === 'fulfilled') await claimed.value.release('startup parameters refused');
      throw claimed.status === 'rejected' ? claimed.reason : (applied as PromiseRejectedResult).reason;
    }
    const lease = claimed.value;
    return { lease, upstream: entry.upstream };
  }

  private fill(): void {
    if (this.closed) return;
    while (this.idle.length + this.filling < this.target.warmPool.size) {
      this.filling++;
      this.create().then(
        (e) => {
          this.failures = 0;
          if (this.closed) this.discard(e, 'pool closed');
          else this.idle.push(e);
        },
        (err) => {
          this.failures++;
          this.log.warn({ event: 'pool.fill_failed', err: String(err?.clientMessage ?? err?.message ?? err) }, 'warm pool could not create a user');
        },
      ).finally(() => {
        this.filling--;
        // Back off after failures instead of spinning against a broken upstream.
        if (this.failures > 0) setTimeout(() => this.fill(), Math.min(30_000, 500 * 2 ** this.failures)).unref();
        else this.fill();
      });
      if (this.failures > 0) return;
    }
  }

  private async create(): Promise<Entry> {
    const blank = await this.provisioner.createBlank(this.target.warmPool.maxAge + 60_000);
    let upstream: PgUpstream | undefined;
    try {
      upstream = await pgConnect(this.target, { user: blank.user, password: blank.password, scram: blank.scram }, []);
    } catch (e) {
      upstream?.close();
      await this.provisioner.discardBlank(blank.user, 'warm pool connect failed');
      throw e;
    }
    const entry: Entry = { blank, upstream, dead: false };
    upstream.socket.once('close', () => (entry.dead = true));
    return entry;
  }

  private discard(e: Entry, reason: string): void {
    e.upstream.close();
    void this.provisioner.discardBlank(e.blank.user, reason);
  }

  private recycle(): void {
    const cutoff = Date.now() - this.target.warmPool.maxAge;
    const keep: Entry[] = [];
    for (const e of this.idle) {
      if (e.dead || e.blank.createdAt < cutoff) this.discard(e, e.dead ? 'connection lost' : 'warm pool entry aged out');
      else keep.push(e);
    }
    this.idle = keep;
    this.fill();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const all = this.idle;
    this.idle = [];
    await Promise.allSettled(
      all.map((e) => {
        e.upstream.close();
        return this.provisioner.discardBlank(e.blank.user, 'pool closed');
      }),
    );
  }
}

/**
 * Applies the client's startup parameters to a pooled connection with SET, collecting the
 * ParameterStatus reports so the client's greeting shows the values it asked for.
 */
async function applyStartupParams(upstream: PgUpstream, params: [string, string][]): Promise<void> {
  if (params.length === 0) return;
  const sql = params.map(([k, v]) => `SET ${quoteIdent(k)} TO ${quoteLiteral(v)}`).join('; ');
  const stream = new MessageStream(upstream.socket, upstream.framer as Framer);
  try {
    upstream.socket.write(new MessageBuilder().cstring(sql).build(Frontend.Query));
    let error: JitError | null = null;
    for (;;) {
      const m = await stream.next();
      if (m.type === Backend.ParameterStatus) {
        upstream.setParameterStatus(decodeParameterStatus(m.buf, m.start, m.end).name, m.buf.subarray(m.start, m.end));
      } else if (m.type === Backend.ErrorResponse) {
        const f = decodeErrorFields(m.buf, m.start, m.end);
        error = new JitError('protocol_violation', f.get(ErrorField.Message) ?? 'invalid startup parameter', {
          sqlstate: f.get(ErrorField.Code),
        });
      } else if (m.type === Backend.ReadyForQuery) {
        if (error) throw error;
        return;
      }
    }
  } finally {
    upstream.pending.push(...stream.detach());
  }
}
