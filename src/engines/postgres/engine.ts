/** The PostgreSQL engine: client login, upstream login, relay, CancelRequest routing. */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { encode } from '../../../protocols/postgres/index.js';
import type { Config, TargetConfig } from '../../config/schema.js';
import type { ClientLogin, Engine, Provisioner, RelayContext, UpstreamConnection, UpstreamCredentials } from '../../engine/types.js';
import { JitError } from '../../errors.js';
import type { Logger } from '../../audit/log.js';
import { PostgresProvisioner } from '../../provision/postgres.js';
import { pgHandshake, PgClientLogin } from './frontend.js';
import { pgConnect, PgUpstream, sendCancel, type CancelTarget } from './upstream.js';
import { pgRelay } from './relay.js';
import { WarmPool } from './warm-pool.js';
import type { Grant, Lease } from '../../engine/types.js';

export interface PostgresEngineOptions {
  config: Config;
  secureContext: tls.SecureContext;
  log: Logger;
  /** Key for the HMAC tag in ephemeral user names. */
  nameKey: Buffer;
}

export class PostgresEngine implements Engine {
  readonly protocol = 'postgres' as const;
  /** jitgate's own BackendKeyData → the upstream backend to cancel. */
  private readonly cancelKeys = new Map<number, { secretKey: Buffer; target: CancelTarget }>();
  private readonly pools = new Map<string, WarmPool>();

  constructor(private readonly opts: PostgresEngineOptions) {}

  handshake(socket: Socket): Promise<ClientLogin | null> {
    const { config, secureContext } = this.opts;
    return pgHandshake(socket, {
      limits: config.limits,
      secureContext,
      requireTls: config.tls.require,
      onCancel: (pid, key) => this.cancel(pid, key),
    });
  }

  async claimWarm(grant: Grant, sessionId: string, client: ClientLogin): Promise<{ lease: Lease; upstream: UpstreamConnection } | null> {
    const pool = this.pools.get(grant.target);
    return pool ? pool.claim(grant, sessionId, (client as PgClientLogin).startupParams) : null;
  }

  async connect(target: TargetConfig, creds: UpstreamCredentials, client: ClientLogin): Promise<UpstreamConnection> {
    return pgConnect(target, creds, (client as PgClientLogin).startupParams);
  }

  async relay(clientLogin: ClientLogin, upstreamConn: UpstreamConnection, ctx: RelayContext): Promise<string> {
    const client = clientLogin as PgClientLogin;
    const upstream = upstreamConn as PgUpstream;
    let processId: number;
    do processId = randomInt(1, 0x7fffffff);
    while (this.cancelKeys.has(processId));
    const secretKey = randomBytes(4);
    this.cancelKeys.set(processId, { secretKey, target: upstream.cancelTarget });
    for (const o of ctx.pipeline.observers) o.redacted('client', 'PasswordMessage');
    const greeting = [
      encode.AuthenticationOk(),
      ...upstream.parameterStatus,
      encode.BackendKeyData(processId, secretKey),
      upstream.readyForQuery,
    ];
    // The login's messages are views into read buffers: let them go once sent.
    upstream.parameterStatus.length = 0;
    try {
      return await pgRelay(
        {
          client,
          upstream,
          greeting,
          maxMessage: this.opts.config.limits.maxMessage,
          idleTimeoutMs: this.opts.config.limits.idleTimeout,
        },
        ctx,
      );
    } finally {
      this.cancelKeys.delete(processId);
    }
  }

  /** CancelRequest (§55.2.7): forwarded only when the key matches, compared in constant time. */
  private cancel(processId: number, secretKey: Buffer): void {
    const entry = this.cancelKeys.get(processId);
    if (!entry || entry.secretKey.length !== secretKey.length || !timingSafeEqual(entry.secretKey, secretKey)) {
      this.opts.log.info({ event: 'cancel.ignored' }, 'CancelRequest with an unknown key');
      return;
    }
    sendCancel(entry.target).then(
      () => this.opts.log.info({ event: 'cancel.sent' }, 'CancelRequest forwarded upstream'),
      (e) => this.opts.log.warn({ event: 'cancel.failed', err: String(e?.message ?? e) }, 'CancelRequest could not be forwarded'),
    );
  }

  createProvisioner(targetName: string, target: TargetConfig, config: Config): Provisioner {
    const provisioner = new PostgresProvisioner({
      targetName,
      target,
      instance: config.instance!,
      maxSessionMs: config.auth.maxSession,
      nameKey: this.opts.nameKey,
      log: this.opts.log,
    });
    if (target.warmPool.size > 0) this.pools.set(targetName, new WarmPool(target, provisioner, this.opts.log));
    return provisioner;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pools.values()].map((p) => p.close()));
  }
}

export { JitError };
