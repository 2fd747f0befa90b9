import { mintToken } from '../../auth/tokens.js';
import { UsageError } from '../../errors.js';
import { parseDuration } from '../../util/duration.js';
import { configFrom, parseFlags, requireFlag } from '../args.js';

const DEFAULT_TTL = 5 * 60_000;

/** `jitgate token --config FILE --sub ID --target NAME --role NAME [--ttl DURATION]`: prints only the token. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    config: { type: 'string' },
    sub: { type: 'string' },
    target: { type: 'string' },
    role: { type: 'string' },
    ttl: { type: 'string' },
  });
  const sub = requireFlag(values.sub, 'sub');
  const target = requireFlag(values.target, 'target');
  const role = requireFlag(values.role, 'role');
  const config = configFrom(values.config);
  let ttlMs: number;
  if (values.ttl === undefined) {
    ttlMs = Math.min(DEFAULT_TTL, config.auth.maxTtl);
  } else {
    try {
      ttlMs = parseDuration(values.ttl);
    } catch (e) {
      throw new UsageError(`--ttl: ${(e as Error).message}`, '--ttl');
    }
  }
  const token = await mintToken(config, { sub, target, role, ttlMs });
  process.stdout.write(`${token}\n`);
  return 0;
}
