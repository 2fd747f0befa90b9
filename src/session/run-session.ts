/**
 * One client session, start to end: verify → provision → connect → relay → teardown.
 * Every step that acquires something releases it in a finally, in reverse order, whatever
 * ends the session (client Terminate, socket close, upstream error, revocation, expiry,
 * proxy shutdown).
 */
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Engine, Grant, Provisioner, SessionInfo, SessionStats } from '../engine/types.js';
import { JitError, asJitError } from '../errors.js';
import type { Logger } from '../audit/log.js';
import type { TokenVerifier } from '../auth/tokens.js';
import { newSessionId, type SessionRegistry } from './registry.js';
import { openPipeline, type PipelineParts } from './pipeline.js';

export interface ProxyContext {
  config: Config;
  log: Logger;
  verifier: TokenVerifier;
  provisioners: Map<string, Provisioner>;
  registry: SessionRegistry;
  pipeline: PipelineParts;
  /** False while draining: new logins are refused. */
  accepting: () => boolean;
}

export async function runSession(socket: Socket, engine: Engine, ctx: ProxyContext): Promise<void> {
  const { config, registry } = ctx;
  if (!ctx.accepting() || registry.size + registry.pending >= config.limits.maxSessions) {
    registry.pending++;
    try {
      const client = await engine.handshake(socket);
      await client?.refuse(
        ctx.accepting()
          ? new JitError('too_many_connections', 'sorry, too many clients already')
          : new JitError('admin_shutdown', 'jitgate is shutting down'),
      );
    } finally {
      registry.pending--;
    }
    return;
  }

  registry.pending++;
  let pendingCounted = true;
  const donePending = () => {
    if (pendingCounted) registry.pending--;
    pendingCounted = false;
  };
  const id = newSessionId();
  let log = ctx.log.child({ session: id, protocol: engine.protocol, remote: socket.remoteAddress });
  const client = await engine.handshake(socket).catch(() => null);
  if (!client) {
    donePending();
    return;
  }
  const started = Date.now();

  let grant: Grant;
  try {
    grant = await ctx.verifier.verify(client.login.token, { user: client.login.user, database: client.login.database });
    // A target is reached only through its own protocol's listener (a MySQL client must not provision a PostgreSQL user).
    const protocol = config.targets[grant.target]?.protocol;
    if (protocol !== engine.protocol) {
      throw new JitError('invalid_password', `target "${grant.target}" is a ${protocol} target: connect to jitgate's ${protocol} port`);
    }
  } catch (e) {
    const err = asJitError(e);
    log.warn({ event: 'login.refused', user: client.login.user, database: client.login.database, code: err.code, reason: err.clientMessage }, 'login refused');
    donePending();
    await client.refuse(err);
    return;
  }
  // The token is not needed past this point: keep no reference to it for the session's life.
  client.login.token = '';
  log = log.child({ sub: grant.sub, target: grant.target, role: grant.role, jti: grant.jti });
  log.info({ event: 'login.ok', tls: client.login.tls }, 'token accepted');

  const target = config.targets[grant.target]!;
  const provisioner = ctx.provisioners.get(grant.target)!;
  const stats: SessionStats = { bytesFromClient: 0, bytesFromServer: 0, statements: 0 };
  const controller = new AbortController();
  // A client that leaves during login ends the session: its close may already have been seen
  // (and consumed) by the handshake, so the relay would never hear of it.
  const onClientClose = () => {
    if (!controller.signal.aborted) controller.abort(new JitError('protocol_violation', 'the client closed the connection during login'));
  };
  if (client.socket.destroyed) onClientClose();
  else client.socket.once('close', onClientClose);
  let info: SessionInfo | undefined;
  let endReason = 'login failed';
  let lease: Awaited<ReturnType<Provisioner['provision']>> | undefined;
  try {
    if (controller.signal.aborted) throw controller.signal.reason;
    const warm = await engine.claimWarm?.(grant, id, client);
    lease = warm?.lease ?? (await provisioner.provision(grant, id));
    log.info({ event: 'user.provisioned', user: lease.credentials.user, warm: !!warm, expiresAt: lease.expiresAt.toISOString() }, 'ephemeral user created');
    info = {
      id,
      protocol: engine.protocol,
      grant,
      targetName: grant.target,
      target,
      upstreamUser: lease.credentials.user,
      startedAt: new Date(started),
      remoteAddress: client.login.remoteAddress,
    };
    registry.add({ info, stats, controller });
    donePending();

    if (controller.signal.aborted && !warm) throw controller.signal.reason;
    const upstream = warm?.upstream ?? (await engine.connect(target, lease.credentials, client));
    // Likewise the upstream connection may drop before the relay listens to it.
    const onUpstreamClose = () => {
      if (!controller.signal.aborted) controller.abort(new JitError('upstream_unavailable', 'lost the connection to the upstream database'));
    };
    if (upstream.socket.destroyed) onUpstreamClose();
    else upstream.socket.once('close', onUpstreamClose);
    try {
      const pipeline = await openPipeline(ctx.pipeline, info);
      const expiry = setTimeout(
        () => controller.abort(new JitError('access_expired', 'access expired: the session reached auth.maxSession')),
        Math.max(0, Math.min(config.auth.maxSession, lease.expiresAt.getTime() - Date.now())),
      );
      try {
        endReason = await engine.relay(client, upstream, { session: info, pipeline, stats, signal: controller.signal });
      } finally {
        clearTimeout(expiry);
        await pipeline.close({ endedAt: new Date(), reason: endReason, ...stats });
      }
    } finally {
      upstream.socket.off('close', onUpstreamClose);
      upstream.close();
    }
  } catch (e) {
    const err = upstreamOutage(asJitError(e));
    endReason = err.clientMessage;
    log.error({ event: 'session.failed', code: err.code, reason: err.clientMessage, err: String((err.cause as Error)?.message ?? '') }, 'session failed');
    await client.refuse(err);
  } finally {
    client.socket.off('close', onClientClose);
    donePending();
    if (info) {
      log.info({ event: 'session.end', reason: endReason, durationMs: Date.now() - started, ...stats }, 'session ended');
    }
    if (lease) {
      const result = await lease.release(endReason);
      if (result.ok) log.info({ event: 'user.dropped', ...result }, 'ephemeral user dropped');
      else log.error({ event: 'user.drop_failed', ...result }, 'ephemeral user teardown failed; the reaper will retry');
    }
    // Removed last: until its user is gone the session counts as live (drain, reaper).
    if (info) registry.remove(id);
  }
}

/**
 * A provisioning failure at the network level (the admin connection could not reach the
 * upstream at all) is an upstream outage for the client: 08006, saying so, rather than an
 * error about provisioning that only the operator can act on.
 */
function upstreamOutage(err: JitError): JitError {
  if (err.code !== 'provisioning_failed') return err;
  const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
  const errno = typeof cause?.code === 'string' && /^E[A-Z]{2,}$/.test(cause.code) ? cause.code : undefined;
  const lost = typeof cause?.message === 'string' && /Connection terminated|timeout expired|connection timeout/i.test(cause.message);
  if (!errno && !lost) return err;
  return new JitError('upstream_unavailable', `the upstream database is unreachable${errno ? ` (${errno})` : ''}: ${err.clientMessage}`, { cause: err });
}
