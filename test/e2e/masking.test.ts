/**
 * Masking end to end: node-postgres (text and binary), postgres.js and psql through a TCP
 * tap in front of jitgate, over a table of known secrets. Every result path and the usual
 * tricks (aliases, expressions, JSON, aggregates, views, CTEs, cursors, COPY, errors,
 * notices, notifications) come back masked; an exempt profile sees clear values; and no
 * known secret appears anywhere in the bytes the clients received.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import pg from 'pg';
import postgres from 'postgres';
import { startPgUpstream, type PgUpstream } from '../helpers/pg-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';

const SECRETS = {
  emails: ['ada.lovelace@example.com', 'grace.hopper@example.org', 'alan.turing@mail.example.com'],
  ssns: ['078-05-1120', '219-09-9999', '457-55-5462'],
  cards: ['4111111111111111', '5555555555554444', '378282246310005'],
  phone: '+14155552671',
  /** Matches no detector: only the `ssn` rule applied to JSON keys hides it. */
  keyOnly: 'zq-7731-kx',
};
const ALL = [...SECRETS.emails, ...SECRETS.ssns, ...SECRETS.cards, SECRETS.phone, SECRETS.keyOnly];
/** Card digits also as they would appear inside a binary int8/numeric: not asserted (not a string). */

/** Server→client bytes of every connection made through the tap. */
class Tap {
  readonly received: Buffer[] = [];
  server!: net.Server;
  port = 0;
  async start(target: number) {
    this.server = net.createServer((c) => {
      const u = net.connect(target, '127.0.0.1');
      c.pipe(u);
      u.on('data', (d: Buffer) => this.received.push(Buffer.from(d)));
      u.pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      c.on('close', () => u.destroy());
      u.on('close', () => c.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
  stop() {
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}

let up: PgUpstream;
let tp: TestProxy;
const tap = new Tap();
let client: pg.Client;

const urlVia = async (sub: string, role: string) => `postgres://${sub}:${await tp.token(sub, role)}@127.0.0.1:${tap.port}/app`;

function assertNoSecret(where: string, value: unknown) {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  for (const secret of ALL) assert.ok(!s.includes(secret), `${where}: "${secret}" leaked in ${s.slice(0, 400)}`);
}

describe('masking through jitgate', () => {
  before(async () => {
    up = await startPgUpstream();
    await up.query(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text UNIQUE, ssn text, card_number text, note text, score bigint)`);
    for (let i = 0; i < 3; i++) {
      await up.query(`INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        i + 1,
        ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'][i],
        SECRETS.emails[i],
        SECRETS.ssns[i],
        SECRETS.cards[i],
        i === 0 ? `call ${SECRETS.phone} or mail ${SECRETS.emails[1]}` : 'No notes.',
        i === 0 ? 4111111111111111 : 42,
      ]);
    }
    await up.query(`CREATE VIEW customer_contacts AS SELECT id, email AS contact FROM customers`);
    await up.query(`CREATE FUNCTION email_of(i int) RETURNS text LANGUAGE sql AS 'SELECT email FROM customers WHERE id = i'`);
    for (const r of Object.values(up.roles)) {
      await up.query(`GRANT SELECT, INSERT, UPDATE ON customers, customer_contacts TO "${r}"`);
    }
    tp = await startTestProxy(up, {
      profiles: { reader: ['app_read'], writer: ['app_write'], admin: ['app_read'] },
      extra: {
        instance: 'e2e-masking',
        masking: {
          rules: [
            { columns: ['email', '*_email'], action: 'email' },
            { columns: ['customers.ssn'], action: 'redact' },
            { columns: ['card_number'], action: 'partial' },
          ],
          detectors: ['email', 'credit_card', 'us_ssn', 'phone'],
          exempt: ['admin'],
        },
      },
    });
    await tap.start(tp.port);
    client = new pg.Client(await urlVia('alice', 'writer'));
    await client.connect();
  });

  after(async () => {
    await client?.end().catch(() => undefined);
    await tap.stop().catch(() => undefined);
    await tp?.stop();
    await up?.stop();
  });

  it('select * masks by rule: email style, redaction, last 4 digits', async () => {
    const r = await client.query('SELECT id, name, email, ssn, card_number, note FROM customers ORDER BY id');
    assert.equal(r.rows[0].email, 'a***@example.com');
    assert.equal(r.rows[0].ssn, '****');
    assert.equal(r.rows[0].card_number, '************1111');
    assert.equal(r.rows[0].name, 'Ada Lovelace', 'unmatched columns untouched');
    assert.equal(r.rows[0].note, 'call +*******2671 or mail g***@example.org');
    assertNoSecret('select *', r.rows);
  });

  const tricks: [string, string][] = [
    ['alias', 'SELECT email AS x, ssn AS y, card_number AS z FROM customers'],
    ['lower/concat', `SELECT lower(email), email || '', ssn || '', card_number || '', upper(ssn) FROM customers`],
    ['to_json', 'SELECT to_json(c) FROM customers c'],
    ['row_to_json', 'SELECT row_to_json(c) FROM customers c'],
    ['whole row', 'SELECT c FROM customers c'],
    ['string_agg', `SELECT string_agg(email, ','), string_agg(card_number, ' '), string_agg(ssn, ';') FROM customers`],
    ['array_agg', 'SELECT array_agg(email), array_agg(ssn), array_agg(card_number) FROM customers'],
    ['sub-select', 'SELECT (SELECT email FROM customers WHERE id = 1) AS e, (SELECT ssn FROM customers WHERE id = 2)'],
    ['view', 'SELECT * FROM customer_contacts'],
    ['cte', 'WITH t AS (SELECT email AS e, ssn AS s FROM customers) SELECT e, s FROM t'],
    ['format', `SELECT format('%s / %s / %s', email, ssn, card_number) FROM customers`],
    ['function', 'SELECT email_of(1), email_of(2)'],
    ['jsonb', 'SELECT jsonb_agg(c) FROM customers c'],
    ['json keys', `SELECT jsonb_build_object('ssn', '${SECRETS.keyOnly}'), json_agg(json_build_object('p', json_build_object('ssn', '${SECRETS.keyOnly}'))) FROM customers`],
  ];
  for (const [name, sql] of tricks) {
    it(`trick: ${name} (text and binary)`, async () => {
      const t = await client.query(sql);
      assertNoSecret(`${name} text`, t.rows);
      const b = await client.query({ text: sql, binary: true } as pg.QueryConfig);
      assertNoSecret(`${name} binary`, b.rows.map((row) => Object.values(row).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))));
    });
  }

  it('binary format: text columns are re-encoded masked; a card stored as bigint becomes NULL', async () => {
    const r = await client.query({ text: 'SELECT email, score FROM customers WHERE id = 1', binary: true } as pg.QueryConfig);
    assert.equal(r.rows[0].email, 'a***@example.com');
    assert.equal(r.rows[0].score, null);
    const t = await client.query('SELECT score FROM customers WHERE id = 1');
    assert.equal(t.rows[0].score, null, 'text format too: a number cannot hold a mask');
  });

  it('a named statement executed many times stays masked', async () => {
    for (let i = 1; i <= 3; i++) {
      const r = await client.query({ name: 'by_id', text: 'SELECT email, ssn FROM customers WHERE id = $1', values: [i] });
      assert.match(r.rows[0].email, /^.\*\*\*@/);
      assert.equal(r.rows[0].ssn, '****');
    }
  });

  it('RETURNING and cursors (FETCH)', async () => {
    const r = await client.query('UPDATE customers SET name = name WHERE id = 1 RETURNING email, ssn, card_number');
    assertNoSecret('returning', r.rows);
    await client.query('BEGIN');
    await client.query('DECLARE cur CURSOR FOR SELECT * FROM customers ORDER BY id');
    const f1 = await client.query('FETCH 1 FROM cur');
    const f2 = await client.query('FETCH ALL FROM cur');
    await client.query('COMMIT');
    assert.equal(f1.rows[0].email, 'a***@example.com');
    assertNoSecret('fetch', [f1.rows, f2.rows]);
  });

  it('a unique violation does not show the key value; notices and notifications are masked', async () => {
    const err = await client.query(`INSERT INTO customers (id, email) VALUES (99, $1)`, [SECRETS.emails[0]]).catch((e) => e);
    assert.equal(err.code, '23505');
    assert.equal(err.detail, 'Key (email)=(****) already exists.');
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(`${n.message} ${n.detail ?? ''}`));
    await client.query(`DO $$ BEGIN RAISE NOTICE 'found %', (SELECT email FROM customers WHERE id = 1) USING DETAIL = (SELECT ssn FROM customers WHERE id = 1); END $$`);
    assert.equal(notices.length, 1);
    assertNoSecret('notice', notices);
    assert.match(notices[0]!, /a\*\*\*@example\.com/);
    const got = new Promise<string>((r) => client.once('notification', (n) => r(n.payload ?? '')));
    await client.query('LISTEN chan');
    await client.query(`SELECT pg_notify('chan', email || ' ' || card_number) FROM customers WHERE id = 1`);
    const payload = await got;
    assertNoSecret('notification', payload);
    assert.match(payload, /a\*\*\*@example\.com/);
    const raised = await client.query(`DO $$ BEGIN RAISE EXCEPTION 'bad %', (SELECT card_number FROM customers WHERE id = 2); END $$`).catch((e) => e);
    assertNoSecret('exception', raised.message);
    await client.query('SELECT 1'); // session still usable
  });

  it('postgres.js: prepared statements, binary-capable types, portals with row limits (PortalSuspended)', async () => {
    const sql = postgres(await urlVia('bob', 'reader'), { max: 1, prepare: true });
    try {
      const a = await sql`SELECT email, ssn, card_number, to_json(c) AS j FROM customers c ORDER BY id`;
      const b = await sql`SELECT email, ssn, card_number, to_json(c) AS j FROM customers c ORDER BY id`;
      assertNoSecret('postgres.js', [a, b]);
      assert.equal(a[0]!.email, 'a***@example.com');
      const seen: unknown[] = [];
      await sql`SELECT * FROM customers ORDER BY id`.cursor(1, (rows) => {
        seen.push(...rows);
      });
      assert.equal(seen.length, 3);
      assertNoSecret('cursor', seen);
      const raw = await sql`SELECT email, card_number FROM customers ORDER BY id`.raw();
      assertNoSecret('raw', raw.map((r) => r.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v))));
    } finally {
      await sql.end();
    }
  });

  it('psql: COPY text and csv are masked; binary COPY and COPY (query) are refused', async () => {
    const token = await tp.token('carol', 'reader');
    // Asynchronous: the proxy runs in this process.
    const psql = (cmd: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const p = spawn('psql', ['-X', '-c', cmd, `host=127.0.0.1 port=${tap.port} dbname=app user=carol sslmode=disable`], {
          env: { ...process.env, PGPASSWORD: token },
        });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d) => (stdout += d));
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const text = await psql('COPY customers TO STDOUT');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /a\*\*\*@example\.com\t\*\*\*\*\t\*{12}1111/);
    assertNoSecret('copy text', text.stdout);
    const csv = await psql('COPY customers (id, email, note) TO STDOUT WITH (FORMAT csv, HEADER true)');
    assert.equal(csv.status, 0, csv.stderr);
    assert.match(csv.stdout, /^id,email,note\n/);
    assertNoSecret('copy csv', csv.stdout);
    const bin = await psql('COPY customers TO STDOUT (FORMAT binary)');
    assert.match(bin.stderr, /binary COPY cannot be masked/);
    const q = await psql('COPY (SELECT email FROM customers) TO STDOUT');
    assert.match(q.stderr, /cannot be masked/);
    const sel = await psql('SELECT email, ssn FROM customers');
    assertNoSecret('psql select', sel.stdout);
    assert.match(sel.stdout, /a\*\*\*@example\.com/);
  });

  it('an exempt profile sees clear values, and the exemption is audited', async () => {
    const c = new pg.Client(await tp.url('root', 'admin'));
    await c.connect();
    try {
      const r = await c.query('SELECT email, ssn, card_number FROM customers WHERE id = 1');
      assert.deepEqual(r.rows[0], { email: SECRETS.emails[0], ssn: SECRETS.ssns[0], card_number: SECRETS.cards[0] });
    } finally {
      await c.end();
    }
    assert.ok(tp.logs().some((l) => l.event === 'mask.exempt' && l.sub === 'root'));
  });

  it('mask-hit audit events name rules and detectors and never a value', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const hits = tp.logs().filter((l) => l.event === 'mask.hit');
    assert.ok(hits.length > 0);
    assert.ok(hits.some((h) => (h.hits as Record<string, number>).rule1 > 0));
    assert.ok(hits.some((h) => (h.hits as Record<string, number>).credit_card > 0));
    assertNoSecret('audit', hits);
  });

  it('leak test: no known secret anywhere in the bytes clients received', () => {
    const bytes = tap.bytes();
    assert.ok(bytes.length > 10_000, 'the tap saw the traffic');
    const s = bytes.toString('latin1');
    for (const secret of ALL) assert.ok(!s.includes(secret), `"${secret}" reached a client`);
  });
});
