/**
 * Renders a recording for people (`replay`), for programs (`replay --json`, JSON lines)
 * and for protocol debugging (`replay --raw`, hex + ASCII per message).
 */
import type { Direction } from '../../engine/types.js';
import { DIR_CLIENT, type Event, type RecordingHeader, type SealInfo } from '../format.js';
import { decoderFor } from './decoders.js';
import type { ColumnItem, ProtocolDecoder, TranscriptItem, Value } from './types.js';

export interface Renderer {
  header(h: RecordingHeader): void;
  event(ev: Event): void;
  /** Called once the recording ends (seal, or the end of an unsealed one). */
  finish(seal?: SealInfo): void;
}

export type Sink = (text: string) => void;

const dirOf = (d: number): Direction => (d === DIR_CLIENT ? 'client' : 'server');
const stamp = (t: number) => `[+${(t / 1000).toFixed(3)}s]`;

function decoder(h: RecordingHeader): ProtocolDecoder {
  const d = decoderFor(h.protocol);
  if (!d) throw new Error(`no replay decoder for protocol ${h.protocol}`);
  return d;
}

// ---- JSON lines ----

export class JsonRenderer implements Renderer {
  private dec: ProtocolDecoder | null = null;
  constructor(private readonly out: Sink) {}

  header(h: RecordingHeader): void {
    this.dec = decoder(h);
    const { k: _k, i: _i, ...rest } = h;
    this.line({ type: 'session', ...rest });
  }

  event([t, d, bytes, what]: Event): void {
    if (bytes === null) {
      this.line({ t, type: 'redacted', from: dirOf(d), what });
      return;
    }
    for (const item of this.dec!.feed(t, dirOf(d), bytes)) this.line(item);
  }

  finish(seal?: SealInfo): void {
    if (!seal) return;
    const { t, ...rest } = seal;
    this.line({ t, type: 'end', ...rest, sealed: true });
  }

  private line(o: object): void {
    this.out(`${JSON.stringify(o)}\n`);
  }
}

// ---- text ----

const MAX_BUFFERED_ROWS = 200;
const MAX_CELL = 200;

function cell(v: Value): string {
  if (v === null) return 'NULL';
  const s = v.replace(/\r?\n/g, '\\n').replace(/\t/g, '\\t');
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

function quoteParam(v: Value): string {
  return v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`;
}

function params(ps: Value[]): string {
  return ps.length ? `  -- ${ps.map((p, i) => `$${i + 1} = ${cell(quoteParam(p))}`).join(', ')}` : '';
}

function indent(text: string, pad: string): string {
  return text.split('\n').map((l, i) => (i === 0 ? l : pad + l)).join('\n');
}

export class TextRenderer implements Renderer {
  private dec: ProtocolDecoder | null = null;
  private columns: ColumnItem[] | null = null;
  private rows: string[][] = [];
  private widths: number[] | null = null;
  private rowCount = 0;
  private loggedIn = false;
  private readonly pad = ' '.repeat(12);

  constructor(private readonly out: Sink) {}

  header(h: RecordingHeader): void {
    this.dec = decoder(h);
    this.out(
      `session ${h.id}: ${h.sub} → ${h.target} (role ${h.role}), ${h.protocol}, upstream user ${h.upstreamUser}, from ${h.remoteAddress}\n` +
        `started ${h.startedAt} (recording ${h.recordingStartedAt}), instance ${h.instance}, jitgate ${h.jitgate}\n\n`,
    );
  }

  event([t, d, bytes, what]: Event): void {
    if (bytes === null) {
      this.line(t, `[redacted] ${dirOf(d)} authentication (${what})`);
      return;
    }
    for (const item of this.dec!.feed(t, dirOf(d), bytes)) this.item(item);
  }

  finish(seal?: SealInfo): void {
    this.flushRows(true);
    if (seal) {
      this.out(
        `\n${stamp(seal.t)} session ended ${seal.endedAt}: ${seal.reason}; ${seal.statements} statements, ` +
          `${seal.bytesFromClient} bytes from the client, ${seal.bytesFromServer} bytes to the client\n`,
      );
    }
  }

  private line(t: number, text: string): void {
    this.out(`${stamp(t).padEnd(11)} ${indent(text, this.pad)}\n`);
  }

  private item(i: TranscriptItem): void {
    if (i.type !== 'row' && i.type !== 'columns') this.flushRows(i.type !== 'complete');
    switch (i.type) {
      case 'query':
        this.line(i.t, `> ${i.sql}`);
        return;
      case 'parse':
        if (i.statement) this.line(i.t, `> prepare "${i.statement}": ${i.sql}`);
        return;
      case 'bind':
        return;
      case 'execute':
        if (i.statement) this.line(i.t, `> execute "${i.statement}"${params(i.params)}`);
        else this.line(i.t, `> ${i.sql ?? `(portal "${i.portal}")`}${params(i.params)}`);
        return;
      case 'function-call':
        this.line(i.t, `> function call (oid ${i.oid})`);
        return;
      case 'columns':
        this.flushRows(true);
        this.columns = i.columns;
        return;
      case 'row':
        this.rowCount++;
        if (this.widths) this.printRow(i.values.map(cell));
        else {
          this.rows.push(i.values.map(cell));
          if (this.rows.length >= MAX_BUFFERED_ROWS) this.flushRows(false);
        }
        return;
      case 'complete':
        this.flushRows(true, i.tag);
        return;
      case 'empty-query':
        this.line(i.t, '< (empty query)');
        return;
      case 'suspended':
        this.flushRows(true, '(portal suspended)');
        return;
      case 'error':
      case 'notice': {
        const extra = [i.detail && `DETAIL: ${i.detail}`, i.hint && `HINT: ${i.hint}`, i.position && `POSITION: ${i.position}`]
          .filter(Boolean)
          .join('\n');
        this.line(i.t, `< ${i.severity || i.type.toUpperCase()} ${i.code}: ${i.message}${extra ? `\n${extra}` : ''}`);
        return;
      }
      case 'notification':
        this.line(i.t, `< NOTIFY ${i.channel}: ${i.payload}`);
        return;
      case 'copy-in':
      case 'copy-out':
        this.line(i.t, `< ${i.type === 'copy-in' ? 'COPY FROM STDIN' : 'COPY TO STDOUT'} (${i.format}, ${i.columns} columns)`);
        return;
      case 'copy-data':
        this.line(i.t, `${i.from === 'client' ? '>' : '<'} ${i.data.replace(/\n$/, '')}`);
        return;
      case 'copy-done':
        return;
      case 'copy-fail':
        this.line(i.t, `> COPY failed by the client: ${i.message}`);
        return;
      case 'parameter':
        if (this.loggedIn) this.line(i.t, `< SET ${i.name} = ${i.value}`);
        return;
      case 'ready':
        this.loggedIn = true;
        return;
      case 'terminate':
        this.line(i.t, '> (client ended the session)');
        return;
      case 'redacted':
        this.line(i.t, `[redacted] ${i.from} authentication (${i.what})`);
        return;
      case 'unknown':
        this.line(i.t, `${i.from === 'client' ? '>' : '<'} (${i.message})`);
        return;
    }
  }

  /** Prints buffered rows (fixing column widths); with `done`, closes the result with its row count and tag. */
  private flushRows(done: boolean, tag?: string): void {
    if (this.columns || this.rows.length || this.widths) {
      if (!this.widths) {
        const names = this.columns?.map((c) => c.name) ?? this.rows[0]?.map((_, n) => `column${n + 1}`) ?? [];
        this.widths = names.map((n, c) => Math.max(n.length, ...this.rows.map((r) => (r[c] ?? '').length)));
        this.out(`${this.pad}${names.map((n, c) => ` ${n.padEnd(this.widths![c]!)} `).join('|').trimEnd()}\n`);
        this.out(`${this.pad}${this.widths.map((w) => '-'.repeat(w + 2)).join('+')}\n`);
        for (const r of this.rows) this.printRow(r);
        this.rows = [];
      }
      if (!done) return;
      this.out(`${this.pad}(${this.rowCount} row${this.rowCount === 1 ? '' : 's'})\n`);
    }
    if (done && tag) this.out(`${this.pad}${tag}\n`);
    this.columns = null;
    this.widths = null;
    this.rows = [];
    this.rowCount = 0;
  }

  private printRow(r: string[]): void {
    this.out(`${this.pad}${r.map((v, c) => ` ${v.padEnd(this.widths![c] ?? 0)} `).join('|').trimEnd()}\n`);
  }
}

// ---- raw ----

function hexdump(buf: Buffer, pad: string): string {
  let s = '';
  for (let off = 0; off < buf.length; off += 16) {
    const row = buf.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    s += `${pad}${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|\n`;
  }
  return s;
}

export class RawRenderer implements Renderer {
  private dec: ProtocolDecoder | null = null;
  constructor(private readonly out: Sink) {}

  header(h: RecordingHeader): void {
    this.dec = decoderFor(h.protocol);
    this.out(`session ${h.id} (${h.protocol}), recording started ${h.recordingStartedAt}\n`);
  }

  event([t, d, bytes, what]: Event): void {
    const from = dirOf(d);
    if (bytes === null) {
      this.out(`${stamp(t)} ${from}: [redacted ${what}]\n`);
      return;
    }
    this.out(`${stamp(t)} ${from} → ${from === 'client' ? 'server' : 'client'}: ${bytes.length} bytes\n`);
    const parts = this.dec ? this.dec.split(from, bytes) : [{ name: 'frame', start: 0, end: bytes.length }];
    for (const p of parts) {
      this.out(`  ${p.name} (${p.end - p.start} bytes)\n`);
      this.out(hexdump(bytes.subarray(p.start, p.end), '    '));
    }
  }

  finish(seal?: SealInfo): void {
    if (seal) this.out(`${stamp(seal.t)} end: ${seal.reason}\n`);
  }
}
