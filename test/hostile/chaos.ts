/**
 * A TCP forwarder between jitgate and its upstream that a test can break on purpose: cut
 * every connection (a crash or restart as the proxy sees it), refuse new ones (down), come
 * back on the same port (up).
 */
import net from 'node:net';

export class Chaos {
  private server: net.Server | null = null;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  port = 0;
  /** Connections forwarded so far. */
  accepted = 0;

  private constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {}

  static async start(host: string, port: number): Promise<Chaos> {
    const c = new Chaos(host, port);
    await c.up();
    return c;
  }

  get connections(): number {
    return this.pairs.size;
  }

  /** Listens (again, on the same port once it has one). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      this.accepted++;
      const upstream = net.connect({ host: this.host, port: this.targetPort });
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Resets every forwarded connection (both sides). */
  cutAll(): number {
    const n = this.pairs.size;
    for (const [a, b] of [...this.pairs]) {
      a.resetAndDestroy?.() ?? a.destroy();
      b.resetAndDestroy?.() ?? b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  /** Stops listening (new connections are refused) and cuts the live ones. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.cutAll();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  async stop(): Promise<void> {
    await this.down();
  }
}
