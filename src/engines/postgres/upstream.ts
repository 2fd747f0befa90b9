/**
 * Logs in upstream as the session's ephemeral user (§55.2.1, §55.3 SASL): optional TLS,
 * StartupMessage with the client's parameters, SCRAM-SHA-256 from keys computed at
 * provisioning (no PBKDF2 at login), then ParameterStatus/BackendKeyData up to ReadyForQuery.
 */
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  Auth,
  Backend,
  Framer,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeSaslMechanisms,
  ErrorField,
  encode,
} from '../../../protocols/postgres/index.js';
import { JitError } from '../../errors.js';
import type { TargetConfig } from '../../config/schema.js';
import type { UpstreamConnection, UpstreamCredentials } from '../../engine/types.js';
import { ScramClient } from '../../provision/scram.js';
import { MessageStream, type Message } from './message-stream.js';
import { connectTcp, upstreamTlsOptions } from '../../engine/sockets.js';

export interface CancelTarget {
  host: string;
  port: number;
  tls: TargetConfig['tls'];
  processId: number;
  secretKey: Buffer;
}

export class PgUpstream implements UpstreamConnection {
  constructor(
    readonly socket: Duplex,
    readonly framer: Framer,
    /** ParameterStatus messages as the server sent them, to pass to the client. */
    readonly parameterStatus: Buffer[],
    readonly readyForQuery: Buffer,
    readonly cancelTarget: CancelTarget,
    readonly pending: Message[],
  ) {}

  /** Replaces (or adds) the ParameterStatus message for `name`. */
  setParameterStatus(name: string, message: Buffer): void {
    const i = this.parameterStatus.findIndex((m) => m.toString('utf8', 5, 5 + name.length + 1) === `${name}\0`);
    if (i >= 0) this.parameterStatus[i] = message;
    else this.parameterStatus.push(message);
  }

  close(): void {
    if (this.socket.destroyed) return;
    if (this.socket.writable) this.socket.end(encode.Terminate());
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

export async function openSocket(target: TargetConfig, timeoutMs = 10_000): Promise<Duplex> {
  const raw = await connectTcp(target.host, target.port!, timeoutMs);
  if (target.tls.mode === 'disable') return raw;
  raw.write(encode.SSLRequest());
  const answer = await new Promise<number>((resolve, reject) => {
    raw.once('data', (b: Buffer) => {
      raw.pause();
      if (b.length !== 1) reject(new Error('unexpected bytes after SSLRequest answer'));
      else resolve(b[0]!);
    });
    raw.once('error', reject);
  });
  if (answer !== 0x53) {
    raw.destroy();
    throw new Error('upstream server does not support TLS');
  }
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket: raw, ...upstreamTlsOptions(target) }, () => resolve(s));
    s.once('error', reject);
  });
}

export async function pgConnect(
  target: TargetConfig,
  creds: UpstreamCredentials,
  startupParams: [string, string][],
): Promise<PgUpstream> {
  let socket: Duplex;
  try {
    socket = await openSocket(target);
  } catch (e) {
    throw new JitError('upstream_unavailable', 'could not connect to the upstream database', { cause: e });
  }
  socket.on('error', () => undefined);
  const stream = new MessageStream(socket, new Framer({ maxLength: 1 << 20 }));
  try {
    socket.write(
      encode.StartupMessage([['user', creds.user], ['database', target.database], ...startupParams]),
    );
    await authenticate(stream, socket, creds);
    const parameterStatus: Buffer[] = [];
    let key: { processId: number; secretKey: Buffer } | null = null;
    for (;;) {
      const m = await stream.next();
      switch (m.type) {
        case Backend.ParameterStatus:
          parameterStatus.push(m.buf.subarray(m.start, m.end));
          break;
        case Backend.BackendKeyData:
          key = decodeBackendKeyData(m.buf, m.start, m.end);
          break;
        case Backend.NoticeResponse:
        case Backend.NegotiateProtocolVersion:
          break;
        case Backend.ErrorResponse:
          throw upstreamError(m);
        case Backend.ReadyForQuery: {
          const pending = stream.detach();
          const cancelTarget: CancelTarget = {
            host: target.host,
            port: target.port!,
            tls: target.tls,
            processId: key?.processId ?? 0,
            secretKey: key?.secretKey ?? Buffer.alloc(4),
          };
          return new PgUpstream(socket, stream.framer, parameterStatus, m.buf.subarray(m.start, m.end), cancelTarget, pending);
        }
        default:
          throw new JitError('upstream_unavailable', 'unexpected message from the upstream database during login');
      }
    }
  } catch (e) {
    stream.detach();
    socket.destroy();
    if (e instanceof JitError) throw e;
    throw new JitError('upstream_unavailable', 'upstream login failed', { cause: e });
  }
}

async function authenticate(stream: MessageStream, socket: Duplex, creds: UpstreamCredentials): Promise<void> {
  let scram: ScramClient | null = null;
  for (;;) {
    const m = await stream.next();
    if (m.type === Backend.ErrorResponse) throw upstreamError(m);
    if (m.type !== Backend.Authentication) throw new Error(`unexpected message ${m.type} during upstream authentication`);
    const { code, data } = decodeAuthentication(m.buf, m.start, m.end);
    switch (code) {
      case Auth.Ok:
        return;
      case Auth.CleartextPassword:
        socket.write(encode.PasswordMessage(creds.password));
        break;
      case Auth.SASL: {
        if (!decodeSaslMechanisms(data).includes('SCRAM-SHA-256') || !creds.scram) {
          throw new Error('upstream offers no usable SASL mechanism');
        }
        scram = new ScramClient(creds.scram);
        socket.write(encode.SASLInitialResponse('SCRAM-SHA-256', Buffer.from(scram.clientFirstMessage())));
        break;
      }
      case Auth.SASLContinue:
        if (!scram) throw new Error('SASLContinue without SASL');
        socket.write(encode.SASLResponse(Buffer.from(scram.handleServerFirst(data.toString('utf8')))));
        break;
      case Auth.SASLFinal:
        if (!scram) throw new Error('SASLFinal without SASL');
        scram.verifyServerFinal(data.toString('utf8'));
        break;
      default:
        throw new Error(`upstream asks for unsupported authentication method ${code}`);
    }
  }
}

function upstreamError(m: Message): JitError {
  const f = decodeErrorFields(m.buf, m.start, m.end);
  const code = f.get(ErrorField.Code) ?? '08006';
  const message = f.get(ErrorField.Message) ?? 'upstream error';
  // Too many connections, database-not-found and errors in the client's own startup parameters
  // (options, unknown or privileged settings, bad values) are the client's business: keep their
  // SQLSTATE. Reported as 08006 a driver would take them for an outage and retry.
  const passThrough =
    code === '53300' || code === '3D000' || code.startsWith('57P') || code.startsWith('42') || code.startsWith('22') || code === '0A000';
  return new JitError('upstream_unavailable', `upstream refused the session: ${message}`, {
    sqlstate: passThrough ? code : undefined,
  });
}

/** Sends a CancelRequest for `t` on a new connection (§55.2.7). Best effort. */
export async function sendCancel(t: CancelTarget): Promise<void> {
  const socket = await openSocket({ host: t.host, port: t.port, tls: t.tls } as TargetConfig, 3000);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.end(encode.CancelRequest(t.processId, t.secretKey), () => resolve());
    socket.on('close', () => resolve());
    setTimeout(resolve, 3000).unref();
  });
  socket.destroy();
}
