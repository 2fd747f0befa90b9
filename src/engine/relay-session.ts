/**
 * How a relay runs and ends, for both engines: the greeting, then both pumps until either
 * side ends, the idle limit passes or jitgate aborts the session; then the client's last
 * protocol error between two whole messages, a goodbye upstream, and both sockets closed.
 */
import type { Duplex } from 'node:stream';
import { JitError, asJitError } from '../errors.js';
import type { PendingPacket, Pump } from './pump.js';
import type { RelayContext } from './types.js';

export interface RelayEnds {
  /** The client's last message for an error that ends the session (ErrorResponse / ERR_Packet). */
  errorMessage(err: JitError): Buffer;
  /** What to send upstream when the client did not say goodbye itself (Terminate / COM_QUIT). */
  goodbye: Buffer;
  /** The client said goodbye itself. */
  clientTerminated(): boolean;
  /** The upstream ended the session with an error the client already has: it needs no second one. */
  upstreamSaidWhy(): boolean;
  /** A codec error (a message that does not decode): the other side's protocol violation. */
  isCodecError(err: unknown): err is Error;
  /** "message" or "packet", for the errors' wording. */
  unit: string;
}

export interface RelaySides {
  client: { socket: Duplex; pending: PendingPacket[] };
  upstream: { socket: Duplex; pending: PendingPacket[] };
  c2s: Pump;
  s2c: Pump;
  /** What completes the client's login before anything else flows. */
  greeting: Buffer[];
  idleTimeoutMs: number;
}

/** Runs the relay to its end; resolves with why it ended (never rejects). */
export function runRelay(sides: RelaySides, ends: RelayEnds, ctx: RelayContext): Promise<string> {
  const { client, upstream, c2s, s2c } = sides;
  const { stats } = ctx;
  return new Promise<string>((resolve) => {
    let done = false;
    const finish = (why: string, err?: unknown): void => {
      if (done) return;
      done = true;
      if (idle) clearInterval(idle);
      ctx.signal.removeEventListener('abort', onAbort);
      stats.bytesFromClient = c2s.out.bytes;
      stats.bytesFromServer = s2c.out.bytes;
      const jerr = err === undefined ? null : asJitError(err);
      if (jerr && client.socket.writable) {
        s2c.out.emit(ends.errorMessage(jerr));
        s2c.out.flush();
      }
      client.socket.end();
      if (!upstream.socket.destroyed) {
        if (!ends.clientTerminated() && upstream.socket.writable) upstream.socket.end(ends.goodbye);
        else upstream.socket.end();
      }
      setTimeout(() => {
        client.socket.destroy();
        upstream.socket.destroy();
      }, 2000).unref();
      resolve(jerr ? `${why}: ${jerr.clientMessage}` : why);
    };
    const idle =
      sides.idleTimeoutMs > 0
        ? setInterval(() => {
            if (Date.now() - Math.max(c2s.lastRead, s2c.lastRead) >= sides.idleTimeoutMs) {
              finish('idle timeout', new JitError('idle_timeout', 'terminating connection due to idle timeout (limits.idleTimeout)'));
            }
          }, Math.max(250, Math.min(sides.idleTimeoutMs / 4, 5000)))
        : null;
    idle?.unref();
    const onAbort = () => finish('ended by jitgate', ctx.signal.reason ?? new JitError('admin_shutdown', 'session ended by jitgate'));
    if (ctx.signal.aborted) {
      onAbort();
      return;
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true });

    /** What the client is told when its own side failed: a malformed message is its protocol error. */
    const clientFault = (err: unknown): unknown =>
      ends.isCodecError(err) ? new JitError('protocol_violation', `invalid ${ends.unit} from the client: ${err.message}`) : err;
    /** What the client is told when the upstream side ended or failed, unless it was already told or asked to end. */
    const upstreamFault = (err: unknown): unknown => {
      if (err instanceof JitError) return err;
      if (ends.clientTerminated() || ends.upstreamSaidWhy()) return undefined;
      if (ends.isCodecError(err)) return new JitError('upstream_unavailable', `invalid ${ends.unit} from the upstream database`);
      if (err !== undefined) return new JitError('upstream_unavailable', 'lost the connection to the upstream database', { cause: err });
      return new JitError('upstream_unavailable', 'the upstream database closed the connection');
    };
    const ended = (why: string) => (ends.clientTerminated() ? 'client terminated' : why);
    c2s.onEnd = (why, err) => finish(ended(why), clientFault(err));
    s2c.onEnd = (why, err) => finish(ended(why), upstreamFault(err));

    for (const g of sides.greeting) s2c.out.emit(g);
    s2c.start(upstream.pending);
    c2s.start(client.pending);
  });
}
