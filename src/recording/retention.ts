/** `recordings.retention`: deletes recordings that ended longer ago than the retention period. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { INDEX_EXT, SEGMENT_EXT, indexPath } from './format.js';
import { readIndex, recordingIds, statusOf } from './index-file.js';

/** Removes ended (closed, failed or crashed) recordings older than `retentionMs`; returns their ids. Live ones stay. */
export async function pruneRecordings(dir: string, retentionMs: number, now = Date.now()): Promise<string[]> {
  const cutoff = now - retentionMs;
  const removed: string[] = [];
  let names: string[] | null = null;
  for (const id of await recordingIds(dir)) {
    const idx = await readIndex(dir, id);
    if (!idx) continue;
    const status = statusOf(idx);
    if (status === 'live') continue;
    const ended = Date.parse(idx.endedAt ?? idx.startedAt);
    if (!(ended < cutoff)) continue;
    names ??= await fs.readdir(dir);
    const files = names.filter((n) => n.startsWith(`${id}.`) && (n.endsWith(SEGMENT_EXT) || n.endsWith(INDEX_EXT)));
    // Segments first, the index last: an interrupted prune leaves a listable remainder.
    for (const f of files.filter((n) => n.endsWith(SEGMENT_EXT))) await fs.rm(path.join(dir, f), { force: true });
    await fs.rm(indexPath(dir, id), { force: true });
    removed.push(id);
  }
  return removed;
}
