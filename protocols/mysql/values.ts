/**
 * Binary-protocol values (§ Binary Protocol Value) as the text protocol prints them: what replay
 * shows, and what masking reads of a number sent in binary.
 */
import { isUtf8 } from 'node:buffer';
import {
  CHARSET_BINARY,
  MYSQL_TYPE_BIT,
  MYSQL_TYPE_BLOB,
  MYSQL_TYPE_DATE,
  MYSQL_TYPE_DATETIME,
  MYSQL_TYPE_DATETIME2,
  MYSQL_TYPE_DOUBLE,
  MYSQL_TYPE_FLOAT,
  MYSQL_TYPE_GEOMETRY,
  MYSQL_TYPE_INT24,
  MYSQL_TYPE_LONG,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_LONG_BLOB,
  MYSQL_TYPE_MEDIUM_BLOB,
  MYSQL_TYPE_NEWDATE,
  MYSQL_TYPE_SHORT,
  MYSQL_TYPE_STRING,
  MYSQL_TYPE_TIME,
  MYSQL_TYPE_TIME2,
  MYSQL_TYPE_TIMESTAMP,
  MYSQL_TYPE_TIMESTAMP2,
  MYSQL_TYPE_TINY,
  MYSQL_TYPE_TINY_BLOB,
  MYSQL_TYPE_VARCHAR,
  MYSQL_TYPE_VAR_STRING,
  MYSQL_TYPE_VECTOR,
  MYSQL_TYPE_YEAR,
  UNSIGNED_FLAG,
  ZEROFILL_FLAG,
} from './codes.js';
import type { ColumnDefinition41 } from './packets.js';

/** Column decimals meaning "not fixed" (NOT_FIXED_DEC): floating-point values print with as many digits as they need. */
export const NOT_FIXED_DEC = 31;
/** Types whose values are bytes, shown as `\x` hex when their character set is binary. */
const BYTE_TYPES = new Set([
  MYSQL_TYPE_VARCHAR, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_STRING, MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_MEDIUM_BLOB,
  MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_BIT, MYSQL_TYPE_GEOMETRY, MYSQL_TYPE_VECTOR,
]);

/** What formatting a value needs to know about its column. A parameter has no character set (0). */
export type ValueColumn = Pick<ColumnDefinition41, 'type' | 'flags' | 'decimals' | 'characterSet' | 'columnLength'>;

const hex = (v: Buffer) => `\\x${v.toString('hex')}`;
const pad = (n: number | bigint, width: number) => String(n).padStart(width, '0');

export function bytesText(v: Buffer, c: ValueColumn): string {
  const binary = c.characterSet === CHARSET_BINARY ? BYTE_TYPES.has(c.type) : c.characterSet === 0 && !isUtf8(v);
  return binary ? hex(v) : v.toString('utf8');
}

function integer(n: number | bigint, c: ValueColumn): string {
  return c.flags & ZEROFILL_FLAG ? pad(n, c.columnLength) : String(n);
}

/** Fractional seconds as the server prints them: `decimals` digits, or all six when the column does not fix them. */
function fraction(micros: number, decimals: number): string {
  if (decimals > 0 && decimals <= 6) return `.${pad(micros, 6).slice(0, decimals)}`;
  return decimals > 6 && micros !== 0 ? `.${pad(micros, 6)}` : '';
}

/** § Binary Protocol Value of DATE, DATETIME, TIMESTAMP: length 0, 4, 7 or 11. */
function dateTime(v: Buffer, withTime: boolean, decimals: number): string {
  const date = v.length >= 4 ? `${pad(v.readUInt16LE(0), 4)}-${pad(v[2]!, 2)}-${pad(v[3]!, 2)}` : '0000-00-00';
  if (!withTime) return date;
  const time = v.length >= 7 ? `${pad(v[4]!, 2)}:${pad(v[5]!, 2)}:${pad(v[6]!, 2)}` : '00:00:00';
  return `${date} ${time}${fraction(v.length >= 11 ? v.readUInt32LE(7) : 0, decimals)}`;
}

/** § Binary Protocol Value of TIME: length 0, 8 or 12 (is_negative, days, hours, minutes, seconds, microseconds). */
function time(v: Buffer, decimals: number): string {
  if (v.length < 8) return `00:00:00${fraction(0, decimals)}`;
  const hours = v.readUInt32LE(1) * 24 + v[5]!;
  const micros = v.length >= 12 ? v.readUInt32LE(8) : 0;
  return `${v[0] ? '-' : ''}${pad(hours, 2)}:${pad(v[6]!, 2)}:${pad(v[7]!, 2)}${fraction(micros, decimals)}`;
}

/**
 * A FLOAT or DOUBLE as the server prints it: with fixed decimals when the column has them; else the shortest
 * digits that give the double back (6 significant digits for a float, FLT_DIG), written out while the decimal
 * point is less than 15 places away from them, in e-notation (no '+') beyond.
 */
export function formatReal(x: number, decimals: number, float: boolean): string {
  if (decimals < NOT_FIXED_DEC) return x.toFixed(decimals);
  if (x === 0) return '0';
  const [mantissa, exponent] = (float ? Math.abs(x).toExponential(5) : Math.abs(x).toExponential()).split('e');
  const digits = mantissa!.replace('.', '').replace(/0+$/, '');
  const point = Number(exponent) + 1;
  const sign = x < 0 ? '-' : '';
  if (point > -15 && (point <= 15 || digits.length > point)) {
    if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
    if (point < digits.length) return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
    return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  }
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${point - 1}`;
}

/** One binary-protocol value (as decodeBinaryRow hands it out) as the text protocol would have sent it. */
export function binaryValueText(v: Buffer, c: ValueColumn): string {
  const unsigned = (c.flags & UNSIGNED_FLAG) !== 0;
  switch (c.type) {
    case MYSQL_TYPE_TINY:
      return integer(unsigned ? v.readUInt8(0) : v.readInt8(0), c);
    case MYSQL_TYPE_SHORT:
      return integer(unsigned ? v.readUInt16LE(0) : v.readInt16LE(0), c);
    case MYSQL_TYPE_YEAR:
      return integer(v.readUInt16LE(0), c);
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
      return integer(unsigned ? v.readUInt32LE(0) : v.readInt32LE(0), c);
    case MYSQL_TYPE_LONGLONG:
      return integer(unsigned ? v.readBigUInt64LE(0) : v.readBigInt64LE(0), c);
    case MYSQL_TYPE_FLOAT:
      return formatReal(v.readFloatLE(0), c.decimals, true);
    case MYSQL_TYPE_DOUBLE:
      return formatReal(v.readDoubleLE(0), c.decimals, false);
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
      return dateTime(v, false, c.decimals);
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
      return dateTime(v, true, c.decimals);
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
      return time(v, c.decimals);
    default:
      return bytesText(v, c);
  }
}
