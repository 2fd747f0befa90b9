/** Listing recordings from their index files only (never whole recordings), and resolving an id argument. */
import fs from 'node:fs/promises';
import { segmentPath } from './format.js';
import { readIndex, recordingIds, statusOf, type RecordingStatus } from './index-file.js';
import { RecordingReader } from './reader.js';

export interface RecordingListing {
  id: string;
  sub: string;
  target: string;
  role: string;
  protocol: string;
  start: string;
  end: string | null;
  /** Session traffic both ways (known once closed). */
  bytes: number | null;
  statements: number | null;
  status: RecordingStatus | 'unknown';
  upstreamUser: string;
  sealed: boolean;
  recordingBytes: number | null;
}

async function listingOf(dir: string, id: string): Promise<RecordingListing | null> {
  const idx = await readIndex(dir, id);
  if (idx) {
    const closed = idx.bytesFromClient !== undefined;
    return {
      id,
      sub: idx.sub,
      target: idx.target,
      role: idx.role,
      protocol: idx.protocol,
      start: idx.startedAt,
      end: idx.endedAt ?? null,
      bytes: closed ? idx.bytesFromClient! + idx.bytesFromServer! : null,
      statements: idx.statements ?? null,
      status: statusOf(idx),
      upstreamUser: idx.upstreamUser,
      sealed: idx.sealed ?? false,
      recordingBytes: idx.recordingBytes ?? null,
    };
  }
  // No index (written right after the header, so rare): the header record is the first thing in the file.
  const r = new RecordingReader(dir, id);
  try {
    await r.poll();
  } catch {
    return null;
  } finally {
    await r.close();
  }
  const h = r.header;
  if (!h) return null;
  return {
    id,
    sub: h.sub,
    target: h.target,
    role: h.role,
    protocol: h.protocol,
    start: h.startedAt,
    end: null,
    bytes: null,
    statements: null,
    status: 'unknown',
    upstreamUser: h.upstreamUser,
    sealed: false,
    recordingBytes: null,
  };
}

export async function listRecordings(dir: string): Promise<RecordingListing[]> {
  const ids = await recordingIds(dir);
  const out: (RecordingListing | null)[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const n = next++;
      out[n] = await listingOf(dir, ids[n]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(32, ids.length) }, worker));
  return out.filter((l): l is RecordingListing => l !== null);
}

/** The recording an id argument names: the exact id or a unique prefix of one. */
export async function resolveRecordingId(dir: string, arg: string): Promise<string> {
  if (/^[0-9a-z]+$/.test(arg)) {
    try {
      await fs.access(segmentPath(dir, arg, 1));
      return arg;
    } catch {
      // not an exact id: try it as a prefix
    }
  }
  const matches = (await recordingIds(dir)).filter((id) => id.startsWith(arg));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new Error(`no recording "${arg}" in ${dir}`);
  throw new Error(`"${arg}" matches ${matches.length} recordings; give more of the id`);
}
