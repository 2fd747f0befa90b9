/**
 * Logs in upstream as the session's ephemeral user (§ Connection Phase, client side):
 * HandshakeV10 → optional SSLRequest + TLS → HandshakeResponse41 with the capabilities the
 * client agreed on → mysql_native_password / caching_sha2_password (fast path, or full
 * authentication over TLS or with the server's RSA key), AuthSwitchRequest honoured.
 */
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  CACHING_SHA2_PASSWORD,
  COM_INIT_DB,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_PS_MULTI_RESULTS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SESSION_TRACK,
  CLIENT_SSL,
  FAST_AUTH_SUCCESS,
  MYSQL_CLEAR_PASSWORD,
  MYSQL_NATIVE_PASSWORD,
  PERFORM_FULL_AUTHENTICATION,
  REQUEST_PUBLIC_KEY,
  PacketFramer,
  cachingSha2Scramble,
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeErrPacket,
  decodeHandshakeV10,
  decodeOkPacket,
  encodeComQuery,
  encodeHandshakeResponse41,
  encodeSSLRequest,
  isErrPacket,
  isOkPacket,
  nativePasswordScramble,
  packet,
  rsaEncryptPassword,
  scrambleOf,
  type OkPacket,
} from '../../../protocols/mysql/index.js';
import { JitError } from '../../errors.js';
import type { TargetConfig } from '../../config/schema.js';
import type { UpstreamConnection, UpstreamCredentials } from '../../engine/types.js';
import { connectTcp, upstreamTlsOptions } from '../../engine/sockets.js';
import { quoteMysqlName } from '../../provision/mysql.js';
import { PacketStream, type Packet } from './packet-stream.js';
import type { MysqlClientLogin } from './frontend.js';

/** Capabilities that change how packets look: the upstream must support every one the client agreed on. */
const FORMAT_CAPABILITIES = CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS;

export class MysqlUpstream implements UpstreamConnection {
  constructor(
    readonly socket: Duplex,
    readonly framer: PacketFramer,
    readonly pending: Packet[],
    /** The OK_Packet that ended the login. */
    readonly ok: OkPacket,
    readonly serverVersion: string,
    /** The upstream's id for this connection (what KILL takes). */
    readonly connectionId: number,
  ) {}

  close(): void {
    if (this.socket.destroyed) return;
    // COM_QUIT, a new command: sequence id 0.
    if (this.socket.writable) this.socket.end(packet(0, Buffer.from([0x01])));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** The auth response of `plugin` for `password` and the server's scramble. */
function authResponse(plugin: string, password: string, scramble: Buffer, secure: boolean): Buffer {
  switch (plugin) {
    case MYSQL_NATIVE_PASSWORD:
      return nativePasswordScramble(password, scramble);
    case CACHING_SHA2_PASSWORD:
      return cachingSha2Scramble(password, scramble);
    case MYSQL_CLEAR_PASSWORD:
      if (!secure) throw new JitError('upstream_unavailable', 'the upstream asked for a cleartext password without TLS; jitgate refuses');
      return Buffer.from(`${password}\0`);
    default:
      throw new JitError('upstream_unavailable', `the upstream asked for authentication plugin ${plugin}, which jitgate does not speak`);
  }
}

function upstreamError(payload: Buffer, what: string): JitError {
  const e = decodeErrPacket(payload);
  return new JitError('upstream_unavailable', `${what}: ${e.message}`, { errno: e.errno, sqlstate: e.sqlstate });
}

export async function mysqlConnect(target: TargetConfig, creds: UpstreamCredentials, client: MysqlClientLogin): Promise<MysqlUpstream> {
  let socket: Duplex;
  try {
    socket = await connectTcp(target.host, target.port ?? 3306);
  } catch (e) {
    throw new JitError('upstream_unavailable', 'could not connect to the upstream database', { cause: e });
  }
  socket.on('error', () => undefined);
  const raw = socket;
  const framer = new PacketFramer({ maxLength: 1 << 16 });
  let stream = new PacketStream(socket, framer);
  let seq = 0;
  const read = async (): Promise<Packet> => {
    const p = await stream.next();
    seq = p.type;
    return p;
  };
  const send = (payload: Buffer): void => {
    seq = (seq + 1) & 0xff;
    socket.write(packet(seq, payload));
  };
  /**
   * The user's own first commands (MariaDB): its role becomes its default and active, then the
   * database (which it could not enter at login without the role's privileges).
   */
  const activateRole = async (role: string, capabilities: number): Promise<OkPacket> => {
    // Pipelined in one write: the server answers commands in order, one response each.
    const commands = [
      encodeComQuery(`SET DEFAULT ROLE ${quoteMysqlName(role)}`),
      encodeComQuery(`SET ROLE ${quoteMysqlName(role)}`),
      Buffer.concat([Buffer.from([COM_INIT_DB]), Buffer.from(target.database, 'utf8')]),
    ];
    socket.write(Buffer.concat(commands.map((c) => packet(0, c))));
    let ok: OkPacket | undefined;
    let failure: JitError | undefined;
    for (let i = 0; i < commands.length; i++) {
      const p = await read();
      if (isErrPacket(p.payload)) {
        const e = decodeErrPacket(p.payload);
        failure ??= new JitError('provisioning_failed', `the ephemeral user could not activate role ${role} and enter its database: ${e.message}`, { detail: String(e.errno) });
      } else ok = decodeOkPacket(p.payload, capabilities);
    }
    if (failure) throw failure;
    return ok!;
  };
  try {
    const first = await read();
    if (isErrPacket(first.payload)) throw upstreamError(first.payload, 'the upstream database refused the connection');
    const hello = decodeHandshakeV10(first.payload);
    const missing = client.capabilities & FORMAT_CAPABILITIES & ~hello.capabilities;
    if (missing) {
      throw new JitError('upstream_unavailable', `the upstream database lacks capabilities the client uses (0x${missing.toString(16)})`);
    }
    const secure = target.tls.mode !== 'disable';
    let capabilities =
      (client.capabilities & hello.capabilities & ~(CLIENT_SSL | CLIENT_CONNECT_ATTRS)) |
      CLIENT_LONG_PASSWORD |
      CLIENT_PROTOCOL_41 |
      CLIENT_SECURE_CONNECTION |
      CLIENT_PLUGIN_AUTH |
      CLIENT_CONNECT_WITH_DB;
    if (hello.capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) capabilities |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    if (client.attributes && hello.capabilities & CLIENT_CONNECT_ATTRS) capabilities |= CLIENT_CONNECT_ATTRS;
    const start = { capabilities, maxPacketSize: client.maxPacketSize || 0x1000000, characterSet: client.characterSet };
    if (secure) {
      if (!(hello.capabilities & CLIENT_SSL)) throw new JitError('upstream_unavailable', 'the upstream database does not support TLS');
      start.capabilities |= CLIENT_SSL;
      send(encodeSSLRequest(start));
      stream.detach();
      socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ socket: raw as never, ...upstreamTlsOptions(target) }, () => resolve(s));
        s.once('error', reject);
      });
      socket.on('error', () => undefined);
      stream = new PacketStream(socket, framer);
    }
    let plugin = hello.authPluginName || MYSQL_NATIVE_PASSWORD;
    let scramble = hello.authPluginData;
    send(
      encodeHandshakeResponse41({
        ...start,
        username: creds.user,
        authResponse: authResponse(plugin, creds.password, scramble, secure),
        // With a role still to activate, the database is entered after it (COM_INIT_DB).
        database: creds.role ? undefined : target.database,
        authPluginName: plugin,
        attributes: start.capabilities & CLIENT_CONNECT_ATTRS ? client.attributes : undefined,
      }),
    );
    for (;;) {
      const p = await read();
      const head = p.payload[0];
      if (isOkPacket(p.payload)) {
        let ok = decodeOkPacket(p.payload, start.capabilities);
        if (creds.role) ok = await activateRole(creds.role, start.capabilities);
        const pending = stream.detach();
        return new MysqlUpstream(socket, framer, pending, ok, hello.serverVersion, hello.connectionId);
      }
      if (isErrPacket(p.payload)) throw upstreamError(p.payload, 'the upstream database refused the ephemeral user\'s login');
      if (head === 0xfe) {
        const sw = decodeAuthSwitchRequest(p.payload);
        plugin = sw.pluginName;
        scramble = scrambleOf(sw.pluginData);
        send(authResponse(plugin, creds.password, scramble, secure));
        continue;
      }
      if (head === 0x01) {
        const data = decodeAuthMoreData(p.payload);
        if (plugin !== CACHING_SHA2_PASSWORD) throw new JitError('upstream_unavailable', 'unexpected AuthMoreData from the upstream');
        if (data[0] === FAST_AUTH_SUCCESS && data.length === 1) continue;
        if (data[0] === PERFORM_FULL_AUTHENTICATION && data.length === 1) {
          if (secure) send(Buffer.from(`${creds.password}\0`));
          else send(Buffer.from([REQUEST_PUBLIC_KEY]));
          continue;
        }
        // The server's public key, asked for above.
        send(rsaEncryptPassword(data.toString('latin1'), creds.password, scramble));
        continue;
      }
      throw new JitError('upstream_unavailable', 'unexpected packet from the upstream during login');
    }
  } catch (e) {
    stream.detach();
    socket.destroy();
    if (e instanceof JitError) throw e;
    throw new JitError('upstream_unavailable', 'the upstream login failed', { cause: e });
  }
}
