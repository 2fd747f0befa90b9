import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { JitError } from '../../src/errors.js';
import type { SegmentFile } from '../../src/recording/recorder.js';
import { readIndex } from '../../src/recording/index-file.js';
import { verifyRecording } from '../../src/recording/verify.js';
import { openRecorder, recFixture, summary, waitFor } from './fixtures.js';

/** A real segment file whose writes start failing with `code` after `okWrites` writes. */
function failingAfter(okWrites: number, code = 'ENOSPC') {
  return async (file: string): Promise<SegmentFile> => {
    const fh = await fsp.open(file, 'wx', 0o640);
    let n = 0;
    return {
      writev: (bufs) => (n++ < okWrites ? fh.writev(bufs) : Promise.reject(Object.assign(new Error(`${code}: no space left`), { code }))),
      datasync: () => fh.datasync(),
      close: () => fh.close(),
    };
  };
}

test('a write error sets failure, wakes paused readers, stops recording and marks the index failed', async () => {
  const f = await recFixture();
  try {
    const errors: Error[] = [];
    const rec = await openRecorder(f, { openSegment: failingAfter(1), blockSize: 10, onError: (e) => errors.push(e) });
    assert.equal(rec.failure, undefined);
    rec.frames('client', Buffer.alloc(100, 1));
    await waitFor(() => rec.failure !== undefined, 5000, 'failure');
    assert.equal((rec.failure as unknown as NodeJS.ErrnoException).code, "ENOSPC");
    assert.equal(rec.ready, false);
    let woken = false;
    rec.onReady(() => (woken = true));
    await waitFor(() => woken, 1000, 'onReady after failure');
    assert.equal(errors.length, 1);
    rec.frames('client', Buffer.alloc(10)); // ignored
    await rec.close(summary());
    const idx = await readIndex(f.recordings, rec.id);
    assert.equal(idx?.status, 'failed');
    assert.equal(idx?.sealed, false);
    assert.equal(idx?.error, 'ENOSPC');
    const v = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(v.state, 'unsealed');
    assert.match(v.message, /recording failed \(ENOSPC\)/);
  } finally {
    f.cleanup();
  }
});

test('a real full disk (/dev/full) fails the recorder', async () => {
  const f = await recFixture();
  try {
    let first = true;
    const rec = await openRecorder(f, {
      blockSize: 10,
      // The header goes to a real file; later segments go to /dev/full (ENOSPC from the kernel).
      openSegment: async (file) => {
        if (first) {
          first = false;
          const fh = await fsp.open(file, 'wx');
          const full = await fsp.open('/dev/full', 'w');
          let n = 0;
          return {
            writev: (b) => (n++ === 0 ? fh.writev(b) : full.writev(b)),
            datasync: () => fh.datasync(),
            close: async () => {
              await fh.close();
              await full.close();
            },
          };
        }
        return fsp.open('/dev/full', 'w');
      },
    });
    rec.frames('server', Buffer.alloc(64, 2));
    await waitFor(() => rec.failure !== undefined, 5000, 'failure');
    assert.equal((rec.failure as unknown as NodeJS.ErrnoException).code, "ENOSPC");
    await rec.close(summary());
  } finally {
    f.cleanup();
  }
});

test('a recording that cannot be created refuses the session with recording_failed', async () => {
  const f = await recFixture();
  try {
    const notADir = path.join(f.dir, 'file');
    fs.writeFileSync(notADir, 'x');
    await assert.rejects(openRecorder(f, { dir: path.join(notADir, 'recordings') } as never), (e: unknown) => {
      assert.ok(e instanceof JitError);
      assert.equal(e.code, 'recording_failed');
      return true;
    });
    await assert.rejects(openRecorder(f, { openSegment: failingAfter(0, 'EACCES') }), /could not be started/);
  } finally {
    f.cleanup();
  }
});

test('backpressure: ready is false while more than maxBuffer waits, and onReady fires once it drains', async () => {
  const f = await recFixture();
  try {
    let release: () => void = () => undefined;
    let gate = new Promise<void>((r) => (release = r));
    let writes = 0;
    const rec = await openRecorder(f, {
      blockSize: 1000,
      maxBuffer: 5000,
      openSegment: async (file) => {
        const fh = await fsp.open(file, 'wx');
        return {
          writev: async (b) => {
            if (writes++ > 0) await gate; // the header write goes through
            return fh.writev(b);
          },
          datasync: () => fh.datasync(),
          close: () => fh.close(),
        };
      },
    });
    for (let i = 0; i < 10; i++) rec.frames('server', Buffer.alloc(1000, i));
    assert.equal(rec.ready, false);
    let woken = 0;
    rec.onReady(() => woken++);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(woken, 0);
    release();
    await waitFor(() => woken === 1, 5000, 'onReady');
    assert.equal(rec.ready, true);
    gate = Promise.resolve();
    await rec.close(summary());
    assert.equal((await verifyRecording(f.recordings, rec.id, f.verifier)).state, 'sealed');
  } finally {
    f.cleanup();
  }
});

test('retention prunes ended recordings older than the period and keeps live ones', async () => {
  const { pruneRecordings } = await import('../../src/recording/retention.js');
  const f = await recFixture();
  try {
    const old = await openRecorder(f, { segmentSize: 4096, blockSize: 500 });
    for (let i = 0; i < 30; i++) old.frames('server', Buffer.alloc(500, i));
    await old.close(summary({ endedAt: new Date(Date.now() - 3 * 86_400_000) }));
    const recent = await openRecorder(f);
    await recent.close(summary());
    const live = await openRecorder(f);
    const idxFile = path.join(f.recordings, `${live.id}.index.json`);
    const idx = JSON.parse(fs.readFileSync(idxFile, 'utf8'));
    fs.writeFileSync(idxFile, JSON.stringify({ ...idx, startedAt: new Date(Date.now() - 5 * 86_400_000).toISOString() }));
    assert.ok(fs.readdirSync(f.recordings).filter((n) => n.startsWith(old.id)).length > 2);
    const removed = await pruneRecordings(f.recordings, 86_400_000);
    assert.deepEqual(removed, [old.id]);
    const left = fs.readdirSync(f.recordings);
    assert.equal(left.filter((n) => n.startsWith(old.id)).length, 0);
    assert.ok(left.some((n) => n.startsWith(recent.id)));
    assert.ok(left.some((n) => n.startsWith(live.id)));
    await live.close(summary());
  } finally {
    f.cleanup();
  }
});
