/**
 * Socket steps both engines' logins share: a last message then close, the server side of a
 * TLS upgrade, a TCP connect with a deadline, TLS options for an upstream.
 */
import type { TargetConfig } from '../config/schema.js';
import fs from 'node:fs';
import net, { type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';

/** Writes a last message and closes; never throws, never waits more than 2 s. */
export function closeWith(socket: Duplex, last: Buffer | null): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) {
      socket.destroy();
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 2000);
    timer.unref();
    socket.once('error', () => undefined);
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    if (last) socket.write(last);
    socket.end(done);
  });
}

/**
 * Upgrades `raw` to TLS as the server; rejects when the handshake fails or the socket closes
 * first. `head`: bytes of the TLS handshake already read from `raw` (a MySQL client starts TLS
 * right behind its SSLRequest, without waiting for an answer).
 */
export function startServerTls(raw: Socket, secureContext: tls.SecureContext, started: (t: tls.TLSSocket) => void, head?: Buffer | null): Promise<tls.TLSSocket> {
  const transport: Duplex = head?.length ? withHead(raw, head) : raw;
  return new Promise((resolve, reject) => {
    const t = new tls.TLSSocket(transport as Socket, { isServer: true, secureContext });
    started(t);
    const fail = (e: Error) => {
      t.off('error', fail);
      t.off('close', closed);
      t.destroy();
      reject(e);
    };
    // A socket closed mid-handshake may emit no error: without this the login would wait forever.
    const closed = () => fail(new Error('connection closed during the TLS handshake'));
    t.once('secure', () => {
      t.off('error', fail);
      t.off('close', closed);
      resolve(t);
    });
    t.once('error', fail);
    t.once('close', closed);
    raw.resume();
  });
}

/** TLS options for an upstream connection (`targets.X.tls`). */
export function upstreamTlsOptions(target: TargetConfig): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {
    servername: target.tls.servername ?? (net.isIP(target.host) ? undefined : target.host),
    rejectUnauthorized: target.tls.mode === 'verify-full',
  };
  if (target.tls.ca) o.ca = fs.readFileSync(target.tls.ca);
  return o;
}


/** A TCP connection to an upstream, or the connect error (ECONNREFUSED…, 'connect timeout'). */
export function connectTcp(host: string, port: number, timeoutMs = 10_000): Promise<Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error('connect timeout')), timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** `raw` as a stream that first yields `head` (bytes already read from it), then the rest. */
function withHead(raw: Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk, _enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end(cb);
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  d.push(head);
  raw.on('data', (chunk: Buffer) => {
    if (!d.push(chunk)) raw.pause();
  });
  raw.on('end', () => d.push(null));
  raw.on('close', () => d.destroy());
  raw.on('error', (e) => d.destroy(e));
  return d;
}
