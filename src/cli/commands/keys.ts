import { initKeys } from '../../auth/keys.js';
import { UsageError } from '../../errors.js';
import { parseFlags, requireFlag } from '../args.js';

/** `jitgate keys init --dir DIR [--force]`: prints the two file paths, never key material. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { dir: { type: 'string' }, force: { type: 'boolean' } }, true);
  const [sub, ...extra] = positionals;
  if (sub !== 'init' || extra.length > 0) throw new UsageError('usage: jitgate keys init --dir DIR [--force]');
  const dir = requireFlag(values.dir, 'dir');
  const { privatePath, publicPath } = await initKeys(dir, { force: values.force === true });
  console.log(`private key: ${privatePath}`);
  console.log(`public key:  ${publicPath}`);
  return 0;
}
