import { UsageError } from '../errors.js';

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<{ run: Command }>> = {
  demo: () => import('./commands/demo.js'),
  serve: () => import('./commands/serve.js'),
  keys: () => import('./commands/keys.js'),
  token: () => import('./commands/token.js'),
  check: () => import('./commands/check.js'),
  sessions: () => import('./commands/sessions.js'),
  replay: () => import('./commands/replay.js'),
  verify: () => import('./commands/verify.js'),
  revoke: () => import('./commands/revoke.js'),
  access: () => import('./commands/access.js'),
};

const usage = `usage: jitgate <command> [flags]

commands:
  demo                         embedded PostgreSQL + proxy + token, ready to paste
  serve --config FILE          run the proxy
  keys init --dir DIR          write a signing key pair
  token --config FILE --sub ID --target NAME --role NAME [--ttl DURATION]
  check --config FILE          validate config and upstream privileges
  sessions list --config FILE [--json]
  replay ID --config FILE [--json] [--follow]
  verify ID --config FILE
  revoke --config FILE (--sub ID | --jti ID | --session ID)
  access list|approve ID|deny ID --config FILE`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`jitgate: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  try {
    const mod = await load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`jitgate ${name}: ${err.message}`);
      return 2;
    }
    if ((err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      console.error(`jitgate ${name}: ${(err as Error).message}`);
      return 2;
    }
    console.error(`jitgate ${name}: ${(err as Error)?.message ?? err}`);
    return 1;
  }
}
