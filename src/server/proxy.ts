/**
 * The proxy process: listeners per protocol, the session registry, provisioners and
 * their reapers, and an orderly shutdown (stop accepting, drain, end the rest, tear down).
 */
import fs from 'node:fs';
import net from 'node:net';
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Engine, Protocol, Provisioner } from '../engine/types.js';
import { JitError } from '../errors.js';
import { createLogger, type Logger } from '../audit/log.js';
import { TokenVerifier } from '../auth/tokens.js';
import { PostgresEngine } from '../engines/postgres/engine.js';
import { MysqlEngine } from '../engines/mysql/engine.js';
import { SessionRegistry } from '../session/registry.js';
import { runSession, type ProxyContext } from '../session/run-session.js';
import type { PipelineParts } from '../session/pipeline.js';
import { serverSecureContext } from './tls.js';
import { PostgresProvisioner } from '../provision/postgres.js';
import { MysqlProvisioner } from '../provision/mysql.js';
import { createMasking, maskingKey, pgCatalogResolver, type CatalogResolver } from '../masking/index.js';
import { recorderFactory } from '../recording/pipeline.js';

export interface ProxyOptions {
  log?: Logger;
  /** Masking, recording and statement hooks for every session. */
  pipeline?: PipelineParts;
  /** Start the reapers (default true). */
  reaper?: boolean;
}

export interface Proxy {
  config: Config;
  log: Logger;
  registry: SessionRegistry;
  verifier: TokenVerifier;
  addresses: Partial<Record<Protocol, { host: string; port: number }>>;
  /** Stops accepting, waits up to `drainMs` for sessions, ends the rest, tears everything down. */
  close(drainMs?: number): Promise<void>;
}

function nameKeyFor(config: Config): Buffer {
  const h = createHash('sha256').update('jitgate user-name tag\0');
  if (config.auth.signingKeys && fs.existsSync(config.auth.signingKeys)) h.update(fs.readFileSync(config.auth.signingKeys));
  else h.update(config.auth.issuer).update('\0').update(config.instance ?? '');
  return h.digest();
}

export async function startProxy(config: Config, opts: ProxyOptions = {}): Promise<Proxy> {
  const log = opts.log ?? createLogger({ level: config.log.level, file: config.log.file });
  const registry = new SessionRegistry();
  const verifier = await TokenVerifier.create(config);
  const tls = await serverSecureContext(config);
  const nameKey = nameKeyFor(config);
  let accepting = true;

  const engines: Partial<Record<Protocol, Engine>> = {};
  engines.postgres = new PostgresEngine({ config, secureContext: tls.context, log, nameKey });
  engines.mysql = new MysqlEngine({ config, secureContext: tls.context, log, nameKey });

  const provisioners = new Map<string, Provisioner>();
  for (const [name, target] of Object.entries(config.targets)) {
    const engine = engines[target.protocol];
    if (!engine) {
      log.warn({ event: 'target.unsupported', target: name, protocol: target.protocol }, 'no engine for this target protocol yet');
      continue;
    }
    provisioners.set(name, engine.createProvisioner(name, target, config));
  }

  // Masking from config unless the caller brought its own: one catalog resolver per target.
  const resolvers = new Map<string, CatalogResolver>();
  const configMasking =
    config.masking.rules.length > 0 || config.masking.detectors.length > 0
      ? createMasking(config.masking, {
          log,
          hashKey: maskingKey(config),
          resolver: (session) => {
            if (session.protocol !== 'postgres') return null;
            let r = resolvers.get(session.targetName);
            if (!r) resolvers.set(session.targetName, (r = pgCatalogResolver(session.target)));
            return r;
          },
        })
      : undefined;

  const ctx: ProxyContext = {
    config,
    log,
    verifier,
    provisioners,
    registry,
    pipeline: {
      ...opts.pipeline,
      masking: opts.pipeline?.masking ?? configMasking,
      // Recording is on by default (recordings.enabled); a caller's own `observers` replace it.
      observers: opts.pipeline?.observers ?? (config.recordings.enabled ? [recorderFactory(config, log)] : []),
    },
    accepting: () => accepting,
  };

  const servers: net.Server[] = [];
  const addresses: Proxy['addresses'] = {};
  const sockets = new Set<net.Socket>();
  for (const protocol of ['postgres', 'mysql'] as const) {
    const listen = config.listen[protocol];
    const engine = engines[protocol];
    if (!listen) continue;
    if (!engine) {
      log.warn({ event: 'listen.skipped', protocol }, `${protocol} is not supported yet; not listening`);
      continue;
    }
    const server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      runSession(socket, engine, ctx).catch((e) => {
        log.error({ event: 'session.crash', err: String(e?.stack ?? e) }, 'unexpected error in session');
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => log.error({ event: 'listen.error', protocol, err: String(e) }, 'listener error'));
    const a = server.address() as net.AddressInfo;
    addresses[protocol] = { host: a.address, port: a.port };
    servers.push(server);
    log.info({ event: 'listen', protocol, host: a.address, port: a.port, tls: tls.selfSigned ? 'self-signed' : 'configured' }, `listening for ${protocol}`);
  }

  if (opts.reaper !== false) {
    for (const [name, p] of provisioners) {
      if (p instanceof PostgresProvisioner || p instanceof MysqlProvisioner) {
        p.startReaper(() => registry.upstreamUsers());
        log.debug({ event: 'reaper.started', target: name }, 'reaper started');
      }
    }
  }

  let closing: Promise<void> | null = null;
  const close = (drainMs = config.limits.drainTimeout): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      // close() stops accepting at once, but its callback waits for every open connection:
      // awaited here it would block the drain on the very sessions it is meant to end.
      const serversClosed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      log.info({ event: 'drain', sessions: registry.size, timeoutMs: drainMs }, 'stopped accepting; draining sessions');
      if (!(await registry.waitEmpty(drainMs))) {
        const n = registry.end(() => true, new JitError('admin_shutdown', 'terminating connection: jitgate is shutting down'));
        log.info({ event: 'drain.timeout', ended: n }, 'drain timeout: ending remaining sessions');
        await registry.waitEmpty(15_000);
      }
      for (const s of sockets) s.destroy();
      await serversClosed;
      await Promise.allSettled(Object.values(engines).map((e) => e.close?.()));
      await Promise.allSettled([...provisioners.values()].map((p) => p.close()));
      await Promise.allSettled([...resolvers.values()].map((r) => r.close()));
      log.info({ event: 'stopped' }, 'jitgate stopped');
    })();
    return closing;
  };

  return { config, log, registry, verifier, addresses, close };
}
