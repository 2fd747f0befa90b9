/**
 * The client side of login (§55.2.1 "Start-up"): SSLRequest → TLS, GSSENCRequest → 'N',
 * CancelRequest, StartupMessage 3.x, then AuthenticationCleartextPassword to receive the
 * token. Nothing upstream happens here.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import {
  Framer,
  FrameError,
  Frontend,
  MessageError,
  type MessageHandler,
  decodePasswordMessage,
  decodeStartupPacket,
  encode,
} from '../../../protocols/postgres/index.js';
import { JitError } from '../../errors.js';
import type { ClientLogin, LoginRequest } from '../../engine/types.js';
import type { LimitsConfig } from '../../config/schema.js';
import { MessageStream, type Message } from './message-stream.js';
import { closeWith, startServerTls } from '../../engine/sockets.js';
import { errorResponseFor } from './errors.js';

export interface FrontendOptions {
  limits: LimitsConfig;
  secureContext: tls.SecureContext;
  requireTls: boolean;
  /** A CancelRequest arrived: forward it if the key matches a live session. */
  onCancel(processId: number, secretKey: Buffer): void;
}

/** A client that has sent its token and waits for the login result. */
export class PgClientLogin implements ClientLogin {
  constructor(
    readonly login: LoginRequest,
    readonly socket: Duplex,
    /** The client's framer, already in the typed phase. */
    readonly framer: Framer,
    /** Messages the client pipelined behind its password. */
    readonly pending: Message[],
    /** Startup parameters to send upstream, in the client's order. */
    readonly startupParams: [string, string][],
  ) {}

  refuse(err: JitError): Promise<void> {
    return closeWith(this.socket, errorResponseFor(err, 'FATAL'));
  }
}

/**
 * The client's framer. Once the login is done, bytes that do not frame — and messages the
 * relay cannot decode, as its decoders run inside `push` — are the client's protocol
 * violation (08P01), not an internal error.
 */
class ClientFramer extends Framer {
  loggedIn = false;

  override push(chunk: Buffer, onMessage: MessageHandler): number {
    try {
      return super.push(chunk, onMessage);
    } catch (e) {
      if (this.loggedIn && (e instanceof FrameError || e instanceof MessageError)) {
        throw new JitError('protocol_violation', `invalid message from the client: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }
}

/** Startup parameters jitgate consumes or refuses instead of passing upstream. */
const consumed = new Set(['user', 'database']);

export async function pgHandshake(raw: Socket, opts: FrontendOptions): Promise<PgClientLogin | null> {
  let socket: Duplex = raw;
  let secure = false;
  let gssDeclined = false;
  const remoteAddress = raw.remoteAddress ?? 'unknown';
  let stream = new MessageStream(socket, new ClientFramer({ startup: true, maxLength: opts.limits.maxStartupMessage }));

  raw.on('error', () => undefined);
  let timedOut = false;
  /** Set while a TLS handshake runs: nothing can be said to the client then, only a close. */
  let negotiating: tls.TLSSocket | null = null;
  const deadline = setTimeout(() => {
    timedOut = true;
    stream.detach();
    if (negotiating) {
      negotiating.destroy();
      raw.destroy();
      return;
    }
    void closeWith(socket, errorResponseFor(new JitError('protocol_violation', 'timed out waiting for login')));
  }, opts.limits.handshakeTimeout);
  deadline.unref();

  const refuse = async (err: JitError): Promise<null> => {
    stream.detach();
    await closeWith(socket, errorResponseFor(err, 'FATAL'));
    return null;
  };

  try {
    for (;;) {
      const m = await stream.next();
      const packet = decodeStartupPacket(m.buf, m.start, m.end);
      switch (packet.kind) {
        case 'SSLRequest':
        case 'GSSENCRequest': {
          // Bytes pipelined behind these requests would be read as if they had come
          // through the encrypted channel (CVE-2021-23214): refuse them.
          if (stream.pendingBytes > 0 || stream.malformed) {
            return await refuse(new JitError('protocol_violation', 'unexpected data after encryption request'));
          }
          if (packet.kind === 'GSSENCRequest') {
            if (gssDeclined || secure) return await refuse(new JitError('protocol_violation', 'repeated GSSENCRequest'));
            gssDeclined = true;
            socket.write(Buffer.from('N'));
            continue;
          }
          if (secure) return await refuse(new JitError('protocol_violation', 'SSLRequest inside TLS'));
          stream.detach();
          socket.write(Buffer.from('S'));
          socket = await startServerTls(raw, opts.secureContext, (t) => (negotiating = t));
          negotiating = null;
          secure = true;
          stream = new MessageStream(socket, new ClientFramer({ startup: true, maxLength: opts.limits.maxStartupMessage }));
          continue;
        }
        case 'CancelRequest':
          stream.detach();
          opts.onCancel(packet.processId, packet.secretKey);
          socket.destroy();
          return null;
        case 'Unknown':
          return await refuse(
            new JitError('feature_not_supported', `unsupported frontend protocol ${packet.code >>> 16}.${packet.code & 0xffff}: server supports 3.0`),
          );
        case 'StartupMessage': {
          const user = packet.params.get('user');
          if (!user) return await refuse(new JitError('invalid_authorization', 'no PostgreSQL user name specified in startup packet'));
          const database = packet.params.get('database') || user;
          const replication = packet.params.get('replication');
          if (replication && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
            return await refuse(new JitError('feature_not_supported', 'replication connections are not supported through jitgate'));
          }
          if (opts.requireTls && !secure) {
            return await refuse(new JitError('invalid_authorization', 'jitgate requires TLS: connect with sslmode=require'));
          }
          // Protocol options (`_pq_.*`) and minor versions above 3.0 are declined (§55.2.1).
          const unrecognized = [...packet.params.keys()].filter((k) => k.startsWith('_pq_.'));
          if (packet.minor > 0 || unrecognized.length > 0) {
            socket.write(encode.NegotiateProtocolVersion(0, unrecognized));
          }
          const startupParams = [...packet.params].filter(
            ([k]) => !consumed.has(k) && !k.startsWith('_pq_.') && k !== 'replication',
          );
          stream.framer.startup = false;
          stream.framer.maxLength = opts.limits.maxMessageBeforeAuth;
          socket.write(encode.AuthenticationCleartextPassword());
          const p = await stream.next();
          if (p.type !== Frontend.PasswordMessage) {
            return await refuse(new JitError('protocol_violation', 'expected a password message'));
          }
          const token = decodePasswordMessage(p.buf, p.start, p.end);
          // Bytes behind the password that do not frame must not vanish silently.
          if (stream.malformed) {
            return await refuse(new JitError('protocol_violation', 'invalid message after the password'));
          }
          const pending = stream.detach();
          (stream.framer as ClientFramer).loggedIn = true;
          const login: LoginRequest = {
            user,
            database,
            token,
            tls: secure,
            remoteAddress,
            params: Object.fromEntries(startupParams),
          };
          return new PgClientLogin(login, socket, stream.framer, pending, startupParams);
        }
      }
    }
  } catch (e) {
    if (timedOut) return null;
    if (e instanceof FrameError || e instanceof MessageError) {
      return await refuse(new JitError('protocol_violation', `invalid startup packet: ${e.message}`));
    }
    stream.detach();
    socket.destroy();
    return null;
  } finally {
    clearTimeout(deadline);
  }
}
