import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { RecordingReader } from '../../src/recording/reader.js';
import { verifyRecording } from '../../src/recording/verify.js';
import { readIndex } from '../../src/recording/index-file.js';
import { segmentPath, splitRecords, type Codec } from '../../src/recording/format.js';
import { fakeSession, openRecorder, recFixture, summary } from './fixtures.js';
import { Recorder } from '../../src/recording/recorder.js';

async function readAll(dir: string, id: string, verifier?: Parameters<typeof verifyRecording>[2]) {
  const r = new RecordingReader(dir, id, verifier);
  const out = [];
  for (let d = await r.poll(); d.length; d = await r.poll()) out.push(...d);
  await r.finish();
  await r.close();
  return { reader: r, decoded: out };
}

/** Writes a closed recording with `blocks` blocks (one frame each) and returns its id. */
async function record(f: Awaited<ReturnType<typeof recFixture>>, blocks: number, opts: Parameters<typeof openRecorder>[1] = {}) {
  const rec = await openRecorder(f, { blockSize: 1, ...opts });
  rec.redacted('client', 'PasswordMessage');
  for (let i = 0; i < blocks; i++) rec.frames(i % 2 ? 'server' : 'client', Buffer.from(`frame-${i}-${'x'.repeat(i * 7)}`));
  await rec.close(summary({ statements: 3 }));
  return rec.id;
}

test('round trip: header, events in order with directions, redaction marker, signed seal, index', async () => {
  const f = await recFixture();
  try {
    const rec = await openRecorder(f);
    rec.redacted('client', 'PasswordMessage');
    rec.frames('server', Buffer.from('greeting'));
    rec.frames('client', Buffer.from('Q select 1'));
    rec.frames('server', Buffer.from('T D C Z'));
    await rec.close(summary({ bytesFromClient: 10, bytesFromServer: 15, statements: 1 }));
    const { reader, decoded } = await readAll(f.recordings, rec.id, f.verifier);
    assert.equal(reader.problem, undefined);
    assert.equal(reader.header?.sub, 'alice');
    assert.equal(reader.header?.protocol, 'postgres');
    assert.equal(reader.header?.upstreamUser, 'jit_alice_x');
    assert.match(reader.header!.jitgate, /^\d+\.\d+/);
    const events = decoded.flatMap((d) => (d.kind === 'block' ? d.events : []));
    assert.deepEqual(
      events.map((e) => [e[1], e[2] ? e[2].toString() : `[${e[3]}]`]),
      [[0, '[PasswordMessage]'], [1, 'greeting'], [0, 'Q select 1'], [1, 'T D C Z']],
    );
    const times = events.map((e) => e[0]);
    assert.deepEqual([...times].sort((a, b) => a - b), times);
    assert.equal(reader.seal?.signature, 'valid');
    assert.equal(reader.seal?.info.statements, 1);
    const idx = await readIndex(f.recordings, rec.id);
    assert.equal(idx?.status, 'closed');
    assert.equal(idx?.sealed, true);
    assert.equal(idx?.statements, 1);
    const v = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(v.ok, true);
    assert.equal(v.state, 'sealed');
  } finally {
    f.cleanup();
  }
});

for (const codec of ['none', 'gzip', 'brotli'] as Codec[]) {
  test(`segments rotate at the configured size and chain across files (${codec})`, async () => {
    const f = await recFixture();
    try {
      const rec = await openRecorder(f, { codec, segmentSize: 4096, blockSize: 1000 });
      const sent: string[] = [];
      for (let i = 0; i < 200; i++) {
        const s = `row ${i} ${'abcdefghij'.repeat(i % 20)} ${Math.random()}`;
        sent.push(s);
        rec.frames('server', Buffer.from(s));
      }
      await rec.close(summary());
      const idx = await readIndex(f.recordings, rec.id);
      assert.ok(idx!.segments! >= 2, `expected several segments, got ${idx!.segments}`);
      for (let s = 1; s <= idx!.segments!; s++) {
        const size = fs.statSync(segmentPath(f.recordings, rec.id, s)).size;
        assert.ok(size <= 4096 || s === idx!.segments, `segment ${s} is ${size} bytes`);
      }
      const { reader, decoded } = await readAll(f.recordings, rec.id, f.verifier);
      assert.equal(reader.problem, undefined);
      const got = decoded.flatMap((d) => (d.kind === 'block' ? d.events.map((e) => e[2]!.toString()) : []));
      assert.deepEqual(got, sent);
      assert.equal((await verifyRecording(f.recordings, rec.id, f.verifier)).state, 'sealed');

      // Removing a middle segment is detected and named.
      fs.rmSync(segmentPath(f.recordings, rec.id, 2));
      const v = await verifyRecording(f.recordings, rec.id, f.verifier);
      assert.equal(v.ok, false);
      assert.match(v.message, /segment 2 is missing/);
    } finally {
      f.cleanup();
    }
  });
}

/** Byte ranges of the records in segment 1. */
function records(file: string) {
  const buf = fs.readFileSync(file);
  return { buf, recs: splitRecords(buf).records.map((r, n) => ({ n, start: r.offset, end: r.offset + 37 + r.payload.length })) };
}

test('tamper: a flipped byte anywhere in a block is detected and the block named', async () => {
  const f = await recFixture();
  try {
    const id = await record(f, 6);
    const file = segmentPath(f.recordings, id, 1);
    const { buf, recs } = records(file);
    // recs[0] header, recs[1] redaction marker block (block 1), recs[2..] frame blocks, last seal.
    for (const target of [0, 3, recs.length - 1]) {
      const r = recs[target]!;
      for (const at of [r.start + 10, r.end - 1]) {
        const bad = Buffer.from(buf);
        bad[at]! ^= 0x20;
        fs.writeFileSync(file, bad);
        const v = await verifyRecording(f.recordings, id, f.verifier);
        assert.equal(v.ok, false, `flip at ${at}`);
        assert.equal(v.problem?.block, target, v.message);
        assert.match(v.message, new RegExp(`block ${target}\\b`));
      }
    }
    fs.writeFileSync(file, buf);
    assert.equal((await verifyRecording(f.recordings, id, f.verifier)).ok, true);
  } finally {
    f.cleanup();
  }
});

test('tamper: dropping a block, reordering blocks, cutting the file', async () => {
  const f = await recFixture();
  try {
    const id = await record(f, 6);
    const file = segmentPath(f.recordings, id, 1);
    const { buf, recs } = records(file);
    const slice = (n: number) => buf.subarray(recs[n]!.start, recs[n]!.end);
    const rebuild = (order: number[]) => Buffer.concat(order.map(slice));
    const all = recs.map((r) => r.n);

    fs.writeFileSync(file, rebuild(all.filter((n) => n !== 3)));
    let v = await verifyRecording(f.recordings, id, f.verifier);
    assert.equal(v.ok, false);
    assert.equal(v.problem?.block, 3);
    assert.match(v.message, /block 3 is missing or out of order/);

    fs.writeFileSync(file, rebuild([0, 1, 2, 4, 3, ...all.slice(5)]));
    v = await verifyRecording(f.recordings, id, f.verifier);
    assert.equal(v.ok, false);
    assert.equal(v.problem?.block, 3);

    // Cut inside a block.
    fs.writeFileSync(file, buf.subarray(0, recs[4]!.start + 20));
    v = await verifyRecording(f.recordings, id, f.verifier);
    assert.equal(v.ok, false);
    assert.equal(v.problem?.block, 4);
    assert.match(v.message, /incomplete/);

    // Cut exactly between blocks: the index says the recording was sealed.
    fs.writeFileSync(file, buf.subarray(0, recs[4]!.start));
    v = await verifyRecording(f.recordings, id, f.verifier);
    assert.equal(v.ok, false);
    assert.match(v.message, /truncated/);
    assert.equal(v.problem?.block, 4);

    // Data appended after the seal.
    fs.writeFileSync(file, Buffer.concat([buf, slice(2)]));
    v = await verifyRecording(f.recordings, id, f.verifier);
    assert.equal(v.ok, false);
    assert.match(v.message, /after the seal/);
  } finally {
    f.cleanup();
  }
});

test('seal: a signature by another key or a re-signed forgery is refused; an unknown key is reported', async () => {
  const f = await recFixture();
  const other = await recFixture();
  try {
    const id = await record(f, 3);
    assert.equal((await verifyRecording(f.recordings, id, f.verifier)).ok, true);
    // Verified with a config that does not hold the key.
    const v = await verifyRecording(f.recordings, id, other.verifier);
    assert.equal(v.ok, false);
    assert.match(v.message, /not among this config's keys/);
    // A recording sealed by another key claiming this key's kid.
    const forged = await openRecorder(f, { signer: { ...other.signer, kid: f.signer.kid } });
    forged.frames('client', Buffer.from('x'));
    await forged.close(summary());
    const v2 = await verifyRecording(f.recordings, forged.id, f.verifier);
    assert.equal(v2.ok, false);
    assert.match(v2.message, /bad signature/);
  } finally {
    f.cleanup();
    other.cleanup();
  }
});

test('an unclosed recording (crashed process) verifies as intact but unsealed', async () => {
  const f = await recFixture();
  try {
    const rec = await openRecorder(f, { blockSize: 1 });
    rec.frames('client', Buffer.from('Q select 1'));
    // Wait for the block to reach the disk, then pretend the process died: index still "live", another pid.
    await new Promise((r) => setTimeout(r, 200));
    const idxFile = `${f.recordings}/${rec.id}.index.json`;
    const idx = JSON.parse(fs.readFileSync(idxFile, 'utf8'));
    let live = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(live.state, 'live');
    fs.writeFileSync(idxFile, JSON.stringify({ ...idx, pid: 2 ** 22 + 12345 }));
    const v = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(v.ok, true);
    assert.equal(v.state, 'unsealed');
    assert.match(v.message, /intact but unsealed/);
    await rec.close(summary());
    live = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(live.state, 'sealed');
  } finally {
    f.cleanup();
  }
});

test('unsigned seal when no signing key is configured', async () => {
  const f = await recFixture();
  try {
    const rec = await Recorder.open({ dir: f.recordings, session: fakeSession(), instance: 't', signer: null });
    rec.frames('client', Buffer.from('hello'));
    await rec.close(summary());
    const v = await verifyRecording(f.recordings, rec.id, f.verifier);
    assert.equal(v.ok, true);
    assert.equal(v.signature, 'unsigned');
  } finally {
    f.cleanup();
  }
});
