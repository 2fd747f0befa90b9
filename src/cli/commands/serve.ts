import { configFrom, parseFlags } from '../args.js';
import { startProxy } from '../../server/proxy.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' } });
  const config = configFrom(values.config);
  const proxy = await startProxy(config);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        proxy.log.warn({ event: 'shutdown.forced', signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      proxy.log.info({ event: 'shutdown', signal }, 'shutting down');
      proxy.close().then(resolve, resolve);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
