/**
 * The per-recording index `<id>.index.json`: the header fields, written when the recording
 * opens (status "live"), rewritten with the summary when it closes. Listing reads only these
 * small files; a recording without one falls back to its first record.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RecordingHeader } from './format.js';
import { INDEX_EXT, indexPath } from './format.js';

export type IndexStatus = 'live' | 'closed' | 'failed';
/** What `sessions list` shows: a "live" index whose process is gone is "crashed". */
export type RecordingStatus = IndexStatus | 'crashed';

/** The session fields an index repeats from the recording's header. */
type HeaderFields = Pick<
  RecordingHeader,
  'id' | 'sub' | 'target' | 'role' | 'protocol' | 'upstreamUser' | 'instance' | 'remoteAddress' | 'startedAt' | 'codec'
>;

export interface RecordingIndex extends HeaderFields {
  v: 1;
  status: IndexStatus;
  /** The recording process, to tell a live recording from a crashed one. */
  host: string;
  pid: number;
  endedAt?: string;
  reason?: string;
  bytesFromClient?: number;
  bytesFromServer?: number;
  statements?: number;
  segments?: number;
  /** Records written including header and seal. */
  records?: number;
  /** Bytes on disk over all segments. */
  recordingBytes?: number;
  sealed?: boolean;
  /** Hex chain hash of the last record. */
  lastHash?: string;
  error?: string;
}

export async function writeIndex(dir: string, idx: RecordingIndex): Promise<void> {
  const file = indexPath(dir, idx.id);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(idx)}\n`, { mode: 0o640 });
  await fs.rename(tmp, file);
}

export async function readIndex(dir: string, id: string): Promise<RecordingIndex | null> {
  try {
    return JSON.parse(await fs.readFile(indexPath(dir, id), 'utf8')) as RecordingIndex;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** live/closed/failed from the index; a live recording of a dead process on this host is crashed. */
export function statusOf(idx: Pick<RecordingIndex, 'status' | 'host' | 'pid'>): RecordingStatus {
  if (idx.status !== 'live') return idx.status;
  if (idx.host === os.hostname() && !processAlive(idx.pid)) return 'crashed';
  return 'live';
}

/** Ids of the recordings in `dir` (by index file), oldest first (session ids sort by time). */
export async function recordingIds(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const ids = new Set<string>();
  for (const n of names) {
    if (n.endsWith(INDEX_EXT)) ids.add(n.slice(0, -INDEX_EXT.length));
    else if (/^[0-9a-z]+\.jgr$/.test(n)) ids.add(n.slice(0, -4));
  }
  return [...ids].sort();
}

export function indexFileName(id: string): string {
  return path.basename(indexPath('.', id));
}
