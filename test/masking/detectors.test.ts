import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectorMask, mayMatch, maskSpans, scan, type DetectorName } from '../../src/masking/detectors.js';

// Secret-shaped fixtures are assembled at run time, so the repository holds no key or token text.
const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwtShape = (header: object, claims: object, sig: string) => `${b64url(header)}.${b64url(claims)}.${sig}`;
const pem = (label: string, body: string) => ['-----BEGIN', `${label}-----\n${body}\n-----END`, `${label}-----`].join(' ');

/** Per detector: strings that must be found (the exact secret) and strings that must not. */
const corpus: Record<DetectorName, { hit: string[]; miss: string[] }> = {
  email: {
    hit: ['ada.lovelace1@example.com', 'x@y.io', 'first+tag@sub.mail.example.org', "o'neil@example.com".slice(2), 'UPPER@EXAMPLE.COM'],
    miss: ['user@localhost', '@example.com', 'a@b', 'foo@bar.c', 'name@123.456', 'twitter @handle', 'a@@b.com', 'x@-.com'],
  },
  credit_card: {
    hit: ['4111111111111111', '4111 1111 1111 1111', '4111-1111-1111-1111', '5555555555554444', '378282246310005', '6011111111111117', '3566002020360505', '2223003122003222'],
    miss: ['4111111111111112', '1234567812345678', '411111111111', '41111111111111111111', '9111111111111111', '0000000000000000', '4111 1111 1111 111'],
  },
  us_ssn: {
    hit: ['123-45-6789', '078-05-1120', '665-12-3456', '123 45 6789'],
    miss: ['000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '123456789', '1234-56-7890', '123-45-67890', '123-45 6789'],
  },
  iban: {
    hit: ['DE89370400440532013000', 'DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'NO9386011117947', 'FR1420041010050500013M02606'],
    miss: ['DE89370400440532013001', 'GB82WEST12345698765433', 'XX00', 'DE89 3704', 'AB12CDEFGHIJKLMNOP'],
  },
  phone: {
    hit: ['+14155552671', '+44 20 7946 0958', '+1 (415) 555-2671', '+49-30-1234567', '+33 1 23 45 67 89'],
    miss: ['4155552671', '+0123456789', '+123', '1+2=3', 'a+14155552671', '+1234567890123456789', 'C++ 11'],
  },
  jwt: {
    hit: [
      jwtShape({ alg: 'HS256', typ: 'JWT' }, { sub: '1234567890', name: 'John Doe', iat: 1516239022 }, 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'),
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    ],
    miss: ['eyJhbGciOiJIUzI1NiJ9', 'eyJ.eyJ.x', 'keyJabcdefghijk.eyJabc.def', 'hello.world.again'],
  },
  private_key: {
    hit: [
      pem('PRIVATE KEY', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'),
      pem('RSA PRIVATE KEY', 'MIIEpAIBAAKCAQEA').replaceAll('\n', '\\n'),
      pem('OPENSSH PRIVATE KEY', 'b3BlbnNzaC1rZXktdjEAAAAA').split('\n-----END')[0]!,
    ],
    miss: ['-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----', '-----BEGIN CERTIFICATE-----', 'private key'],
  },
  api_key: {
    hit: [
      'AKIAIOSFODNN7EXAMPLE',
      'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
      'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      'sk_live_' + '4eC39HqLyjWDarjtT1zdp7dc',
      'AIzaSyA1234567890abcdefghijklmnopqrstuv',
      'sk-proj-' + 'abc123DEF456ghi789JKL012mno345PQR678',
    ],
    miss: ['AKIA1234', 'ghp_short', 'sk-live-demo', 'task-management-system-settings', 'skAKIAIOSFODNN7EXAMPLE', 'sk_live_short'],
  },
  ipv4: {
    hit: ['192.168.1.20', '10.0.0.1', '8.8.8.8', '172.16.0.0/12', '255.255.255.255'],
    miss: ['256.1.1.1', '1.2.3', '1.2.3.4.5', 'v1.2.3.4', '192.168.1', '3.14159', '1.2.3.4a'],
  },
  ipv6: {
    hit: ['2001:db8::ff00:42:8329', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:192.0.2.128'],
    miss: ['12:30:45', '00:1a:2b:3c:4d:5e', 'std::vector', 'x::text', '::1', 'a::b::c', 'deadbeef'],
  },
};

for (const [name, { hit, miss }] of Object.entries(corpus) as [DetectorName, { hit: string[]; miss: string[] }][]) {
  test(`${name}: finds every true positive, exactly, alone and inside text`, () => {
    for (const h of hit) {
      const alone = scan(h, [name]);
      assert.equal(alone.length, 1, `${name} should find ${JSON.stringify(h)}`);
      assert.deepEqual([alone[0]!.start, alone[0]!.end], [0, h.length], `${name} span of ${JSON.stringify(h)}`);
      const text = `note: ${h}, see above`;
      const inText = scan(text, [name]);
      assert.equal(inText.length, 1, `${name} in text: ${JSON.stringify(text)}`);
      // A truncated PEM key takes what may still belong to it: the span covers the value.
      const at = text.indexOf(h);
      assert.ok(inText[0]!.start === at && inText[0]!.end >= at + h.length, `${name} span in text`);
      if (name !== 'private_key') assert.equal(inText[0]!.end, at + h.length);
      const masked = maskSpans(text, inText);
      assert.ok(!masked.includes(h), `${name}: masked text still holds the value: ${masked}`);
      // JSON and record text forms stay well-formed.
      const json = JSON.stringify({ v: h });
      const mj = maskSpans(json, scan(json, [name]));
      assert.doesNotThrow(() => JSON.parse(mj), `${name}: ${mj}`);
      assert.ok(!mj.includes(h));
    }
  });
  test(`${name}: no false positives on the near-miss corpus`, () => {
    for (const m of miss) assert.deepEqual(scan(m, [name]), [], `${name} should not match ${JSON.stringify(m)}`);
  });
}

test('every detector together: an innocuous text has no hits', () => {
  const all = Object.keys(corpus) as DetectorName[];
  const prose =
    'Order 12345 shipped on 2024-03-01 at 12:30:45 to Berlin. Version 1.2.3 of the app; call ext. 4411; ' +
    'price 19.99 EUR; SKU AB-1234-XY; id 550e8400-e29b-41d4-a716-446655440000; C++ and std::map; ratio 3:2.';
  assert.deepEqual(scan(prose, all), []);
});

test('overlapping findings are merged and redacted', () => {
  const s = 'x +4111111111111111 y';
  const spans = scan(s, ['credit_card', 'phone']);
  assert.equal(maskSpans(s, spans).includes('4111111111111111'), false);
});

test('detectors run in linear time on adversarial input (no assertion on time; must finish)', () => {
  const all = Object.keys(corpus) as DetectorName[];
  const inputs = [
    'a'.repeat(200_000) + '@',
    '@'.repeat(100_000),
    'a@'.repeat(100_000),
    '1 '.repeat(100_000),
    '1-'.repeat(100_000),
    '+1 '.repeat(100_000),
    'eyJ'.repeat(100_000),
    'eyJaaaaaaaaaaa.'.repeat(20_000),
    '1.'.repeat(100_000),
    'a:'.repeat(100_000),
    '-----BEGIN '.repeat(20_000),
    'DE89'.repeat(50_000),
    'sk-'.repeat(50_000),
  ];
  for (const s of inputs) scan(s, all);
});

test('the byte prefilter never rules out a detector that would find something', () => {
  const all = Object.keys(corpus) as DetectorName[];
  const check = (text: string) => {
    const b = Buffer.from(text, 'latin1');
    const may = mayMatch(b, 0, b.length);
    for (const d of all) {
      if (scan(text, [d]).length) assert.ok(may & detectorMask([d]), `${d} ruled out for ${JSON.stringify(text)}`);
    }
  };
  for (const d of all) for (const s of [...corpus[d].hit, ...corpus[d].miss]) for (const t of [s, `x ${s} y`, `{"k":"${s}"}`]) check(t);
  // Also inside a larger buffer: only the range counts.
  const big = Buffer.from('@@@ 4111111111111111 @@@', 'latin1');
  assert.equal(mayMatch(big, 4, 20) & detectorMask(['email']), 0);
  assert.ok(mayMatch(big, 4, 20) & detectorMask(['credit_card']));
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'0123456789 -+.:@_eyJAKSIaxDE'.split('')), maxLength: 60 }), check),
    { numRuns: 3000 },
  );
});

test('email: a value glued behind the domain does not hide the address', () => {
  for (const [text, address] of [
    ['ada.lovelace@example.com1', 'ada.lovelace@example.com'],
    ['ada.lovelace@example.com.1', 'ada.lovelace@example.com'],
    ['ada.lovelace@example.com078-05-1120', 'ada.lovelace@example.com'],
    ['x@mail.example.org-42', 'x@mail.example.org'],
  ]) {
    const spans = scan(text, ['email']);
    assert.deepEqual(spans.map((sp) => text.slice(sp.start, sp.end)), [address], text);
  }
  for (const text of ['name@123.456', 'a@b.c1', 'foo@bar.c']) assert.deepEqual(scan(text, ['email']), [], text);
});
