/**
 * A TCP tap for leak tests: clients connect to the tap, which forwards to the proxy and keeps
 * a copy of every byte the proxy sent back, in arrival order across all connections. A test
 * takes a `mark()` before it runs and looks at `since(mark)` afterwards; `bytes()` is all of it.
 */
import net from 'node:net';

export class TcpTap {
  readonly port: number;
  private readonly server: net.Server;
  private readonly log: { chunks: Buffer[]; starts: number[]; total: number };

  private constructor(server: net.Server, log: TcpTap['log']) {
    this.server = server;
    this.log = log;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Listens on 127.0.0.1 (a free port) and forwards each connection to `host:targetPort`. */
  static async start(targetPort: number, host = '127.0.0.1'): Promise<TcpTap> {
    const log: TcpTap['log'] = { chunks: [], starts: [], total: 0 };
    const server = net.createServer((c) => {
      const u = net.connect(targetPort, host);
      // Recorded before `pipe` hands the chunk to the client.
      u.on('data', (d: Buffer) => {
        log.chunks.push(Buffer.from(d));
        log.starts.push(log.total);
        log.total += d.length;
      });
      c.pipe(u);
      u.pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new TcpTap(server, log);
  }

  /** The number of bytes received so far: pass it to `since`. */
  mark(): number {
    return this.log.total;
  }

  /** Every byte the clients received after `mark`. */
  since(mark: number): Buffer {
    const { chunks, starts } = this.log;
    let i = chunks.length;
    while (i > 0 && starts[i - 1]! + chunks[i - 1]!.length > mark) i--;
    if (i === chunks.length) return Buffer.alloc(0);
    return Buffer.concat(chunks.slice(i)).subarray(mark - starts[i]!);
  }

  /** Every byte the clients received. */
  bytes(): Buffer {
    return this.since(0);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
