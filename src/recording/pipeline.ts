/** The recorder as a pipeline observer factory: one Recorder per session, with the config's settings. */
import type { Config } from '../config/schema.js';
import type { FrameObserver, SessionInfo } from '../engine/types.js';
import type { Logger } from '../audit/log.js';
import { JitError } from '../errors.js';
import { Recorder, type RecorderOptions } from './recorder.js';
import { pruneRecordings } from './retention.js';
import { loadSigner, type Signer } from './seal.js';

const PRUNE_EVERY_MS = 10 * 60_000;

export function recorderFactory(
  config: Config,
  log?: Logger,
  extra: Partial<RecorderOptions> = {},
): (session: SessionInfo) => Promise<FrameObserver> {
  const rc = config.recordings;
  let signer: Promise<Signer | null> | null = null;
  let lastPrune = 0;
  const prune = () => {
    if (rc.retention === undefined || Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    pruneRecordings(rc.dir, rc.retention).then(
      (ids) => ids.length && log?.info({ event: 'recordings.pruned', count: ids.length }, 'old recordings deleted'),
      (e) => log?.warn({ event: 'recordings.prune_failed', err: String(e?.message ?? e) }, 'pruning recordings failed'),
    );
  };
  return async (session) => {
    prune();
    signer ??= loadSigner(config);
    let key: Signer | null;
    try {
      key = await signer;
    } catch (e) {
      signer = null;
      throw new JitError('recording_failed', 'session recording could not be started', { cause: e });
    }
    const recorder = await Recorder.open({
      dir: rc.dir,
      session,
      instance: config.instance ?? '',
      signer: key,
      codec: rc.compression,
      segmentSize: rc.segmentSize,
      onError: (e) =>
        log?.error(
          { event: 'recording.failed', session: session.id, err: (e as NodeJS.ErrnoException).code ?? e.message },
          'session recording failed: ending the session',
        ),
      ...extra,
    });
    return recorder;
  };
}
