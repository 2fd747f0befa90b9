import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FrameError,
  MAX_PAYLOAD,
  PacketFramer,
  PayloadAssembler,
  nextSeq,
  packet,
  packetCount,
  packets,
  payloadOf,
} from '../../../protocols/mysql/framer.js';

interface Got {
  seq: number;
  bytes: Buffer;
}

/** Frames `chunks` with a fresh framer; returns copies of every physical packet. */
function frame(chunks: Buffer[], maxLength = MAX_PAYLOAD): Got[] {
  const framer = new PacketFramer({ maxLength });
  const got: Got[] = [];
  for (const chunk of chunks) {
    const used = framer.push(chunk, (seq, buf, start, end) => void got.push({ seq, bytes: Buffer.from(buf.subarray(start, end)) }));
    assert.equal(used, chunk.length);
  }
  assert.equal(framer.buffered, 0, 'nothing buffered at the end');
  return got;
}

function header(length: number, seq: number): Buffer {
  return Buffer.from([length & 0xff, (length >> 8) & 0xff, length >>> 16, seq]);
}

function assertSame(got: Got[], expected: Buffer[], label: string): void {
  assert.equal(got.length, expected.length, `${label}: packet count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(got[i]!.seq, expected[i]![3], `${label}: seq of packet ${i}`);
    assert.ok(got[i]!.bytes.equals(expected[i]!), `${label}: bytes of packet ${i}`);
  }
}

/** Splits a whole stream back into its physical packets by their headers (test oracle). */
function splitPhysical(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; ) {
    const n = stream.readUIntLE(at, 3) + 4;
    out.push(stream.subarray(at, at + n));
    at += n;
  }
  return out;
}

const small = [
  packet(0, Buffer.from([0x0a, ...Buffer.from('10.11.19-MariaDB\0')])),
  packet(1, Buffer.alloc(0)),
  packet(2, Buffer.from([0x03, ...Buffer.from('select 1')])),
  packet(255, Buffer.alloc(300, 0x61)),
  packet(0, Buffer.from([0xfe, 0, 0, 2, 0])),
];

describe('PacketFramer: several packets at every split point', () => {
  const stream = Buffer.concat(small);

  it('whole stream in one chunk', () => assertSame(frame([stream]), small, 'whole'));

  it('every two-chunk split (including empty first and last chunks)', () => {
    for (let k = 0; k <= stream.length; k++) {
      assertSame(frame([stream.subarray(0, k), stream.subarray(k)]), small, `split@${k}`);
    }
  });

  it('every three-chunk split around the headers', () => {
    for (let a = 0; a <= 40; a++) {
      for (let b = a; b <= stream.length; b += 7) {
        assertSame(frame([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]), small, `split@${a},${b}`);
      }
    }
  });

  it('byte at a time', () => {
    const bytes: Buffer[] = [];
    for (let k = 0; k < stream.length; k++) bytes.push(stream.subarray(k, k + 1));
    assertSame(frame(bytes), small, 'bytes');
  });
});

describe('PacketFramer: views and copies', () => {
  it('hands out views into the chunk for whole packets, an exact-size copy for a small spanning one', () => {
    const [a, b] = [small[2]!, small[3]!];
    const stream = Buffer.concat([a, b]);
    const framer = new PacketFramer({ maxLength: 1000 });
    const seen: Buffer[] = [];
    const first = stream.subarray(0, a.length + 10);
    framer.push(first, (_s, buf) => void seen.push(buf));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, first.buffer, 'whole packet is a view into the chunk');
    assert.equal(framer.buffered, 10);
    framer.push(stream.subarray(a.length + 10), (_s, buf) => void seen.push(buf));
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.length, b.length, 'spanning packet copied into a buffer of its exact size');
  });

  it('payloadOf is the view after the 4-byte header', () => {
    const framer = new PacketFramer({ maxLength: 1000 });
    framer.push(small[2]!, (seq, buf, start, end) => {
      assert.equal(seq, 2);
      const p = payloadOf(buf, start, end);
      assert.equal(p.buffer, buf.buffer);
      assert.equal(p.toString('latin1'), '\x03select 1');
    });
  });
});

describe('PacketFramer: pausing', () => {
  it('a handler returning false stops framing after that packet; pushing the rest resumes', () => {
    const stream = Buffer.concat(small);
    for (const split of [0, 2, 4, 9, 30, small[0]!.length + 2, stream.length - 3, stream.length]) {
      const framer = new PacketFramer({ maxLength: 1000 });
      const got: Got[] = [];
      const handler = (seq: number, buf: Buffer, start: number, end: number) => {
        got.push({ seq, bytes: Buffer.from(buf.subarray(start, end)) });
        return false;
      };
      for (let chunk of [stream.subarray(0, split), stream.subarray(split)]) {
        for (;;) {
          const before = got.length;
          const used = framer.push(chunk, handler);
          assert.ok(used >= 0 && used <= chunk.length);
          assert.ok(got.length - before <= 1, 'at most one packet per push while pausing');
          if (used === chunk.length) break;
          chunk = chunk.subarray(used);
        }
      }
      assertSame(got, small, `pause split@${split}`);
      assert.equal(framer.buffered, 0);
    }
  });
});

describe('PacketFramer: length checks', () => {
  it('a payload of exactly maxLength passes; one byte more throws FrameError', () => {
    const p = packet(0, Buffer.alloc(100, 1));
    assert.equal(frame([p], 100).length, 1);
    assert.throws(() => new PacketFramer({ maxLength: 99 }).push(p, () => {}), FrameError);
  });

  it('an empty payload is a packet', () => {
    const got = frame([header(0, 7)], 0);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.seq, 7);
  });

  describe('a declared length over maxLength throws before any allocation of that size', () => {
    function withoutBigAllocations(limit: number, fn: () => void): void {
      const spies = [mock.method(Buffer, 'allocUnsafe'), mock.method(Buffer, 'alloc'), mock.method(Buffer, 'allocUnsafeSlow')];
      try {
        fn();
        for (const spy of spies) {
          for (const call of spy.mock.calls) assert.ok(Number(call.arguments[0]) <= limit, `allocated ${String(call.arguments[0])} bytes`);
        }
      } finally {
        for (const spy of spies) spy.mock.restore();
      }
    }

    it('(the spy sees the framer allocate a spanning packet)', () => {
      const spy = mock.method(Buffer, 'allocUnsafe');
      try {
        const p = packet(0, Buffer.alloc(20_000));
        new PacketFramer({ maxLength: 100_000 }).push(p.subarray(0, 100), () => {});
        assert.ok(spy.mock.calls.some((c) => c.arguments[0] === 20_004));
      } finally {
        spy.mock.restore();
      }
    });

    it('header alone, header with body bytes, header split at every point', () => {
      const h = header(MAX_PAYLOAD, 0);
      withoutBigAllocations(1000, () => {
        assert.throws(() => new PacketFramer({ maxLength: 1000 }).push(h, () => {}), FrameError);
        assert.throws(() => new PacketFramer({ maxLength: 1000 }).push(Buffer.concat([h, Buffer.alloc(50)]), () => {}), FrameError);
        for (let k = 1; k < 4; k++) {
          const f = new PacketFramer({ maxLength: 1000 });
          f.push(h.subarray(0, k), () => {});
          assert.throws(() => f.push(h.subarray(k), () => {}), FrameError, `split@${k}`);
        }
      });
    });

    it('after a complete packet, the next header byte at a time', () => {
      withoutBigAllocations(1000, () => {
        const f = new PacketFramer({ maxLength: 1000 });
        const stream = Buffer.concat([header(0, 0), header(0x800000, 1)]);
        let n = 0;
        let threw: unknown;
        for (let k = 0; k < stream.length && !threw; k++) {
          try {
            f.push(stream.subarray(k, k + 1), () => void n++);
          } catch (e) {
            threw = e;
          }
        }
        assert.equal(n, 1);
        assert.ok(threw instanceof FrameError);
      });
    });

    it('a large spanning packet grows with the bytes received, not with the declared length', () => {
      const declared = 4_000_000;
      withoutBigAllocations(1 << 17, () => {
        const f = new PacketFramer({ maxLength: MAX_PAYLOAD });
        f.push(Buffer.concat([header(declared, 0), Buffer.alloc(1000)]), () => assert.fail('incomplete'));
        f.push(Buffer.alloc(1000), () => assert.fail('incomplete'));
        assert.equal(f.buffered, 2004);
      });
    });
  });
});

describe('packet(): logical payloads of 16 MB and more (§ Sending More Than 16Mb)', () => {
  it('packetCount and nextSeq at the 0xFFFFFF boundaries', () => {
    assert.equal(packetCount(0), 1);
    assert.equal(packetCount(MAX_PAYLOAD - 1), 1);
    assert.equal(packetCount(MAX_PAYLOAD), 2, 'an exact multiple ends with an empty packet');
    assert.equal(packetCount(MAX_PAYLOAD + 1), 2);
    assert.equal(packetCount(2 * MAX_PAYLOAD), 3);
    assert.equal(nextSeq(255, 10), 0, 'sequence ids wrap');
    assert.equal(nextSeq(254, MAX_PAYLOAD), 0);
  });

  it('a small payload is one packet with its header', () => {
    const p = packet(9, Buffer.from('abc'));
    assert.deepEqual([...p], [3, 0, 0, 9, 0x61, 0x62, 0x63]);
  });

  it('packets(): sequence ids run on', () => {
    const all = packets(254, [Buffer.from('a'), Buffer.alloc(0), Buffer.from('bc')]);
    assert.deepEqual([...all], [1, 0, 0, 254, 0x61, 0, 0, 0, 255, 2, 0, 0, 0, 0x62, 0x63]);
  });

  it('one real 16 MB+ payload and one exact multiple: split, framed at the packet edges, reassembled', () => {
    const big = Buffer.allocUnsafe(MAX_PAYLOAD + 1000);
    for (let i = 0; i < big.length; i += 4093) big[i] = i & 0xff;
    big.fill(7, 0, 100);
    const exact = big.subarray(0, MAX_PAYLOAD);
    const stream = packets(250, [Buffer.from('before'), big, exact, Buffer.from('after')]);
    const physical = splitPhysical(stream);
    assert.deepEqual(
      physical.map((p) => [p.readUIntLE(0, 3), p[3]]),
      [
        [6, 250],
        [MAX_PAYLOAD, 251],
        [1000, 252],
        [MAX_PAYLOAD, 253],
        [0, 254],
        [5, 255],
      ],
    );
    // Splits at and around every packet edge, and inside each header.
    const edges: number[] = [];
    for (let at = 0, i = 0; i < physical.length; at += physical[i]!.length, i++) {
      for (let d = -3; d <= 5; d++) if (at + d >= 0 && at + d <= stream.length) edges.push(at + d);
    }
    edges.push(stream.length - 1, 1 << 16, (1 << 16) + 3);
    for (const k of edges) {
      const framer = new PacketFramer({ maxLength: MAX_PAYLOAD });
      const assembler = new PayloadAssembler(64 << 20);
      const logical: Buffer[] = [];
      for (const chunk of [stream.subarray(0, k), stream.subarray(k)]) {
        framer.push(chunk, (_seq, buf, start, end) => {
          const whole = assembler.add(payloadOf(buf, start, end));
          if (whole) logical.push(whole);
        });
      }
      assert.equal(logical.length, 4, `split@${k}: logical payload count`);
      assert.equal(logical[0]!.toString(), 'before');
      assert.ok(logical[1]!.equals(big), `split@${k}: 16 MB + 1000 payload`);
      assert.ok(logical[2]!.equals(exact), `split@${k}: exact 0xFFFFFF payload`);
      assert.equal(logical[3]!.toString(), 'after');
      assert.equal(assembler.pending, 0);
    }
  });

  it('PayloadAssembler: a single packet payload comes back as is; the limit counts the whole logical payload', () => {
    const a = new PayloadAssembler(10);
    const p = Buffer.from('hello');
    assert.equal(a.add(p), p);
    assert.throws(() => a.add(Buffer.alloc(11)), FrameError);
  });
});

describe('PacketFramer property: any chunking yields the same packets', () => {
  const payloads = fc.array(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    { minLength: 1, maxLength: 12 },
  );
  it('random payloads, random cut points', () => {
    fc.assert(
      fc.property(payloads, fc.nat(255), fc.array(fc.nat(), { maxLength: 20 }), (ps, seq, cuts) => {
        const stream = packets(seq, ps);
        const expected = splitPhysical(stream);
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const p of points) {
          chunks.push(stream.subarray(from, p));
          from = p;
        }
        chunks.push(stream.subarray(from));
        assertSame(frame(chunks, 300), expected, 'property');
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
