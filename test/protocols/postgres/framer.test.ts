import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, FrameError } from '../../../protocols/postgres/framer.js';
import { decodeStartupPacket } from '../../../protocols/postgres/frontend-messages.js';
import { backendSamples, frontendSamples, startupSamples, i32, type Sample } from './corpus.js';

const MAX = 1 << 20;

interface Expected {
  type: number;
  bytes: Buffer;
}

const expectedOf = (s: Sample): Expected => ({ type: s.untyped ? 0 : s.bytes[0]!, bytes: s.bytes });

/**
 * Feeds `chunks` to a fresh Framer and asserts it yields exactly `expected`, in order, with
 * nothing left over. With `switchAfterStartup`, the handler ends the startup phase on the
 * StartupMessage, as a server does.
 */
function assertFrames(
  expected: Expected[],
  chunks: Buffer[],
  opts: { startup: boolean; switchAfterStartup?: boolean },
  label: string,
): void {
  const framer = new Framer({ startup: opts.startup, maxLength: MAX });
  let i = 0;
  for (const chunk of chunks) {
    framer.push(chunk, (type, buf, start, end) => {
      const exp = expected[i];
      assert.ok(exp, `${label}: unexpected extra message #${i}`);
      assert.equal(type, exp.type, `${label}: type of message #${i}`);
      assert.equal(end - start, exp.bytes.length, `${label}: length of message #${i}`);
      assert.ok(buf.subarray(start, end).equals(exp.bytes), `${label}: bytes of message #${i}`);
      i++;
      if (opts.switchAfterStartup && framer.startup && decodeStartupPacket(buf, start, end).kind === 'StartupMessage') {
        framer.startup = false;
      }
    });
  }
  assert.equal(i, expected.length, `${label}: message count`);
  assert.equal(framer.buffered, 0, `${label}: nothing buffered`);
}

/** Every two-chunk split (including empty first/last chunks) and byte-at-a-time. */
function assertAllChunkings(expected: Expected[], opts: { startup: boolean; switchAfterStartup?: boolean }, label: string): void {
  const stream = Buffer.concat(expected.map((e) => e.bytes));
  assertFrames(expected, [stream], opts, `${label} whole`);
  for (let k = 0; k <= stream.length; k++) {
    assertFrames(expected, [stream.subarray(0, k), stream.subarray(k)], opts, `${label} split@${k}`);
  }
  const bytes: Buffer[] = [];
  for (let k = 0; k < stream.length; k++) bytes.push(stream.subarray(k, k + 1));
  assertFrames(expected, bytes, opts, `${label} byte-at-a-time`);
}

describe('Framer: each message at every split point', () => {
  for (const s of startupSamples) {
    it(`startup phase: ${s.name}`, () => assertAllChunkings([expectedOf(s)], { startup: true }, s.name));
  }
  for (const s of frontendSamples) {
    it(`frontend: ${s.name}`, () => assertAllChunkings([expectedOf(s)], { startup: false }, s.name));
  }
  for (const s of backendSamples) {
    it(`backend: ${s.name}`, () => assertAllChunkings([expectedOf(s)], { startup: false }, s.name));
  }
});

describe('Framer: concatenated streams at every split point', () => {
  it('all startup-phase messages', () => {
    assertAllChunkings(startupSamples.map(expectedOf), { startup: true }, 'startup stream');
  });

  it('all frontend messages', () => {
    assertAllChunkings(frontendSamples.map(expectedOf), { startup: false }, 'frontend stream');
  });

  it('all backend messages', () => {
    assertAllChunkings(backendSamples.map(expectedOf), { startup: false }, 'backend stream');
  });

  it('SSLRequest, GSSENCRequest, StartupMessage, then the typed phase (switched mid-stream)', () => {
    const byName = (n: string) => startupSamples.find((s) => s.name === n)!;
    const expected = [
      byName('SSLRequest (encode)'),
      byName('GSSENCRequest'),
      byName('StartupMessage (encode)'),
      ...frontendSamples,
    ].map(expectedOf);
    assertAllChunkings(expected, { startup: true, switchAfterStartup: true }, 'switch stream');
  });

  it('switching phase inside a chunk that ends 4 bytes into the next (typed) header', () => {
    // Regression: the header size must be re-read after the handler ends the startup phase.
    const startup = startupSamples[0]!.bytes;
    const query = frontendSamples.find((s) => s.name === 'Query')!.bytes;
    const expected = [{ type: 0, bytes: startup }, { type: query[0]!, bytes: query }];
    const stream = Buffer.concat([startup, query]);
    assertFrames(expected, [stream.subarray(0, startup.length + 4), stream.subarray(startup.length + 4)], {
      startup: true,
      switchAfterStartup: true,
    }, 'exact-4');
  });
});

describe('Framer: pausing', () => {
  it('a handler returning false stops framing; pushing the rest resumes it', () => {
    const expected = backendSamples.map(expectedOf);
    const stream = Buffer.concat(expected.map((e) => e.bytes));
    for (const split of [0, 3, 7, 100, stream.length - 3]) {
      const framer = new Framer({ maxLength: MAX });
      const got: Buffer[] = [];
      const handler = (_t: number, buf: Buffer, start: number, end: number) => {
        got.push(Buffer.from(buf.subarray(start, end)));
        return false;
      };
      for (let chunk of [stream.subarray(0, split), stream.subarray(split)]) {
        for (;;) {
          const before = got.length;
          const used = framer.push(chunk, handler);
          assert.ok(used >= 0 && used <= chunk.length);
          assert.ok(got.length - before <= 1, 'at most one message per push after a pause');
          if (used === chunk.length) break;
          chunk = chunk.subarray(used);
        }
      }
      assert.equal(got.length, expected.length);
      got.forEach((g, i) => assert.ok(g.equals(expected[i]!.bytes), `message ${i}`));
      assert.equal(framer.buffered, 0);
    }
  });
});

describe('Framer: message views', () => {
  it('hands out views into the chunk for whole messages and a copy only for spanning ones', () => {
    const a = frontendSamples[0]!.bytes;
    const b = frontendSamples[1]!.bytes;
    const stream = Buffer.concat([a, b]);
    const framer = new Framer({ maxLength: MAX });
    const seen: Buffer[] = [];
    const first = stream.subarray(0, a.length + 3);
    framer.push(first, (_t, buf) => void seen.push(buf));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, first.buffer, 'first message is a view into the chunk');
    assert.equal(framer.buffered, 3);
    framer.push(stream.subarray(a.length + 3), (_t, buf) => void seen.push(buf));
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.length, b.length, 'spanning message copied into an exact-size buffer');
  });
});

describe('Framer: length checks', () => {
  const typedHeader = (declared: number) => Buffer.concat([Buffer.from('Q'), i32(declared)]);

  for (const declared of [0, 1, 2, 3]) {
    it(`typed declared length ${declared} < 4 throws FrameError`, () => {
      const f = new Framer({ maxLength: 10_000 });
      assert.throws(() => f.push(typedHeader(declared), () => assert.fail('no message')), FrameError);
    });
    it(`untyped declared length ${declared} < 4 throws FrameError`, () => {
      const f = new Framer({ startup: true, maxLength: 10_000 });
      assert.throws(() => f.push(i32(declared), () => assert.fail('no message')), FrameError);
    });
  }

  for (const declared of [-1, -4, -0x80000000]) {
    it(`negative declared length ${declared} throws FrameError (typed, untyped, split header)`, () => {
      assert.throws(() => new Framer({ maxLength: 10_000 }).push(typedHeader(declared), () => {}), FrameError);
      assert.throws(() => new Framer({ startup: true, maxLength: 10_000 }).push(i32(declared), () => {}), FrameError);
      const f = new Framer({ maxLength: 10_000 });
      const h = typedHeader(declared);
      f.push(h.subarray(0, 2), () => {});
      assert.throws(() => f.push(h.subarray(2), () => {}), FrameError);
    });
  }

  it('length 4 (empty body) is accepted: Sync', () => {
    const f = new Framer({ maxLength: 5 });
    let n = 0;
    f.push(typedHeader(4), () => void n++);
    assert.equal(n, 1);
  });

  it('maxLength counts the whole message: exactly maxLength passes, one more throws', () => {
    const body = Buffer.alloc(10, 0x61);
    const msg = Buffer.concat([Buffer.from('d'), i32(14), body]); // 15 bytes in all
    let n = 0;
    new Framer({ maxLength: 15 }).push(msg, () => void n++);
    assert.equal(n, 1);
    assert.throws(() => new Framer({ maxLength: 14 }).push(msg, () => {}), FrameError);
    const startup = Buffer.concat([i32(14), body]);
    new Framer({ startup: true, maxLength: 14 }).push(startup, () => void n++);
    assert.equal(n, 2);
    assert.throws(() => new Framer({ startup: true, maxLength: 13 }).push(startup, () => {}), FrameError);
  });

  describe('oversized length prefix throws before any allocation of that size', () => {
    const GB = 1 << 30;
    /** Runs `fn` with Buffer allocation spied on; asserts nothing larger than `limit` was allocated. */
    function withoutBigAllocations(limit: number, fn: () => void): void {
      const spies = [mock.method(Buffer, 'allocUnsafe'), mock.method(Buffer, 'alloc'), mock.method(Buffer, 'allocUnsafeSlow')];
      try {
        fn();
        for (const spy of spies) {
          for (const call of spy.mock.calls) {
            assert.ok(Number(call.arguments[0]) <= limit, `allocated ${String(call.arguments[0])} bytes`);
          }
        }
      } finally {
        for (const spy of spies) spy.mock.restore();
      }
    }

    it('(the spy sees the framer allocate a spanning message)', () => {
      const spy = mock.method(Buffer, 'allocUnsafe');
      try {
        const msg = Buffer.concat([typedHeader(20_004), Buffer.alloc(20_000)]);
        const f = new Framer({ maxLength: 100_000 });
        f.push(msg.subarray(0, 100), () => {});
        assert.ok(spy.mock.calls.some((c) => c.arguments[0] === 20_005));
      } finally {
        spy.mock.restore();
      }
    });

    it('typed, 5-byte header alone in one chunk', () => {
      withoutBigAllocations(10_000, () => {
        const f = new Framer({ maxLength: 10_000 });
        assert.throws(() => f.push(typedHeader(GB), () => {}), FrameError);
      });
    });

    it('typed, header followed by body bytes', () => {
      withoutBigAllocations(10_000, () => {
        const f = new Framer({ maxLength: 10_000 });
        assert.throws(() => f.push(Buffer.concat([typedHeader(GB), Buffer.alloc(100)]), () => {}), FrameError);
      });
    });

    it('typed, header split across chunks at every point', () => {
      const h = typedHeader(GB);
      for (let k = 1; k < h.length; k++) {
        withoutBigAllocations(10_000, () => {
          const f = new Framer({ maxLength: 10_000 });
          f.push(h.subarray(0, k), () => {});
          assert.throws(() => f.push(h.subarray(k), () => {}), FrameError, `split@${k}`);
        });
      }
    });

    it('typed, header byte at a time after a complete message', () => {
      withoutBigAllocations(10_000, () => {
        const f = new Framer({ maxLength: 10_000 });
        const stream = Buffer.concat([typedHeader(4), typedHeader(GB)]);
        let n = 0;
        let threw: unknown;
        for (let k = 0; k < stream.length && !threw; k++) {
          try {
            f.push(stream.subarray(k, k + 1), () => void n++);
          } catch (e) {
            threw = e;
            assert.equal(k, stream.length - 1, 'throws as soon as the length is known');
          }
        }
        assert.equal(n, 1);
        assert.ok(threw instanceof FrameError);
      });
    });

    it('untyped, 4-byte header alone and split', () => {
      const h = i32(GB);
      withoutBigAllocations(10_000, () => {
        assert.throws(() => new Framer({ startup: true, maxLength: 10_000 }).push(h, () => {}), FrameError);
      });
      for (let k = 1; k < h.length; k++) {
        withoutBigAllocations(10_000, () => {
          const f = new Framer({ startup: true, maxLength: 10_000 });
          f.push(h.subarray(0, k), () => {});
          assert.throws(() => f.push(h.subarray(k), () => {}), FrameError, `split@${k}`);
        });
      }
    });

    it('largest Int32 length', () => {
      withoutBigAllocations(10_000, () => {
        assert.throws(() => new Framer({ maxLength: 10_000 }).push(typedHeader(0x7fffffff), () => {}), FrameError);
      });
    });
  });
});
