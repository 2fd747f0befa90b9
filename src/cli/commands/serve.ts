import { configFrom, parseFlags } from '../args.js';
import { startProxy, type Proxy } from '../../server/proxy.js';

export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { config: { type: 'string' } });
  const config = configFrom(values.config);
  // Signals are handled from the start: one that arrives while the proxy is still starting
  // shuts it down as soon as it is up.
  let stopRequested: string | null = null;
  let onStop: (signal: string) => void = (signal) => (stopRequested = signal);
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      console.error(`jitgate serve: second ${signal}: exiting now`);
      process.exit(1);
    }
    stopping = true;
    onStop(signal);
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));

  const proxy: Proxy = await startProxy(config);
  await new Promise<void>((resolve) => {
    onStop = (signal) => {
      proxy.log.info({ event: 'shutdown', signal }, 'shutting down');
      proxy.close().then(resolve, resolve);
    };
    if (stopRequested) onStop(stopRequested);
  });
  return 0;
}
