/**
 * `COPY … TO STDOUT` for masking: which table/columns a COPY reads and its format (from
 * the statement text), and masking one CopyData row of text or csv format cell by cell.
 * Binary COPY is not handled here: the engine refuses it when masking applies.
 */
import type { ResultMasker } from '../engine/types.js';

export interface CopyOut {
  /** `COPY table [(columns)] TO STDOUT`; undefined for `COPY (query) TO STDOUT`. */
  table?: string;
  columns?: string[];
  format: 'text' | 'csv' | 'binary';
  delimiter: string;
  header: boolean;
  quote: string;
  nullString: string;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const TABLE_FORM = new RegExp(String.raw`^\s*copy\s+(${IDENT}(?:\s*\.\s*${IDENT}){0,2})\s*(?:\(([^)]*)\))?\s*to\s+stdout\b([\s\S]*)$`, 'i');

/** Parses a COPY … TO STDOUT statement; null when `sql` is something else. */
export function parseCopyOut(sql: string): CopyOut | null {
  const s = sql.replace(/^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '');
  if (!/^copy\b/i.test(s)) return null;
  let table: string | undefined;
  let columns: string[] | undefined;
  let opts: string;
  const m = TABLE_FORM.exec(s);
  if (m) {
    table = m[1]!.replace(/\s+/g, '');
    columns = m[2]?.split(',').map((c) => c.trim()).filter(Boolean);
    opts = m[3] ?? '';
  } else {
    const t = /\)\s*to\s+stdout\b([\s\S]*)$/i.exec(s);
    if (!t || !/^copy\s*\(/i.test(s)) return null;
    opts = t[1] ?? '';
  }
  const fmt = /\bformat\s*'?(csv|text|binary)\b/i.exec(opts)?.[1]?.toLowerCase() ?? (/\bbinary\b/i.test(opts) ? 'binary' : /\bcsv\b/i.test(opts) ? 'csv' : 'text');
  const format = fmt as CopyOut['format'];
  const delimiter = /\bdelimiter\s+(?:as\s+)?E?'(\\t|''|[^'])'/i.exec(opts)?.[1] ?? (format === 'csv' ? ',' : '\t');
  const header = /\bheader\b(?!\s*(?:false|off|0)\b)/i.test(opts);
  const quote = /\bquote\s+(?:as\s+)?'(''|[^'])'/i.exec(opts)?.[1] ?? '"';
  const nullString = /\bnull\s+(?:as\s+)?'([^']*)'/i.exec(opts)?.[1] ?? (format === 'csv' ? '' : '\\N');
  const unq = (c: string) => (c === "''" ? "'" : c === '\\t' ? '\t' : c);
  return { table, columns, format, delimiter: unq(delimiter), header, quote: unq(quote), nullString };
}

/** Unquoted identifier list → names as the catalog stores them. */
export function copyColumnNames(cols: string[]): string[] {
  return cols.map((c) => (c.startsWith('"') ? c.slice(1, -1).replace(/""/g, '"') : c.toLowerCase()));
}

const TEXT_UNESCAPE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function unescapeText(f: string): string {
  if (!f.includes('\\')) return f;
  let out = '';
  for (let i = 0; i < f.length; i++) {
    const c = f[i]!;
    if (c !== '\\' || i + 1 >= f.length) {
      out += c;
      continue;
    }
    const n = f[++i]!;
    if (n in TEXT_UNESCAPE) out += TEXT_UNESCAPE[n];
    else if (/[0-7]/.test(n)) {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(f[i + 1] ?? '')) oct += f[++i];
      out += String.fromCharCode(parseInt(oct, 8));
    } else if (n === 'x' && /[0-9a-fA-F]/.test(f[i + 1] ?? '')) {
      let hex = f[++i]!;
      if (/[0-9a-fA-F]/.test(f[i + 1] ?? '')) hex += f[++i];
      out += String.fromCharCode(parseInt(hex, 16));
    } else out += n;
  }
  return out;
}

function escapeText(v: string, delimiter: string): string {
  let out = '';
  for (const c of v) {
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t' && delimiter === '\t') out += '\\t';
    else if (c === delimiter) out += '\\' + c;
    else out += c;
  }
  return out;
}

/** Splits a csv row into fields, keeping whether each was quoted. */
function splitCsv(line: string, delim: string, quote: string): { v: string; quoted: boolean }[] {
  const out: { v: string; quoted: boolean }[] = [];
  let i = 0;
  for (;;) {
    let v = '';
    let quoted = false;
    if (line[i] === quote) {
      quoted = true;
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('unterminated csv quote');
        if (line[i] === quote) {
          if (line[i + 1] === quote) {
            v += quote;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      while (i < line.length && line[i] !== delim) v += line[i++];
    } else {
      while (i < line.length && line[i] !== delim) v += line[i++];
    }
    out.push({ v, quoted });
    if (i >= line.length) return out;
    i++; // delimiter
  }
}

/** Masks one CopyData payload (one row); returns `data` itself when nothing changed. */
export function maskCopyRow(data: Buffer, copy: CopyOut, masker: ResultMasker): Buffer {
  let s = data.toString('utf8');
  const nl = s.endsWith('\r\n') ? '\r\n' : s.endsWith('\n') ? '\n' : '';
  s = s.slice(0, s.length - nl.length);
  let changed = false;
  const fields: string[] = [];
  if (copy.format === 'csv') {
    const parts = splitCsv(s, copy.delimiter, copy.quote);
    parts.forEach((f, i) => {
      const isNull = !f.quoted && f.v === copy.nullString;
      const v = isNull ? null : Buffer.from(f.v, 'utf8');
      const out = masker.mask(i, v);
      if (out === v) {
        fields.push(f.quoted ? copy.quote + f.v.split(copy.quote).join(copy.quote + copy.quote) + copy.quote : f.v);
        return;
      }
      changed = true;
      fields.push(out === null ? (copy.nullString === '' ? '' : copy.nullString) : copy.quote + out.toString('utf8').split(copy.quote).join(copy.quote + copy.quote) + copy.quote);
    });
  } else {
    s.split(copy.delimiter).forEach((raw, i) => {
      const v = raw === copy.nullString ? null : Buffer.from(unescapeText(raw), 'utf8');
      const out = masker.mask(i, v);
      if (out === v) {
        fields.push(raw);
        return;
      }
      changed = true;
      fields.push(out === null ? copy.nullString : escapeText(out.toString('utf8'), copy.delimiter));
    });
  }
  return changed ? Buffer.from(fields.join(copy.delimiter) + nl, 'utf8') : data;
}
