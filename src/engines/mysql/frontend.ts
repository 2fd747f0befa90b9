/**
 * The client side of a MySQL login (§ Connection Phase): jitgate sends HandshakeV10 offering
 * caching_sha2_password, takes an SSLRequest to TLS, reads HandshakeResponse41, then asks for
 * "full authentication" so the client sends its password — the token — in clear over TLS, or
 * encrypted with jitgate's RSA key on a plain connection (§ caching_sha2_password). Nothing
 * upstream happens here.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type tls from 'node:tls';
import {
  CACHING_SHA2_PASSWORD,
  CHARSET_UTF8MB4_GENERAL_CI,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_FOUND_ROWS,
  CLIENT_IGNORE_SPACE,
  CLIENT_INTERACTIVE,
  CLIENT_LONG_FLAG,
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_MULTI_STATEMENTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_PS_MULTI_RESULTS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  CLIENT_TRANSACTIONS,
  MYSQL_CLEAR_PASSWORD,
  PERFORM_FULL_AUTHENTICATION,
  REQUEST_PUBLIC_KEY,
  SERVER_STATUS_AUTOCOMMIT,
  FrameError,
  PacketFramer,
  ProtocolError,
  decodeHandshakeResponse41,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
  isSSLRequest,
  packet,
  rsaDecryptPasswordAsync,
} from '../../../protocols/mysql/index.js';
import { JitError } from '../../errors.js';
import type { ClientLogin, LoginRequest } from '../../engine/types.js';
import type { LimitsConfig } from '../../config/schema.js';
import { closeWith, startServerTls } from '../../engine/sockets.js';
import { PacketStream, type Packet } from './packet-stream.js';
import { errPacketFor } from './errors.js';

/**
 * What jitgate offers clients. Everything here changes how packets look (or what a statement
 * means) and is asked of the upstream in turn; compression, LOCAL INFILE, query attributes,
 * optional metadata and MariaDB's extended capabilities are not offered, nor session state
 * tracking: OK_Packets would carry the values of tracked variables, unmasked.
 */
export const OFFERED_CAPABILITIES =
  CLIENT_LONG_PASSWORD |
  CLIENT_FOUND_ROWS |
  CLIENT_LONG_FLAG |
  CLIENT_CONNECT_WITH_DB |
  CLIENT_IGNORE_SPACE |
  CLIENT_PROTOCOL_41 |
  CLIENT_INTERACTIVE |
  CLIENT_SSL |
  CLIENT_TRANSACTIONS |
  CLIENT_SECURE_CONNECTION |
  CLIENT_MULTI_STATEMENTS |
  CLIENT_MULTI_RESULTS |
  CLIENT_PS_MULTI_RESULTS |
  CLIENT_PLUGIN_AUTH |
  CLIENT_CONNECT_ATTRS |
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT_DEPRECATE_EOF;

export interface MysqlFrontendOptions {
  limits: LimitsConfig;
  secureContext: tls.SecureContext;
  requireTls: boolean;
  /** The version string to greet with (the upstream's, once known). */
  serverVersion: string;
  connectionId: number;
  /** jitgate's RSA key for caching_sha2_password without TLS. */
  rsa: () => Promise<{ privateKey: webcrypto.CryptoKey; publicKeyPem: string }>;
}

/** A client that has sent its token and waits for the login result. */
export class MysqlClientLogin implements ClientLogin {
  constructor(
    readonly login: LoginRequest,
    readonly socket: Duplex,
    readonly framer: PacketFramer,
    readonly pending: Packet[],
    /** Capabilities both sides agreed on (the client's, within what jitgate offered). */
    readonly capabilities: number,
    readonly characterSet: number,
    readonly maxPacketSize: number,
    readonly attributes: Map<string, string> | undefined,
    /** Sequence id of the client's last login packet: jitgate's answer takes the next one. */
    public seq: number,
    readonly connectionId: number,
  ) {}

  refuse(err: JitError): Promise<void> {
    return closeWith(this.socket, errPacketFor(err, this.seq + 1));
  }
}

/** 20 scramble bytes, none of them NUL (auth-plugin-data is NUL-terminated on the wire). */
function newScramble(): Buffer {
  const s = randomBytes(20);
  for (let i = 0; i < s.length; i++) s[i] = (s[i]! % 127) + 1;
  return s;
}

const nulTerminated = (b: Buffer): string => b.toString('utf8', 0, b.length > 0 && b[b.length - 1] === 0 ? b.length - 1 : b.length);

export async function mysqlHandshake(raw: Socket, opts: MysqlFrontendOptions): Promise<MysqlClientLogin | null> {
  let socket: Duplex = raw;
  let secure = false;
  const remoteAddress = raw.remoteAddress ?? 'unknown';
  let stream = new PacketStream(socket, new PacketFramer({ maxLength: opts.limits.maxStartupMessage }));
  /** Sequence id of the last packet read from the client. */
  let seq = 0;

  raw.on('error', () => undefined);
  let timedOut = false;
  let negotiating: tls.TLSSocket | null = null;
  const deadline = setTimeout(() => {
    timedOut = true;
    stream.detach();
    if (negotiating) {
      negotiating.destroy();
      raw.destroy();
      return;
    }
    void closeWith(socket, errPacketFor(new JitError('protocol_violation', 'timed out waiting for login'), seq + 1));
  }, opts.limits.handshakeTimeout);
  deadline.unref();

  const refuse = async (err: JitError): Promise<null> => {
    stream.detach();
    await closeWith(socket, errPacketFor(err, seq + 1));
    return null;
  };
  const read = async (): Promise<Packet> => {
    const p = await stream.next();
    if (p.type !== ((seq + 1) & 0xff)) throw new ProtocolError(`packet out of order (sequence id ${p.type}, expected ${(seq + 1) & 0xff})`);
    seq = p.type;
    return p;
  };
  const send = (payload: Buffer): void => {
    seq = (seq + 1) & 0xff;
    socket.write(packet(seq, payload));
  };

  const scramble = newScramble();
  try {
    raw.write(
      packet(
        0,
        encodeHandshakeV10({
          protocolVersion: 10,
          serverVersion: opts.serverVersion,
          connectionId: opts.connectionId,
          authPluginData: scramble,
          capabilities: OFFERED_CAPABILITIES,
          characterSet: CHARSET_UTF8MB4_GENERAL_CI,
          statusFlags: SERVER_STATUS_AUTOCOMMIT,
          authPluginName: CACHING_SHA2_PASSWORD,
        }),
      ),
    );
    let p = await read();
    if (isSSLRequest(p.payload)) {
      // The client may start TLS right behind its SSLRequest: those bytes belong to the TLS handshake.
      const head = stream.detachRaw();
      if (head === null || stream.framer.buffered > 0) return await refuse(new JitError('protocol_violation', 'unexpected packet after SSLRequest'));
      socket = await startServerTls(raw, opts.secureContext, (t) => (negotiating = t), head);
      negotiating = null;
      secure = true;
      stream = new PacketStream(socket, new PacketFramer({ maxLength: opts.limits.maxStartupMessage }));
      p = await read();
    }
    const hello = decodeHandshakeResponse41(p.payload);
    if (hello.capabilities & CLIENT_SSL && !secure) {
      return await refuse(new JitError('protocol_violation', 'the client announced TLS but did not start it'));
    }
    if (opts.requireTls && !secure) {
      return await refuse(new JitError('invalid_authorization', 'jitgate requires TLS: connect with --ssl (mysql2: ssl: {})'));
    }
    if (!(hello.capabilities & CLIENT_PLUGIN_AUTH)) {
      return await refuse(new JitError('feature_not_supported', 'the client does not support authentication plugins'));
    }
    if (!hello.username) return await refuse(new JitError('invalid_authorization', 'no user name given'));
    if (!hello.database) {
      return await refuse(new JitError('invalid_authorization', 'no database given: the database name selects the jitgate target'));
    }

    stream.framer.maxLength = opts.limits.maxMessageBeforeAuth;
    let token: string;
    if (hello.authPluginName === MYSQL_CLEAR_PASSWORD) {
      if (!secure) {
        return await refuse(new JitError('invalid_password', 'a token sent in clear needs TLS: connect with --ssl, or let the client use caching_sha2_password'));
      }
      token = nulTerminated(hello.authResponse);
    } else {
      if (hello.authPluginName !== CACHING_SHA2_PASSWORD) {
        send(encodeAuthSwitchRequest(CACHING_SHA2_PASSWORD, Buffer.concat([scramble, Buffer.from([0])])));
        await read();
      }
      // The scramble the client sent proves nothing to jitgate: it needs the token itself.
      send(encodeAuthMoreData(Buffer.from([PERFORM_FULL_AUTHENTICATION])));
      let answer = await read();
      if (secure) {
        token = nulTerminated(answer.payload);
      } else {
        const rsa = await opts.rsa();
        if (answer.payload.length === 1 && answer.payload[0] === REQUEST_PUBLIC_KEY) {
          send(encodeAuthMoreData(Buffer.from(rsa.publicKeyPem)));
          answer = await read();
        }
        try {
          token = await rsaDecryptPasswordAsync(rsa.privateKey, answer.payload, scramble);
        } catch {
          return await refuse(
            new JitError('invalid_password', 'the token must be sent over TLS or encrypted with jitgate\'s RSA key (caching_sha2_password)'),
          );
        }
      }
    }
    // Bytes behind the token are framed now: ones that do not frame must not vanish silently.
    const pending = stream.detach();
    if (stream.malformed) return await refuse(new JitError('protocol_violation', 'invalid packet after the password'));
    const login: LoginRequest = {
      user: hello.username,
      database: hello.database,
      token,
      tls: secure,
      remoteAddress,
      params: {},
    };
    return new MysqlClientLogin(
      login,
      socket,
      stream.framer,
      pending,
      hello.capabilities & OFFERED_CAPABILITIES,
      hello.characterSet,
      hello.maxPacketSize,
      hello.attributes,
      seq,
      opts.connectionId,
    );
  } catch (e) {
    if (timedOut) return null;
    if (e instanceof FrameError || e instanceof ProtocolError) {
      return await refuse(new JitError('protocol_violation', `bad handshake: ${e.message}`));
    }
    stream.detach();
    socket.destroy();
    return null;
  } finally {
    clearTimeout(deadline);
  }
}
