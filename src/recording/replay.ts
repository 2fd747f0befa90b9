/** Drives a renderer over a recording, once or following a live session until it ends. */
import fs from 'node:fs/promises';
import { readIndex, statusOf } from './index-file.js';
import { RecordingReader, type Problem } from './reader.js';
import type { SealVerifier } from './seal.js';
import type { Renderer } from './transcript/render.js';

export interface ReplayOptions {
  follow?: boolean;
  /** How often a followed recording is polled. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called after each read with the bytes read so far (for a progress bar). */
  progress?: (read: number) => void;
  /** Called after each batch of output (the caller flushes its sink). */
  flush?: () => Promise<void>;
}

export interface ReplayResult {
  problem?: Problem;
  sealed: boolean;
  /** The recording ended without a seal: the session crashed or its recording failed. */
  unsealedEnd: boolean;
}

export async function replayRecording(
  dir: string,
  id: string,
  renderer: Renderer,
  verifier: SealVerifier | undefined,
  opts: ReplayOptions = {},
): Promise<ReplayResult> {
  const reader = new RecordingReader(dir, id, verifier);
  const pollMs = opts.pollMs ?? 200;
  try {
    for (;;) {
      if (opts.signal?.aborted) break;
      const decoded = await reader.poll();
      for (const d of decoded) {
        if (d.kind === 'header') renderer.header(d.header);
        else if (d.kind === 'block') for (const ev of d.events) renderer.event(ev);
      }
      opts.progress?.(reader.bytesRead);
      if (decoded.length > 0) await opts.flush?.();
      if (reader.done) break;
      if (decoded.length > 0) continue;
      if (!opts.follow) break;
      const idx = await readIndex(dir, id);
      if (!idx || statusOf(idx) !== 'live') {
        // The writer is gone: read whatever it wrote last, then stop.
        const last = await reader.poll();
        for (const d of last) if (d.kind === 'block') for (const ev of d.events) renderer.event(ev);
        if (last.length === 0 || reader.done) break;
        continue;
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    await reader.finish();
  } finally {
    await reader.close();
  }
  renderer.finish(reader.seal?.info);
  await opts.flush?.();
  return { problem: reader.problem, sealed: !!reader.seal, unsealedEnd: !reader.seal && !reader.problem };
}

/** Total bytes of a recording's segment files (for progress). */
export async function recordingSize(dir: string, names: string[]): Promise<number> {
  let total = 0;
  for (const n of names) total += (await fs.stat(`${dir}/${n}`).catch(() => ({ size: 0 }))).size;
  return total;
}
