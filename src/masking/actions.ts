/**
 * Masking actions on one text value. Every action's output is checked not to contain
 * the clear value (a short value can hide inside a hash or a mask); if it would, the
 * value is redacted instead.
 */
import { createHmac } from 'node:crypto';

export type MaskAction = 'redact' | 'email' | 'partial' | 'hash' | 'null' | 'format-preserving';

/** Length-hiding redaction; never contains `clear` (a value made only of '*' gets '#'). */
export function redact(clear: string): string {
  return clear !== '' && /^\**$/.test(clear) ? '####' : '****';
}

/** `john.doe@example.com` → `j***@example.com`; anything that is not an address is redacted. */
export function maskEmail(clear: string): string {
  const at = clear.lastIndexOf('@');
  if (at <= 0 || at === clear.length - 1) return redact(clear);
  const first = String.fromCodePoint(clear.codePointAt(0)!);
  return guard(clear, `${first}***${clear.slice(at)}`);
}

const SEPARATOR = /[\s\-./()+]/;

/**
 * Keeps the last 4 digits of a number-like value (cards, phones, SSNs) and its separators;
 * other values keep their last few characters (at most a third, at most 4).
 */
export function partial(clear: string): string {
  const chars = Array.from(clear);
  let digits = 0;
  for (const ch of chars) if (ch >= '0' && ch <= '9') digits++;
  if (digits >= 8) {
    let keep = 4;
    const out = new Array<string>(chars.length);
    for (let i = chars.length - 1; i >= 0; i--) {
      const ch = chars[i]!;
      if (ch >= '0' && ch <= '9') out[i] = keep-- > 0 ? ch : '*';
      else out[i] = SEPARATOR.test(ch) ? ch : '*';
    }
    return guard(clear, out.join(''));
  }
  const keep = Math.min(4, Math.floor(chars.length / 3));
  return guard(clear, '*'.repeat(chars.length - keep) + chars.slice(chars.length - keep).join(''));
}

/** Keyed HMAC-SHA256, 128 bits in hex: stable within a deployment, so masked columns still join. */
export function hashValue(clear: string, key: Buffer): string {
  return guard(clear, createHmac('sha256', key).update(clear, 'utf8').digest('hex').slice(0, 32));
}

/**
 * Keeps length, case and separators; every digit becomes another digit and every ASCII
 * letter another letter, from a keystream keyed by the value (stable, not reversible
 * without the key). Other characters outside ASCII become '*'.
 */
export function formatPreserving(clear: string, key: Buffer): string {
  const stream = keystream(key, clear);
  let out = '';
  let i = 0;
  for (const ch of clear) {
    const c = ch.codePointAt(0)!;
    const k = stream(i++);
    if (c >= 48 && c <= 57) out += String.fromCharCode(48 + ((c - 48 + 1 + (k % 9)) % 10));
    else if (c >= 65 && c <= 90) out += String.fromCharCode(65 + ((c - 65 + 1 + (k % 25)) % 26));
    else if (c >= 97 && c <= 122) out += String.fromCharCode(97 + ((c - 97 + 1 + (k % 25)) % 26));
    else if (c < 128) out += ch;
    else out += '*';
  }
  return guard(clear, out);
}

function keystream(key: Buffer, value: string): (i: number) => number {
  const blocks: Buffer[] = [];
  return (i) => {
    const b = i >> 5;
    while (blocks.length <= b) {
      blocks.push(createHmac('sha256', key).update(`fpe\0${blocks.length}\0`).update(value, 'utf8').digest());
    }
    return blocks[b]![i & 31]!;
  };
}

/** The action's text output; null means SQL NULL. */
export function applyAction(action: MaskAction, clear: string, key: Buffer): string | null {
  switch (action) {
    case 'null':
      return null;
    case 'redact':
      return redact(clear);
    case 'email':
      return maskEmail(clear);
    case 'partial':
      return partial(clear);
    case 'hash':
      return hashValue(clear, key);
    case 'format-preserving':
      return formatPreserving(clear, key);
  }
}

function guard(clear: string, out: string): string {
  return clear !== '' && out.includes(clear) ? redact(clear) : out;
}
