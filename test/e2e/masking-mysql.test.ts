/**
 * MySQL masking leak tests: mysql2 (`query` = text protocol, `execute` = binary protocol) and
 * the mariadb CLI through a TCP tap in front of jitgate's MySQL listener, over MariaDB tables
 * of known secrets. Every trick (aliases, expressions, JSON functions, aggregates, views, CTEs,
 * unions, procedures, multi-statements, prepared statements, errors, warnings, variables, rows
 * past 16 MB) comes back masked, and no known secret, in any encoding, is in the bytes the
 * clients received; an exempt profile sees clear values.
 *
 * Two more groups run through a second tap: documented limits (encodings, and values of a
 * kind no detector knows reached through expressions — their tests assert what happens), and
 * the bypasses found, each a `todo` test asserting what should happen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fc from 'fast-check';
import mysql from 'mysql2/promise';
import { startMysqlUpstream, type MysqlUpstream } from '../helpers/mysql-upstream.js';
import { startTestProxy, type TestProxy } from '../helpers/proxy.js';
import { TcpTap } from '../helpers/tcp-tap.js';
import { quoteMysqlName as qn } from '../../src/provision/mysql.js';

const run = promisify(execFile);

const EMAILS = ['ada.lovelace@example.com', 'grace.hopper@example.org', 'alan.turing@mail.example.com'];
const SSNS = ['078-05-1120', '219-09-9999', '457-55-5462'];
const CARDS = ['4111111111111111', '5555555555554444', '378282246310005'];
/** Card numbers in free text. */
const SPACED_CARDS = ['4111 1111 1111 1111', '5555 5555 5555 4444'];
/** Match no detector: only the `codes` rule (on `app_*.accounts.code`) hides them. */
const CODES = ['zq-7731-kx', 'vb-2209-qr', 'mt-5518-pw'];
const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'];
/** Detected kinds (plus the helper's `customers` emails, read in `before`). */
const DETECTED = [...EMAILS, ...SSNS, ...CARDS, ...SPACED_CARDS];
const ALL = [...DETECTED, ...CODES];

const MASKING = {
  rules: [
    { name: 'emails', columns: ['email', '*_email'], action: 'email' },
    { name: 'ssns', columns: ['ssn'], action: 'redact' },
    { name: 'cards', columns: ['card_number'], action: 'partial' },
    { name: 'codes', columns: ['app_*.accounts.code'], action: 'redact' },
    { name: 'hashes', columns: ['*.props.h'], action: 'hash' },
  ],
  detectors: ['email', 'credit_card', 'us_ssn'],
  exempt: ['admin'],
};

type Row = Record<string, unknown>;

/** The forms a secret can take on the wire: UTF-8 and the UTF-16/UTF-32 a client may ask for. */
function wireForms(s: string): [string, Buffer][] {
  const le16 = Buffer.from(s, 'utf16le');
  const cps = Array.from(s, (ch) => ch.codePointAt(0)!);
  const be32 = Buffer.alloc(cps.length * 4);
  const le32 = Buffer.alloc(cps.length * 4);
  cps.forEach((cp, i) => {
    be32.writeUInt32BE(cp, i * 4);
    le32.writeUInt32LE(cp, i * 4);
  });
  return [['utf8', Buffer.from(s, 'utf8')], ['utf16le', le16], ['utf16be', Buffer.from(le16).swap16()], ['utf32be', be32], ['utf32le', le32]];
}

/** Secrets found in `bytes`, with the encoding they were in. */
function leaks(bytes: Buffer, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const s of secrets) for (const [form, b] of wireForms(s)) if (bytes.includes(b)) found.push(`${s} (${form})`);
  return found;
}

/** A result as text, Buffers read as latin1 (a Buffer's JSON would hide a secret's letters). */
function flat(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data) ? Buffer.from(v.data).toString('latin1') : v));
}

function assertNoSecret(where: string, value: unknown, secrets: readonly string[] = ALL): void {
  const s = flat(value);
  for (const secret of secrets) assert.ok(!s.includes(secret), `${where}: "${secret}" reached the client in ${s.slice(0, 400)}`);
}

function assertNoLeak(where: string, bytes: Buffer, secrets: readonly string[] = ALL): void {
  assert.deepEqual(leaks(bytes, secrets), [], `${where}: secrets in the bytes the client received`);
}

describe('MySQL masking through jitgate (leak tests)', () => {
  let up: MysqlUpstream;
  let tp: TestProxy;
  /** Everything a masked client receives here must be clean. */
  let tap: TcpTap;
  /** Documented limits and found bypasses: clear values are expected in these bytes. */
  let limitTap: TcpTap;
  let reader: mysql.Connection;
  let writer: mysql.Connection;
  let multi: mysql.Connection;
  let helperEmails: string[] = [];

  const connect = async (sub: string, role = 'reader', opts: Partial<mysql.ConnectionOptions> = {}, via: { port: number } = tap) =>
    mysql.createConnection({ host: '127.0.0.1', port: via.port, user: sub, password: await tp.token(sub, role), database: 'shop', ...opts });

  /** Runs `sql` with `query` (text protocol) and `execute` (binary protocol) on `conn`; checks both and the tapped bytes. */
  const both = async (where: string, conn: mysql.Connection, sql: string, params: (string | number)[] = [], via = tap) => {
    const m = via.mark();
    const [text] = await conn.query(sql, params);
    const [binary] = await conn.execute(sql, params);
    const secrets = [...ALL, ...helperEmails];
    assertNoSecret(`${where} (query)`, text, secrets);
    assertNoSecret(`${where} (execute)`, binary, secrets);
    assertNoLeak(where, via.since(m), secrets);
    return { text: text as Row[], binary: binary as Row[] };
  };

  before(async () => {
    up = await startMysqlUpstream();
    const db = qn(up.database);
    await up.query(
      `CREATE TABLE ${db}.accounts (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) UNIQUE, ssn VARCHAR(20) UNIQUE, ` +
        `card_number VARCHAR(30), score BIGINT, code VARCHAR(20) UNIQUE, note TEXT) DEFAULT CHARSET = utf8mb4`,
    );
    for (let i = 0; i < 3; i++) {
      await up.query(`INSERT INTO ${db}.accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
        i + 1,
        NAMES[i],
        EMAILS[i],
        SSNS[i],
        CARDS[i],
        i < 2 ? CARDS[i] : '42',
        CODES[i],
        i < 2 ? `mail ${EMAILS[(i + 1) % 3]} or pay with ${SPACED_CARDS[i]}` : 'No notes.',
      ]);
    }
    await up.query(`CREATE TABLE ${db}.ledger (id INT PRIMARY KEY, balance DOUBLE)`);
    await up.query(`INSERT INTO ${db}.ledger VALUES (1, ${CARDS[0]})`);
    await up.query(`CREATE VIEW ${db}.account_contacts AS SELECT id, email AS contact, ssn AS tax_id, card_number AS pan FROM ${db}.accounts`);
    await up.query(`CREATE VIEW ${db}.account_codes AS SELECT id, code FROM ${db}.accounts`);
    await up.query(
      `CREATE PROCEDURE ${db}.account_report() BEGIN ` +
        `SELECT id, email, ssn, card_number, code FROM ${db}.accounts ORDER BY id; ` +
        `SELECT concat(name, ' <', email, '>') AS who, code AS ref, note FROM ${db}.accounts ORDER BY id; END`,
    );
    await up.query(`CREATE TABLE ${db}.props (id INT PRIMARY KEY, ssn VARCHAR(300), email VARCHAR(300), card_number VARCHAR(300), h VARCHAR(300)) DEFAULT CHARSET = utf8mb4`);
    for (const r of Object.values(up.roles)) await up.query(`GRANT EXECUTE ON PROCEDURE ${db}.account_report TO ${qn(r)}`);
    helperEmails = (await up.query<{ email: string }>(`SELECT email FROM ${db}.customers`)).map((r) => r.email);
    assert.equal(helperEmails.length, 3);

    tp = await startTestProxy(up, {
      targetName: 'shop',
      profiles: { reader: ['app_read'], writer: ['app_write'], admin: ['app_read'] },
      extra: { instance: 'e2e-masking-mysql', listen: { mysql: '127.0.0.1:0' }, masking: MASKING },
    });
    tap = await TcpTap.start(tp.proxy.addresses.mysql!.port);
    limitTap = await TcpTap.start(tp.proxy.addresses.mysql!.port);
    reader = await connect('alice', 'reader');
    writer = await connect('walt', 'writer');
    multi = await connect('mona', 'reader', { multipleStatements: true });
  });

  after(async () => {
    for (const c of [reader, writer, multi]) await c?.end().catch(() => undefined);
    await tap?.stop();
    await limitTap?.stop();
    await tp?.stop();
    await up?.stop();
  });

  it('select *: rules by column (email style, redaction, last 4, a schema.table.column glob), detectors in free text', async () => {
    const { text, binary } = await both('select *', reader, 'SELECT id, name, email, ssn, card_number, code, note FROM accounts ORDER BY id');
    assert.deepEqual(text[0], {
      id: 1,
      name: 'Ada Lovelace',
      email: 'a***@example.com',
      ssn: '****',
      card_number: '************1111',
      code: '****',
      note: 'mail g***@example.org or pay with **** **** **** 1111',
    });
    assert.deepEqual(binary, text, 'the binary protocol returns the same masked rows');
    assert.equal(text[2]!.email, 'a***@mail.example.com');
    assert.equal(text[2]!.note, 'No notes.', 'a value with nothing to mask is untouched');
  });

  it('alias: a rule follows the source column (orgName, orgTable, schema) whatever the output name', async () => {
    const { text, binary } = await both(
      'alias',
      reader,
      'SELECT a.email AS x, a.ssn AS y, a.card_number AS z, a.code AS `email_but_not`, b.code AS c2 FROM accounts a JOIN accounts b ON b.id = a.id WHERE a.id = ?',
      [1],
    );
    assert.deepEqual(text, [{ x: 'a***@example.com', y: '****', z: '************1111', email_but_not: '****', c2: '****' }]);
    assert.deepEqual(binary, text);
  });

  const tricks: [string, string][] = [
    ['lower/upper', 'SELECT lower(email), upper(email), lower(ssn), upper(card_number) FROM accounts'],
    ['concat/concat_ws', `SELECT concat(email, ''), concat('<', ssn, '>'), concat_ws(' | ', name, email, ssn, card_number) FROM accounts`],
    ['substring', 'SELECT substring(email, 1), substring(ssn FROM 1 FOR 11), substr(card_number, 1, 16), mid(note, 1, 200), left(email, 100) FROM accounts'],
    ['json_object', `SELECT json_object('contact', email, 'tax', ssn, 'pan', card_number, 'who', name) AS j FROM accounts`],
    ['json_arrayagg', 'SELECT json_arrayagg(email), json_arrayagg(ssn), json_arrayagg(card_number) FROM accounts'],
    ['json_objectagg', 'SELECT json_objectagg(name, email), json_objectagg(id, ssn), json_objectagg(card_number, name) FROM accounts'],
    ['json_value/json_extract', `SELECT json_value(json_object('a', email), '$.a'), json_extract(json_array(ssn, card_number), '$[0]', '$[1]') FROM accounts`],
    ['group_concat', `SELECT group_concat(email), group_concat(ssn SEPARATOR ';'), group_concat(card_number ORDER BY id SEPARATOR ' ') FROM accounts`],
    ['sub-select', 'SELECT (SELECT email FROM accounts WHERE id = 1) AS e, (SELECT ssn FROM accounts WHERE id = 2) AS s, (SELECT card_number FROM accounts WHERE id = 3) AS c'],
    ['derived table', 'SELECT d.* FROM (SELECT email AS e, ssn AS s, card_number AS c FROM accounts) d'],
    ['view', 'SELECT * FROM account_contacts'],
    ['cte', 'WITH t AS (SELECT email AS e, ssn AS s, card_number AS c FROM accounts) SELECT e, s, c FROM t'],
    ['recursive cte', 'WITH RECURSIVE t (n, v) AS (SELECT 1, email FROM accounts WHERE id = 1 UNION ALL SELECT n + 1, ssn FROM t JOIN accounts a ON a.id = n + 1) SELECT v FROM t'],
    ['union', 'SELECT name FROM accounts UNION ALL SELECT email FROM accounts UNION ALL SELECT ssn FROM accounts UNION ALL SELECT card_number FROM accounts'],
    ['case/if/coalesce', 'SELECT coalesce(NULL, email), if(id > 0, ssn, NULL), CASE WHEN id > 0 THEN card_number END FROM accounts'],
    ['window functions', 'SELECT first_value(email) OVER (ORDER BY id), lag(ssn) OVER (ORDER BY id), max(card_number) OVER () FROM accounts'],
    ['cast/convert', 'SELECT cast(email AS CHAR), convert(ssn USING utf8mb4), cast(card_number AS BINARY), cast(note AS CHAR(200)) FROM accounts'],
    ['aggregates', 'SELECT min(email), max(ssn), min(card_number) FROM accounts GROUP BY id'],
    ['the helper table', `SELECT c.*, concat(c.email, ' ', c.ssn) AS both_ FROM customers c`],
    ['procedure analyse', 'SELECT email, ssn, card_number FROM accounts PROCEDURE ANALYSE()'],
  ];
  for (const [name, sql] of tricks) {
    it(`trick: ${name} (query and execute)`, async () => {
      const { text, binary } = await both(name, reader, sql);
      assert.ok(text.length > 0 && binary.length === text.length, 'rows came back in both protocols');
    });
  }

  it('a stored procedure (CALL: several result sets, then OK) is masked in both protocols', async () => {
    const { text, binary } = (await both('call', reader, 'CALL account_report()')) as unknown as { text: [Row[], Row[], unknown]; binary: [Row[], Row[], unknown] };
    for (const r of [text, binary]) {
      assert.equal(r.length, 3);
      assert.deepEqual(r[0][0], { id: 1, email: 'a***@example.com', ssn: '****', card_number: '************1111', code: '****' });
      assert.equal(r[1][0]!.who, 'Ada Lovelace <a***@example.com>');
      assert.equal(r[1][0]!.ref, '****', 'a rule on the source column also applies inside a procedure');
    }
  });

  it('multi-statements: every result set of a batch is masked, around OKs', async () => {
    const m = tap.mark();
    const [results] = (await multi.query(
      `SET @a = 1; SELECT email FROM accounts ORDER BY id; SELECT ssn, code FROM accounts ORDER BY id; DO 1; SELECT concat(card_number, '') AS c, note FROM accounts ORDER BY id`,
    )) as unknown as [unknown[]];
    assert.equal(results.length, 5);
    assert.deepEqual(results[1], [{ email: 'a***@example.com' }, { email: 'g***@example.org' }, { email: 'a***@mail.example.com' }]);
    assert.deepEqual((results[2] as Row[])[1], { ssn: '****', code: '****' });
    assertNoSecret('multi', results);
    assertNoLeak('multi', tap.since(m));
  });

  it('SQL-level PREPARE/EXECUTE and HANDLER … READ are masked', async () => {
    const m = tap.mark();
    await multi.query(`PREPARE s FROM 'SELECT email, ssn, card_number, code FROM accounts WHERE id = ?'`);
    const [rows] = await multi.query<mysql.RowDataPacket[]>('SET @id = 2; EXECUTE s USING @id');
    assert.deepEqual((rows as unknown as Row[][])[1], [{ email: 'g***@example.org', ssn: '****', card_number: '************4444', code: '****' }]);
    await multi.query('DEALLOCATE PREPARE s');
    const [handled] = await multi.query('HANDLER accounts OPEN; HANDLER accounts READ `PRIMARY` FIRST; HANDLER accounts READ `PRIMARY` NEXT; HANDLER accounts CLOSE');
    assertNoSecret('handler', handled);
    assert.equal(((handled as unknown as Row[][])[1]![0] as Row).email, 'a***@example.com');
    assertNoLeak('prepare/handler', tap.since(m));
  });

  it('prepared statements (execute): a VARCHAR rule executed many times; numbers holding a detected value; rules on numbers', async () => {
    const m = tap.mark();
    for (let id = 1; id <= 3; id++) {
      const [rows] = await reader.execute<mysql.RowDataPacket[]>('SELECT email, ssn, card_number, code, note FROM accounts WHERE id = ?', [id]);
      assert.equal(rows[0]!.ssn, '****');
      assert.equal(rows[0]!.code, '****');
      assert.match(rows[0]!.email, /^.\*\*\*@/);
    }
    // A card number held in a BIGINT: a number cannot hold a mask, so it is NULL (text protocol).
    const [text] = await reader.query<mysql.RowDataPacket[]>('SELECT score FROM accounts WHERE id = 1');
    assert.equal(text[0]!.score, null);
    // A rule on a numeric column: its masked text in the text protocol (read as a string here),
    // NULL in the binary protocol (an 8-byte integer cannot hold a mask).
    const sql = 'SELECT score AS card_number FROM accounts WHERE id = ?';
    const [named] = await reader.query<mysql.RowDataPacket[]>({ sql, supportBigNumbers: true, bigNumberStrings: true }, [1]);
    const [namedBinary] = await reader.execute<mysql.RowDataPacket[]>(sql, [1]);
    assert.equal(named[0]!.card_number, '************1111');
    assert.equal(namedBinary[0]!.card_number, null);
    assertNoLeak('prepared', tap.since(m));
  });

  it('a duplicate-key error does not quote a detected value (ERR_Packet, both protocols)', async () => {
    const m = tap.mark();
    for (const [col, value] of [['email', EMAILS[0]], ['ssn', SSNS[1]], ['card_number', CARDS[2]]] as const) {
      if (col === 'card_number') {
        await up.query(`CREATE UNIQUE INDEX card_u ON ${qn(up.database)}.accounts (card_number)`);
      }
      const sql = `INSERT INTO accounts (id, name, ${col}) VALUES (90, 'dup', ?)`;
      for (const run of [() => writer.query(sql, [value]), () => writer.execute(sql, [value])]) {
        const err = (await run().catch((e) => e)) as { errno?: number; message: string };
        assert.equal(err.errno, 1062, err.message);
        assert.match(err.message, /^Duplicate entry '.*\*.*' for key/);
        assertNoSecret('duplicate entry', err.message);
      }
    }
    await up.query(`DROP INDEX card_u ON ${qn(up.database)}.accounts`);
    assertNoLeak('duplicate entry', tap.since(m));
    const [[one]] = await writer.query<mysql.RowDataPacket[]>('SELECT 1 AS one');
    assert.equal(one!.one, 1, 'the session goes on');
  });

  it('errors and warnings that quote values: SHOW WARNINGS after a truncation, a bad SET, EXPLAIN EXTENDED', async () => {
    const m = tap.mark();
    const [cut] = await reader.query<mysql.RowDataPacket[]>('SELECT cast(email AS CHAR(3)) AS e, cast(ssn AS CHAR(3)) AS s, cast(card_number AS CHAR(4)) AS c FROM accounts WHERE id = 1');
    assert.deepEqual(cut[0], { e: 'ada', s: '078', c: '4111' });
    const [warnings] = await reader.query<mysql.RowDataPacket[]>('SHOW WARNINGS');
    assert.equal(warnings.length, 3);
    for (const w of warnings) assert.match(w.Message, /^Truncated incorrect CHAR\(\d\) value: '.*\*.*'$/);
    await reader.query('SELECT ssn + 0, card_number + email FROM accounts');
    const [more] = await reader.query<mysql.RowDataPacket[]>('SHOW WARNINGS');
    assert.ok(more.length >= 3);
    const err = (await reader.query('SET time_zone = (SELECT ssn FROM accounts WHERE id = 1)').catch((e) => e)) as Error;
    assert.match(err.message, /^Unknown or incorrect time zone: '\*\*\*-\*\*-1120'$/);
    const [[, notes]] = (await multi.query(
      'EXPLAIN EXTENDED SELECT a.email, a.ssn, a.card_number, a.note FROM accounts a JOIN accounts b ON b.email = a.email WHERE a.id = 1; SHOW WARNINGS',
    )) as unknown as [[unknown, Row[]]];
    assert.match(String(notes[0]!.Message), /'\*\*\*-\*\*-1120' AS `ssn`/, 'constant-table values the optimizer prints are masked');
    assertNoSecret('warnings', [warnings, more, notes]);
    assertNoLeak('warnings', tap.since(m));
  });

  it('SELECT … INTO @var, then SELECT @var: detectors mask what the variable holds', async () => {
    const m = tap.mark();
    await reader.query('SELECT email, ssn, card_number INTO @e, @s, @c FROM accounts WHERE id = 1');
    const { text } = await both('variables', reader, 'SELECT @e AS e, @s AS s, @c AS c');
    assert.deepEqual(text, [{ e: 'a***@example.com', s: '***-**-1120', c: '************1111' }]);
    assertNoLeak('variables', tap.since(m));
  });

  it('a row larger than one packet (≥ 16 MB, split with the secret across the boundary) is masked', async () => {
    // One column of 16777215 bytes (max_allowed_packet is 16 MB): the first packet of the row ends
    // 16777211 bytes into the value in a text row (after 0xfd and a 3-byte length), 16777209 in a
    // binary row (header and NULL bitmap first); the email sits at 16777191-16777214, across both.
    const pad = 16777190;
    const sql = `SELECT concat(repeat('x', ${pad}), ' ', email) AS big FROM accounts WHERE id = 2`;
    const m = tap.mark();
    const [text] = await reader.query<mysql.RowDataPacket[]>(sql);
    const [binary] = await reader.execute<mysql.RowDataPacket[]>(sql);
    for (const rows of [text, binary]) {
      const big = String(rows[0]!.big);
      assert.equal(big.length, pad + 17);
      assert.equal(big.slice(pad), ' g***@example.org');
    }
    assertNoLeak('16 MB row', tap.since(m));
  });

  it('compression asked for, and TLS: the rows a client decodes are masked', async () => {
    for (const opts of [{ compress: true }, { ssl: { rejectUnauthorized: false } }]) {
      const c = await connect('tess', 'reader', opts);
      try {
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT email, ssn, card_number, code, note FROM accounts ORDER BY id');
        const [binary] = await c.execute<mysql.RowDataPacket[]>('SELECT email, ssn, card_number, code, note FROM accounts WHERE id > ? ORDER BY id', [0]);
        assert.equal(rows[0]!.email, 'a***@example.com');
        assert.deepEqual(binary, rows);
        assertNoSecret(JSON.stringify(opts), rows);
      } finally {
        await c.end();
      }
    }
  });

  it('the mariadb CLI (plain connection, RSA key exchange) gets masked tables, procedures and batches', async () => {
    const token = await tp.token('carl', 'reader');
    const m = tap.mark();
    const { stdout } = await run(
      'mariadb',
      ['-h', '127.0.0.1', '-P', String(tap.port), '-u', 'carl', `-p${token}`, '--skip-ssl', 'shop', '-B', '-e',
        'SELECT * FROM accounts ORDER BY id; CALL account_report(); SELECT json_arrayagg(json_object(\'e\', email, \'s\', ssn)) FROM accounts'],
      { timeout: 20_000 },
    ).catch((e) => {
      throw new Error(`mariadb CLI failed: ${e.stderr ?? e.message}`);
    });
    assert.match(stdout, /^1\tAda Lovelace\ta\*\*\*@example\.com\t\*\*\*\*\t\*{12}1111\tNULL\t/m);
    assertNoSecret('mariadb CLI', stdout);
    assertNoLeak('mariadb CLI', tap.since(m));
  });

  it('property: random values in rule-covered columns never come back containing the clear value', async () => {
    const db = qn(up.database);
    const value = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(value, value, value, value), { minLength: 1, maxLength: 4 }), async (rows) => {
        runs++;
        await up.query(`DELETE FROM ${db}.props`);
        await up.query(`INSERT INTO ${db}.props (id, ssn, email, card_number, h) VALUES ?`, [rows.map((r, i) => [i + 1, ...r])]);
        const m = tap.mark();
        const sql = 'SELECT ssn, email AS e, card_number, h AS hh, p.ssn AS again FROM props p WHERE id > ? ORDER BY id';
        const [text] = await reader.query<mysql.RowDataPacket[]>(sql, [0]);
        const [binary] = await reader.execute<mysql.RowDataPacket[]>(sql, [0]);
        const bytes = tap.since(m);
        assert.equal(text.length, rows.length);
        for (const got of [text, binary]) {
          got.forEach((r, i) => {
            const clear = rows[i]!;
            const masked = [r.ssn, r.e, r.card_number, r.hh, r.again].map((v) => (v === null ? '' : String(v)));
            [clear[0], clear[1], clear[2], clear[3], clear[0]].forEach((c, k) => {
              assert.ok(!masked[k]!.includes(c), `column ${k}: ${JSON.stringify(c)} came back as ${JSON.stringify(masked[k])}`);
            });
          });
        }
        // In the bytes too, for values unlikely to be part of the protocol's own bytes.
        for (const c of rows.flat()) {
          const b = Buffer.from(c, 'utf8');
          if (b.length >= 8 && new Set(c).size >= 4) assert.ok(!bytes.includes(b), `${JSON.stringify(c)} in the bytes`);
        }
      }),
      { numRuns: 60, seed: 7 },
    );
    assert.equal(runs, 60);
  });

  it('an exempt profile sees clear values (direct, not through the tap), and the exemption is audited', async () => {
    const c = await connect('root-ops', 'admin', {}, { port: tp.proxy.addresses.mysql!.port });
    try {
      const sql = 'SELECT email, ssn, card_number, code, score FROM accounts WHERE id = ?';
      const [text] = await c.query<mysql.RowDataPacket[]>(sql, [1]);
      const [binary] = await c.execute<mysql.RowDataPacket[]>(sql, [1]);
      assert.deepEqual(text[0], { email: EMAILS[0], ssn: SSNS[0], card_number: CARDS[0], code: CODES[0], score: Number(CARDS[0]) });
      assert.deepEqual(binary[0], text[0]);
    } finally {
      await c.end();
    }
    assert.ok(tp.logs().some((l) => l.event === 'mask.exempt' && l.sub === 'root-ops'));
  });

  it('mask-hit audit events name rules and detectors, never a value', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const hits = tp.logs().filter((l) => l.event === 'mask.hit');
    const names = new Set(hits.flatMap((h) => Object.keys(h.hits as Record<string, number>)));
    for (const n of ['emails', 'ssns', 'cards', 'codes', 'email', 'credit_card', 'us_ssn']) assert.ok(names.has(n), `no mask.hit for ${n}`);
    assertNoSecret('audit', hits, [...ALL, ...helperEmails]);
  });

  it('leak test: no known secret, in any encoding, anywhere in the bytes masked clients received', () => {
    const bytes = tap.bytes();
    assert.ok(bytes.length > 0xffffff * 2, 'the tap saw the traffic');
    assertNoLeak('all traffic', bytes, [...ALL, ...helperEmails]);
  });

  describe('documented limits (asserting what happens)', () => {
    let lc: mysql.Connection;
    before(async () => {
      lc = await connect('lima', 'reader', { multipleStatements: true }, limitTap);
    });
    after(async () => {
      await lc?.end().catch(() => undefined);
    });

    it('encodings: HEX, TO_BASE64, REVERSE and a DOUBLE pass re-encoded (detectors cannot see them); the clear text never does', async () => {
      const sql = 'SELECT email, hex(email) AS he, to_base64(ssn) AS bs, reverse(ssn) AS rs, hex(card_number) AS hc, balance FROM accounts JOIN ledger USING (id) WHERE id = ?';
      const m = limitTap.mark();
      const [text] = await lc.query<mysql.RowDataPacket[]>(sql, [1]);
      const [binary] = await lc.execute<mysql.RowDataPacket[]>(sql, [1]);
      for (const r of [text[0]!, binary[0]!]) {
        assert.equal(r.email, 'a***@example.com', 'the column itself, selected directly, is masked');
        assert.equal(Buffer.from(r.he, 'hex').toString(), EMAILS[0]);
        assert.equal(Buffer.from(r.bs, 'base64').toString(), SSNS[0]);
        assert.equal(r.rs, [...SSNS[0]!].reverse().join(''));
        assert.equal(Buffer.from(r.hc, 'hex').toString(), CARDS[0]);
        assert.equal(r.balance, Number(CARDS[0]), "a card in a DOUBLE is sent as '4.111111111111111e15'");
      }
      assertNoLeak('encodings', limitTap.since(m), DETECTED);
    });

    it('a rule-only value (no detector knows its kind) reached through an expression, a view, a union, a variable or a message has no source column: it passes', async () => {
      const m = limitTap.mark();
      const [[expr]] = await lc.query<mysql.RowDataPacket[]>(`SELECT lower(code) AS l, concat(code, '') AS c, substring(code, 1) AS s, (SELECT code FROM accounts WHERE id = 1) AS q FROM accounts WHERE id = 1`);
      assert.deepEqual(expr, { l: CODES[0], c: CODES[0], s: CODES[0], q: CODES[0] });
      // A view reports itself as the source (app_….account_codes.code): the rule names app_*.accounts.code.
      const [view] = await lc.query<mysql.RowDataPacket[]>('SELECT code FROM account_codes ORDER BY id');
      assert.deepEqual(view.map((r) => r.code), CODES);
      // A union reports the column without its table.
      const [union] = await lc.query<mysql.RowDataPacket[]>('SELECT code FROM accounts WHERE id = 1 UNION SELECT code FROM accounts WHERE id = 2');
      assert.deepEqual(union.map((r) => r.code).sort(), CODES.slice(0, 2).sort());
      const [[, variable]] = (await lc.query('SELECT code INTO @k FROM accounts WHERE id = 3; SELECT @k AS k')) as unknown as [[unknown, Row[]]];
      assert.deepEqual(variable, [{ k: CODES[2] }]);
      const [[, warnings]] = (await lc.query('SELECT code + 0 FROM accounts WHERE id = 1; SHOW WARNINGS')) as unknown as [[unknown, Row[]]];
      assert.equal(warnings[0]!.Message, `Truncated incorrect DOUBLE value: '${CODES[0]}'`);
      const err = (await lc.query('SET time_zone = (SELECT code FROM accounts WHERE id = 2)').catch((e) => e)) as Error;
      assert.equal(err.message, `Unknown or incorrect time zone: '${CODES[1]}'`);
      // Detected kinds through the same paths stay masked.
      const [[det]] = await lc.query<mysql.RowDataPacket[]>(`SELECT lower(email) AS l, (SELECT tax_id FROM account_contacts WHERE id = 1) AS q FROM accounts WHERE id = 1`);
      assert.deepEqual(det, { l: 'a***@example.com', q: '***-**-1120' });
      assertNoLeak('rule-only limits', limitTap.since(m), DETECTED);
    });
  });

  describe('bypasses found by this suite: fixed ones assert the fix, open ones (todo) what should happen', () => {
    let bc: mysql.Connection;
    before(async () => {
      bc = await connect('bypass', 'writer', { multipleStatements: true }, limitTap);
    });
    after(async () => {
      await bc?.end().catch(() => undefined);
    });

    it('SET character_set_results = utf16le/utf16/utf32/ucs2 (or NULL and CONVERT … USING utf16le): rows fail closed (1105), error messages are withheld', async () => {
      // Fixed: UTF-16/32 text cannot be read by rules or detectors, so such results end with an error.
      const found: string[] = [];
      const refused = (e: { errno?: number }) => e.errno === 1105;
      try {
        for (const cs of ['utf16le', 'utf16', 'utf32', 'ucs2']) {
          await bc.query(`SET character_set_results = ${cs}`);
          const m = limitTap.mark();
          await assert.rejects(bc.query('SELECT email, ssn, card_number, code, note, lower(email) FROM accounts ORDER BY id'), refused);
          await assert.rejects(bc.execute('SELECT email, ssn, card_number, code FROM accounts WHERE id > ?', [0]), refused);
          // MariaDB cuts a UTF-16/32 error message at its first NUL byte ("D"); jitgate would withhold a whole one.
          const dup = (await bc.query('INSERT INTO accounts (id, name, email) VALUES (91, ?, ?)', ['dup', EMAILS[1]]).catch((e) => e)) as Error;
          assertNoSecret('duplicate in a wide character set', [dup.message]);
          found.push(...leaks(limitTap.since(m), ALL).map((l) => `${cs}: ${l}`));
          await bc.query('SET character_set_results = utf8mb4');
        }
        // No conversion at all: a value converted in SQL arrives in its own character set.
        await bc.query('SET character_set_results = NULL');
        const m = limitTap.mark();
        await assert.rejects(bc.query('SELECT convert(email USING utf16le) AS e, convert(code USING utf32) AS c FROM accounts'), refused);
        found.push(...leaks(limitTap.since(m), ALL).map((l) => `NULL: ${l}`));
      } finally {
        await bc.query('SET character_set_results = utf8mb4');
      }
      assert.deepEqual(found, []);
    });

    it(
      'session state tracking: a value assigned to a tracked session variable does not come back in the OK_Packet (jitgate does not offer CLIENT_SESSION_TRACK)',
      async () => {
        await bc.query(`SET SESSION session_track_system_variables = 'default_master_connection'`);
        const m = limitTap.mark();
        const states: unknown[] = [];
        for (const col of ['email', 'ssn', 'card_number', 'code']) {
          const [ok] = await bc.query(`SET SESSION default_master_connection = (SELECT ${col} FROM accounts WHERE id = 1)`);
          states.push((ok as { stateChanges?: unknown }).stateChanges);
        }
        const bytes = limitTap.since(m);
        await bc.query(`SET SESSION default_master_connection = '', session_track_system_variables = DEFAULT`);
        assertNoSecret('session state', states);
        assertNoLeak('session state', bytes);
      },
    );

    it(
      'binary protocol: a card number in a BIGINT column comes back NULL, as in the text protocol',
      async () => {
        const [rows] = await bc.execute<mysql.RowDataPacket[]>('SELECT score FROM accounts WHERE id IN (?, ?) ORDER BY id', [1, 2]);
        assert.deepEqual(rows.map((r) => r.score), [null, null]);
      },
    );

    it(
      "a duplicate-key error does not quote a rule-only value: Duplicate entry '****' for key 'code'",
      async () => {
        const m = limitTap.mark();
        const messages: string[] = [];
        const sql = `INSERT INTO accounts (id, name, code) VALUES (92, 'dup', ?)`;
        for (const run of [() => bc.query(sql, [CODES[0]]), () => bc.execute(sql, [CODES[1]])]) {
          messages.push(((await run().catch((e) => e)) as Error).message);
        }
        assertNoSecret('duplicate code', messages);
        assertNoLeak('duplicate code', limitTap.since(m));
      },
    );

    it("an email glued to a value behind it is still found: concat(email, ssn), concat(email, '1'), concat(email, '.1')", async () => {
      const m = limitTap.mark();
      const sql = `SELECT concat(email, ssn) AS a, concat(email, '1') AS b, concat(email, '.1') AS c FROM accounts WHERE id = ?`;
      const [text] = await bc.query(sql, [1]);
      const [binary] = await bc.execute(sql, [1]);
      assertNoSecret('glued email', [text, binary], EMAILS);
      assertNoLeak('glued email', limitTap.since(m), EMAILS);
    });

    it(
      "detectors miss a card or SSN glued to a digit: concat(card_number, '0'), concat('0', card_number), concat(ssn, '0'), concat('1', ssn)",
      { todo: 'the credit_card and us_ssn scanners need a boundary around the digits (a 17-digit run is not a card); rules on the source column do not reach expressions' },
      async () => {
        const m = limitTap.mark();
        const sql = `SELECT concat(card_number, '0') AS d, concat('0', card_number) AS e, concat(ssn, '0') AS f, concat('1', ssn) AS g FROM accounts WHERE id = ?`;
        const [text] = await bc.query(sql, [1]);
        const [binary] = await bc.execute(sql, [1]);
        assertNoSecret('glued', [text, binary], DETECTED);
        assertNoLeak('glued', limitTap.since(m), DETECTED);
      },
    );

    it(
      'a CTE or derived table that renames a rule-covered column hides its source',
      { todo: 'MariaDB reports the CTE/derived table as orgTable (PostgreSQL reports the base table): rules on the source miss it' },
      async () => {
        const m = limitTap.mark();
        const [cte] = await bc.query('WITH t AS (SELECT code AS c FROM accounts) SELECT c FROM t');
        const [derived] = await bc.execute('SELECT c FROM (SELECT code AS c FROM accounts) d WHERE 1 = ?', [1]);
        assertNoSecret('cte', [cte, derived]);
        assertNoLeak('cte', limitTap.since(m));
      },
    );

    it(
      "JSON object keys are matched against rules in strings that look like JSON (MariaDB's JSON functions return plain strings): json_object('code', code), json_object('ssn', code)",
      async () => {
        const m = limitTap.mark();
        const [rows] = await bc.query(`SELECT json_object('code', code) AS a, json_object('ssn', code) AS b FROM accounts`);
        const [agg] = await bc.execute(`SELECT json_arrayagg(json_object('code', code)) AS c FROM accounts WHERE id > ?`, [0]);
        assertNoSecret('json keys', [rows, agg]);
        assertNoLeak('json keys', limitTap.since(m));
      },
    );
  });
});
