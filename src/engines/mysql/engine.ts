/** The MySQL engine: client login, upstream login as the ephemeral user, relay. */
import { generateKeyPair, randomInt, webcrypto, type KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import { SERVER_SESSION_STATE_CHANGED, encodeOkPacket, packet } from '../../../protocols/mysql/index.js';
import type { Config, TargetConfig } from '../../config/schema.js';
import type { ClientLogin, Engine, Provisioner, RelayContext, UpstreamConnection, UpstreamCredentials } from '../../engine/types.js';
import type { Logger } from '../../audit/log.js';
import { MysqlProvisioner } from '../../provision/mysql.js';
import { mysqlHandshake, type MysqlClientLogin } from './frontend.js';
import { mysqlConnect, type MysqlUpstream } from './upstream.js';
import { mysqlRelay } from './relay.js';

export interface MysqlEngineOptions {
  config: Config;
  secureContext: tls.SecureContext;
  log: Logger;
  nameKey: Buffer;
}

/** Until an upstream has been seen, clients are greeted with this version. */
const DEFAULT_VERSION = '8.0.0-jitgate';

export class MysqlEngine implements Engine {
  readonly protocol = 'mysql' as const;
  /** The version string of the last upstream logged in to: clients adapt to what they think they talk to. */
  private serverVersion = DEFAULT_VERSION;
  private rsaKey: Promise<{ privateKey: webcrypto.CryptoKey; publicKeyPem: string }> | null = null;
  /** Live sessions by the connection id jitgate gave their client: what a client's KILL names. */
  private readonly live = new Map<number, { upstreamId: number; sub: string; target: string }>();
  private readonly provisioners = new Map<string, MysqlProvisioner>();

  constructor(private readonly opts: MysqlEngineOptions) {
    // The key takes a moment to make: start at once when clients will come, not at the first login.
    if (opts.config.listen.mysql) this.rsa().catch((e) => opts.log.error({ event: 'rsa.failed', err: String(e) }, 'could not make the RSA key'));
  }

  /** jitgate's RSA key pair for caching_sha2_password on plain connections, made on first use (4096 bits: a token of up to 470 bytes fits RSA-OAEP). */
  private rsa(): Promise<{ privateKey: webcrypto.CryptoKey; publicKeyPem: string }> {
    this.rsaKey ??= new Promise<{ privateKey: KeyObject; publicKey: KeyObject }>((resolve, reject) =>
      generateKeyPair('rsa', { modulusLength: 4096 }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ privateKey, publicKey }))),
    ).then(async ({ privateKey, publicKey }) => ({
      privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSA-OAEP', hash: 'SHA-1' }, false, ['decrypt']),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }));
    return this.rsaKey;
  }

  handshake(socket: Socket): Promise<ClientLogin | null> {
    const { config, secureContext } = this.opts;
    return mysqlHandshake(socket, {
      limits: config.limits,
      secureContext,
      requireTls: config.tls.require,
      serverVersion: this.serverVersion,
      connectionId: this.newConnectionId(),
      rsa: () => this.rsa(),
    });
  }

  private newConnectionId(): number {
    let id: number;
    do id = randomInt(1, 0x7fffffff);
    while (this.live.has(id));
    return id;
  }

  async connect(target: TargetConfig, creds: UpstreamCredentials, client: ClientLogin): Promise<UpstreamConnection> {
    const upstream = await mysqlConnect(target, creds, client as MysqlClientLogin);
    this.serverVersion = upstream.serverVersion;
    return upstream;
  }

  async relay(clientLogin: ClientLogin, upstreamConn: UpstreamConnection, ctx: RelayContext): Promise<string> {
    const client = clientLogin as MysqlClientLogin;
    const upstream = upstreamConn as MysqlUpstream;
    for (const o of ctx.pipeline.observers) o.redacted('client', 'HandshakeResponse41');
    // The OK_Packet ending the client's authentication, with the upstream session's status.
    const greeting = packet(
      (client.seq + 1) & 0xff,
      encodeOkPacket({ header: 0, statusFlags: upstream.ok.statusFlags & ~SERVER_SESSION_STATE_CHANGED }, client.capabilities),
    );
    const { grant, targetName } = ctx.session;
    this.live.set(client.connectionId, { upstreamId: upstream.connectionId, sub: grant.sub, target: targetName });
    try {
      return await mysqlRelay(
        {
          client,
          upstream,
          greeting,
          maxMessage: this.opts.config.limits.maxMessage,
          idleTimeoutMs: this.opts.config.limits.idleTimeout,
          kill: (id, queryOnly) => {
            const victim = this.live.get(id);
            if (!victim) return false;
            // Only the same identity on the same target may end a session's statement.
            if (victim.sub !== grant.sub || victim.target !== targetName) return Promise.resolve(false);
            const provisioner = this.provisioners.get(targetName);
            if (!provisioner) return Promise.resolve(false);
            return provisioner.kill(victim.upstreamId, queryOnly).then(
              () => {
                this.opts.log.info({ event: 'cancel.sent', session: ctx.session.id, query: queryOnly }, 'KILL routed to the upstream connection');
                return true;
              },
              (e) => {
                this.opts.log.warn({ event: 'cancel.failed', session: ctx.session.id, err: String(e?.message ?? e) }, 'KILL could not be routed');
                return false;
              },
            );
          },
        },
        ctx,
      );
    } finally {
      this.live.delete(client.connectionId);
    }
  }

  createProvisioner(targetName: string, target: TargetConfig, config: Config): Provisioner {
    const provisioner = new MysqlProvisioner({
      targetName,
      target,
      instance: config.instance!,
      maxSessionMs: config.auth.maxSession,
      nameKey: this.opts.nameKey,
      log: this.opts.log,
    });
    this.provisioners.set(targetName, provisioner);
    return provisioner;
  }
}
