import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import * as encode from '../../../protocols/postgres/encode.js';
import { Framer, FrameError } from '../../../protocols/postgres/framer.js';
import { MessageError } from '../../../protocols/postgres/reader.js';
import { StartupCode } from '../../../protocols/postgres/codes.js';
import * as front from '../../../protocols/postgres/frontend-messages.js';
import * as back from '../../../protocols/postgres/backend-messages.js';
import { backendSamples, cstr, frontendSamples, i16, i32, i8, typed, untyped } from './corpus.js';

fc.configureGlobal({ seed: 42, numRuns: 1000 });

// ---------- generators ----------

const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
/** Strings as the wire carries them: no NUL. */
const text = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replaceAll('\0', ''));
const key = fc.uint8Array({ minLength: 4, maxLength: 256 }).map((a) => Buffer.from(a));
const cells = fc.array(fc.option(bytes(80), { nil: null }), { maxLength: 12 });
const severity = fc.constantFrom('ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'DEBUG', 'INFO', 'LOG') as fc.Arbitrary<encode.ErrorFields['severity']>;

/** A valid typed message of either direction. */
const typedMessage: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(120)).map(([t, b]) => typed(t, b)),
  text.map((s) => encode.PasswordMessage(s)),
  text.map((s) => Buffer.from(serialize.query(s))),
  fc.tuple(text, text, fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 5 })).map(([name, q, types]) =>
    Buffer.from(serialize.parse({ name, text: q, types })),
  ),
  fc.tuple(text, text, fc.array(fc.oneof(fc.constant(null), text, bytes(40)), { maxLength: 6 }), fc.boolean()).map(([portal, statement, values, binary]) =>
    Buffer.from(serialize.bind({ portal, statement, values, binary })),
  ),
  fc.tuple(text, fc.nat()).map(([portal, rows]) => Buffer.from(serialize.execute({ portal, rows }))),
  fc.tuple(fc.constantFrom<'S' | 'P'>('S', 'P'), text).map(([type, name]) => Buffer.from(serialize.describe({ type, name }))),
  fc.tuple(fc.constantFrom<'S' | 'P'>('S', 'P'), text).map(([type, name]) => Buffer.from(serialize.close({ type, name }))),
  bytes(200).map((b) => Buffer.from(serialize.copyData(b))),
  cells.map((c) => encode.DataRow(c)),
  fc.tuple(text, text).map(([n, v]) => encode.ParameterStatus(n, v)),
  fc.tuple(fc.integer(), key).map(([p, k]) => encode.BackendKeyData(p, k)),
  fc.constantFrom<'I' | 'T' | 'E'>('I', 'T', 'E').map((s) => encode.ReadyForQuery(s)),
  fc.tuple(fc.integer(), text, text).map(([p, c, m]) => encode.NotificationResponse(p, c, m)),
  fc.record({ severity, code: text, message: text, detail: text, hint: text }).map((f) => encode.ErrorResponse(f)),
  fc.tuple(fc.nat({ max: 0xffff }), fc.array(text, { maxLength: 4 })).map(([m, o]) => encode.NegotiateProtocolVersion(m, o)),
  fc.constantFrom(encode.AuthenticationOk(), encode.AuthenticationCleartextPassword(), encode.Terminate(), Buffer.from(serialize.sync())),
);

const startupParams = fc.array(fc.tuple(text.filter((s) => s !== ''), text), { maxLength: 5 });
/** Untyped messages that may precede the StartupMessage. */
const preStartup: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(encode.SSLRequest()),
  fc.constant(untyped(i32(StartupCode.GSSENCRequest))),
  fc.tuple(fc.integer(), key).map(([p, k]) => encode.CancelRequest(p, k)),
);

interface Conversation {
  startup: Buffer[];
  typed: Buffer[];
}

/** Either a typed-only stream, or startup-phase messages, a StartupMessage, then typed ones. */
const conversation: fc.Arbitrary<Conversation> = fc.oneof(
  fc.array(typedMessage, { maxLength: 25 }).map((t) => ({ startup: [], typed: t })),
  fc
    .tuple(fc.array(preStartup, { maxLength: 3 }), startupParams, fc.integer({ min: 0, max: 3 }), fc.array(typedMessage, { maxLength: 25 }))
    .map(([pre, params, minor, t]) => ({ startup: [...pre, encode.StartupMessage(params, minor)], typed: t })),
);

/** Cut points into a stream of length n (from arbitrary naturals), sorted, duplicates allowed. */
const cuts = fc.array(fc.nat(), { maxLength: 30 });
const toChunks = (stream: Buffer, raw: number[]): Buffer[] => {
  const points = raw.map((r) => r % (stream.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(stream.subarray(prev, p));
    prev = p;
  }
  out.push(stream.subarray(prev));
  return out;
};

/** Message-shaped bytes: mostly well-formed frames, some with a wrong length (negative, short, long). */
const plausibleStream = (startup: boolean) =>
  fc
    .array(
      fc.tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -12, max: 12 }) }),
        bytes(60),
      ),
      { maxLength: 10 },
    )
    .map((parts) => Buffer.concat(parts.flatMap(([t, delta, b]) => [...(startup ? [] : [i8(t)]), i32(b.length + 4 + delta), b])));

// ---------- properties ----------

describe('property: framing', () => {
  it('(a) any sequence of valid messages, in any chunking, with pauses, is reproduced exactly', () => {
    fc.assert(
      fc.property(conversation, cuts, fc.array(fc.boolean(), { maxLength: 40 }), (conv, rawCuts, pauses) => {
        const expected = [...conv.startup, ...conv.typed];
        const stream = Buffer.concat(expected);
        const framer = new Framer({ startup: conv.startup.length > 0, maxLength: 1 << 20 });
        const got: { type: number; bytes: Buffer }[] = [];
        const handler = (type: number, buf: Buffer, start: number, end: number) => {
          got.push({ type, bytes: Buffer.from(buf.subarray(start, end)) });
          if (got.length === conv.startup.length) framer.startup = false;
          return !(pauses[got.length % Math.max(1, pauses.length)] ?? false);
        };
        for (let chunk of toChunks(stream, rawCuts)) {
          for (;;) {
            const used = framer.push(chunk, handler);
            assert.ok(used >= 0 && used <= chunk.length);
            if (used === chunk.length) break;
            chunk = chunk.subarray(used);
          }
        }
        assert.equal(got.length, expected.length);
        got.forEach((g, i) => {
          assert.equal(g.type, i < conv.startup.length ? 0 : expected[i]![0]);
          assert.ok(g.bytes.equals(expected[i]!), `message ${i}`);
        });
        assert.equal(framer.buffered, 0);
      }),
      { numRuns: 1500 },
    );
  });

  it('(b) arbitrary bytes in arbitrary chunks: messages or FrameError, never longer than maxLength', () => {
    let framed = 0;
    fc.assert(
      fc.property(
        fc.boolean().chain((startup) => fc.tuple(fc.constant(startup), fc.oneof(bytes(600), plausibleStream(startup)))),
        cuts,
        fc.integer({ min: 5, max: 300 }),
        ([startup, stream], rawCuts, maxLength) => {
          const framer = new Framer({ startup, maxLength });
          const headerSize = startup ? 4 : 5;
          let emitted = 0;
          let consumed = 0;
          try {
            for (const chunk of toChunks(stream, rawCuts)) {
              framer.push(chunk, (type, buf, start, end) => {
                const m = buf.subarray(start, end);
                assert.ok(m.length <= maxLength, `message of ${m.length} > ${maxLength}`);
                assert.ok(m.length >= headerSize);
                assert.equal(type, startup ? 0 : m[0]);
                assert.equal(startup ? m.readInt32BE(0) : m.readInt32BE(1) + 1, m.length, 'length matches its header');
                assert.ok(m.equals(stream.subarray(emitted, emitted + m.length)), 'message is the next bytes of the stream');
                emitted += m.length;
                framed++;
              });
              consumed += chunk.length;
            }
          } catch (e) {
            assert.ok(e instanceof FrameError, `threw ${String(e)}`);
            return;
          }
          assert.equal(emitted + framer.buffered, consumed);
        },
      ),
      { numRuns: 3000 },
    );
    assert.ok(framed > 1000, `the generators reach whole messages (${framed})`);
  });
});

type Decoder = (buf: Buffer, start: number, end: number) => unknown;

/** Bodies built from protocol-shaped fragments, so decoders get past their first field. */
const structuredBody = fc
  .array(
    fc.oneof(
      fc.integer({ min: -3, max: 6 }).map(i16),
      fc.integer({ min: -3, max: 12 }).map(i32),
      fc.constantFrom(i16(0x7fff), i16(-0x8000), i32(0x7fffffff), i32(-0x80000000)),
      text.map(cstr),
      fc.integer({ min: 0, max: 255 }).map(i8),
      bytes(8),
    ),
    { maxLength: 16 },
  )
  .map((parts) => Buffer.concat(parts));
/** Bodies of real messages (both directions) with a few bytes set, deleted or inserted. */
const realBodies = [...frontendSamples, ...backendSamples].map((s) => s.bytes).filter((b) => b.length < 1000).map((b) => b.subarray(5));
const mutatedBody = fc
  .tuple(fc.constantFrom(...realBodies), fc.array(fc.tuple(fc.constantFrom('set', 'del', 'ins'), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
  .map(([body, edits]) => {
    let b = Buffer.from(body);
    for (const [op, at, v] of edits) {
      const i = at % (b.length + 1);
      if (op === 'set' && i < b.length) b[i] = v;
      else if (op === 'del') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      else b = Buffer.concat([b.subarray(0, i), i8(v), b.subarray(i)]);
    }
    return b;
  });
const anyBody = fc.oneof(bytes(80), structuredBody, mutatedBody);

const typedDecoders: [string, Decoder][] = [
  ['decodePasswordMessage', front.decodePasswordMessage],
  ['decodeQuery', front.decodeQuery],
  ['decodeParse', front.decodeParse],
  ['decodeBind', front.decodeBind],
  ['decodeExecute', front.decodeExecute],
  ['decodeDescribeOrClose', front.decodeDescribeOrClose],
  ['decodeRowDescription', back.decodeRowDescription],
  ['decodeDataRow', back.decodeDataRow],
  ['decodeErrorFields', back.decodeErrorFields],
  ['decodeNotificationResponse', back.decodeNotificationResponse],
  ['decodeCommandComplete', back.decodeCommandComplete],
  ['decodeParameterStatus', back.decodeParameterStatus],
  ['decodeBackendKeyData', back.decodeBackendKeyData],
  ['decodeAuthentication', back.decodeAuthentication],
  ['decodeCopyResponse', back.decodeCopyResponse],
  ['decodeReadyForQuery', back.decodeReadyForQuery],
];

function returnsOrMessageError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MessageError, `threw ${String(e)}`);
  }
}

/** Puts `frame` between junk bytes (NULs included) so reading past its end would be noticed. */
function inJunk(frame: Buffer, junk: Buffer): [Buffer, number, number] {
  return [Buffer.concat([junk, frame, junk]), junk.length, junk.length + frame.length];
}

describe('property: decoders on arbitrary bodies', () => {
  for (const [name, decode] of typedDecoders) {
    it(`(c) ${name} returns or throws MessageError`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 255 }), anyBody, bytes(6), (type, body, junk) => {
          returnsOrMessageError(() => decode(...inJunk(typed(type, body), junk)));
        }),
      );
    });
  }

  it('(c) decodeStartupPacket returns or throws MessageError', () => {
    const code = fc.oneof(
      fc.constantFrom(StartupCode.SSLRequest, StartupCode.GSSENCRequest, StartupCode.CancelRequest, StartupCode.Protocol3, StartupCode.Protocol3 + 2),
      fc.integer(),
    );
    fc.assert(
      fc.property(code, anyBody, bytes(6), (c, body, junk) => {
        returnsOrMessageError(() => front.decodeStartupPacket(...inJunk(untyped(i32(c), body), junk)));
      }),
    );
  });

  it('(c) decodeSaslMechanisms returns or throws MessageError', () => {
    fc.assert(fc.property(anyBody, (data) => returnsOrMessageError(() => back.decodeSaslMechanisms(data))));
  });
});

describe('property: round trips', () => {
  it('(d) DataRow(decodeDataRow(x)) is byte-identical to x for valid DataRows', () => {
    fc.assert(
      fc.property(cells, bytes(6), (row, junk) => {
        // Built by hand, independently of encode.DataRow.
        const x = typed('D', i16(row.length), ...row.flatMap((c) => (c === null ? [i32(-1)] : [i32(c.length), c])));
        const decoded = back.decodeDataRow(...inJunk(x, junk));
        assert.deepEqual(decoded, row);
        assert.ok(encode.DataRow(decoded).equals(x));
      }),
      { numRuns: 1000 },
    );
  });

  it('StartupMessage, ParameterStatus, NotificationResponse, ErrorResponse, BackendKeyData decode what encode wrote', () => {
    fc.assert(
      fc.property(startupParams, fc.integer({ min: 0, max: 0xffff }), text, text, fc.integer(), key, (params, minor, a, b, pid, k) => {
        const unique = new Map(params);
        const sp = encode.StartupMessage(unique, minor);
        assert.deepEqual(front.decodeStartupPacket(sp, 0, sp.length), { kind: 'StartupMessage', major: 3, minor, params: unique });
        const ps = encode.ParameterStatus(a, b);
        assert.deepEqual(back.decodeParameterStatus(ps, 0, ps.length), { name: a, value: b });
        const nr = encode.NotificationResponse(pid, a, b);
        assert.deepEqual(back.decodeNotificationResponse(nr, 0, nr.length), { processId: pid, channel: a, payload: b });
        const er = encode.ErrorResponse({ severity: 'ERROR', code: a, message: b });
        assert.ok(encode.encodeErrorFields(er[0]!, back.decodeErrorFields(er, 0, er.length)).equals(er));
        const kd = encode.BackendKeyData(pid, k);
        assert.deepEqual(back.decodeBackendKeyData(kd, 0, kd.length), { processId: pid, secretKey: k });
      }),
    );
  });

  it('Bind from pg-protocol decodes to its values', () => {
    fc.assert(
      fc.property(text, text, fc.array(fc.oneof(fc.constant(null), text, bytes(40)), { maxLength: 8 }), fc.boolean(), (portal, statement, values, binary) => {
        const m = Buffer.from(serialize.bind({ portal, statement, values, binary }));
        const d = front.decodeBind(m, 0, m.length);
        assert.equal(d.portal, portal);
        assert.equal(d.statement, statement);
        assert.deepEqual(d.resultFormats, [binary ? 1 : 0]);
        assert.deepEqual(
          d.params,
          values.map((v) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v))),
        );
        assert.deepEqual(d.paramFormats, values.map((v) => (Buffer.isBuffer(v) ? 1 : 0)));
      }),
    );
  });
});
