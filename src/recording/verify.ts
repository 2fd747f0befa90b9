/** Whole-recording integrity check behind `jitgate verify`. */
import { readIndex, statusOf, type RecordingStatus } from './index-file.js';
import { RecordingReader, type Problem, type SealStatus } from './reader.js';
import type { SealVerifier } from './seal.js';

export interface VerifyResult {
  ok: boolean;
  /** sealed: complete and signed; live: still being written; unsealed: crashed or failed before its seal. */
  state: 'sealed' | 'live' | 'unsealed' | 'damaged';
  signature?: SealStatus;
  kid?: string | null;
  blocks: number;
  segments: number;
  bytes: number;
  status: RecordingStatus | 'unknown';
  problem?: Problem;
  message: string;
}

export async function verifyRecording(dir: string, id: string, verifier?: SealVerifier): Promise<VerifyResult> {
  const index = await readIndex(dir, id);
  const status: RecordingStatus | 'unknown' = index ? statusOf(index) : 'unknown';
  const reader = new RecordingReader(dir, id, verifier);
  try {
    while ((await reader.poll()).length > 0);
    await reader.finish();
  } finally {
    await reader.close();
  }
  const base = { blocks: reader.blocks, segments: reader.segment, bytes: reader.bytesRead, status };
  const where = (p: Problem) => `${p.message} (segment ${p.segment}, byte ${p.offset})`;
  const crashed = status === 'crashed' || status === 'failed';
  if (reader.problem?.incompleteTail && crashed) {
    const why = status === 'failed' ? `recording failed (${index?.error ?? 'write error'})` : 'the session did not close its recording (crashed?)';
    return {
      ...base,
      ok: true,
      state: 'unsealed',
      message: `recording ${id} is intact but unsealed: ${why}; ${reader.blocks} whole blocks, then an incomplete block ${reader.problem.block} cut off while it was being written`,
    };
  }
  if (reader.problem) {
    return { ...base, ok: false, state: 'damaged', problem: reader.problem, message: `recording ${id} is damaged: ${where(reader.problem)}` };
  }
  if (reader.seal) {
    const { signature, kid } = reader.seal;
    if (signature === 'unknown-key') {
      return {
        ...base,
        ok: false,
        state: 'damaged',
        signature,
        kid,
        message: `recording ${id}: the chain is intact but the seal was signed by key ${kid}, which is not among this config's keys`,
      };
    }
    const how = signature === 'valid' ? `sealed and signed (key ${kid})` : 'sealed, unsigned (no auth.signingKeys when it was recorded)';
    return {
      ...base,
      ok: true,
      state: 'sealed',
      signature,
      kid,
      message: `recording ${id} is intact: ${how}; ${reader.blocks} blocks in ${reader.segment} segment(s)`,
    };
  }
  // No seal: a session still running, or one that ended without closing its recording.
  if (index?.sealed && (index.segments ?? 1) > reader.segment) {
    const seg = reader.segment + 1;
    return {
      ...base,
      ok: false,
      state: 'damaged',
      problem: { block: null, segment: seg, offset: 0, message: `segment ${seg} is missing` },
      message: `recording ${id} is damaged: segment ${seg} is missing (of ${index.segments}; blocks ${reader.blocks + 1} onwards and the seal)`,
    };
  }
  if (index?.sealed) {
    return {
      ...base,
      ok: false,
      state: 'damaged',
      problem: { block: reader.blocks + 1, segment: reader.segment, offset: reader.bytesRead, message: 'truncated' },
      message: `recording ${id} is truncated: it was sealed when the session closed, but block ${reader.blocks + 1} onwards (and the seal) are missing`,
    };
  }
  if (status === 'live') {
    return { ...base, ok: true, state: 'live', message: `recording ${id} is intact so far: the session is live (${reader.blocks} blocks)` };
  }
  const why = status === 'failed' ? `recording failed (${index?.error ?? 'write error'})` : 'the session did not close its recording (crashed?)';
  return { ...base, ok: true, state: 'unsealed', message: `recording ${id} is intact but unsealed: ${why}; ${reader.blocks} blocks` };
}
