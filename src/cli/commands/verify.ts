import { UsageError } from '../../errors.js';
import { resolveRecordingId } from '../../recording/list.js';
import { loadSealVerifier } from '../../recording/seal.js';
import { verifyRecording } from '../../recording/verify.js';
import { configFrom, parseFlags } from '../args.js';

/** `jitgate verify ID --config FILE [--json]`: exit 0 when intact, 1 naming the first bad block. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { config: { type: 'string' }, json: { type: 'boolean' } }, true);
  if (positionals.length !== 1) throw new UsageError('usage: jitgate verify ID --config FILE');
  const config = configFrom(values.config);
  const dir = config.recordings.dir;
  const id = await resolveRecordingId(dir, positionals[0]!);
  const result = await verifyRecording(dir, id, await loadSealVerifier(config));
  if (values.json) process.stdout.write(`${JSON.stringify({ id, ...result })}\n`);
  else (result.ok ? console.log : console.error)(result.message);
  return result.ok ? 0 : 1;
}
