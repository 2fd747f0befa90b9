/**
 * A recording turned back into what happened: protocol-neutral transcript items that a
 * protocol decoder (PostgreSQL now, MySQL later) produces from the recorded frames.
 */
import type { Direction } from '../../engine/types.js';

export interface ColumnItem {
  name: string;
  typeOid: number;
  format: 'text' | 'binary';
}

export interface ProblemFields {
  severity: string;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  where?: string;
}

/** Cell or parameter value: text as sent, binary as `\x` hex, null for SQL NULL. */
export type Value = string | null;

export type TranscriptEvent =
  | { type: 'redacted'; from: Direction; what: string }
  | { type: 'query'; sql: string }
  | { type: 'parse'; statement: string; sql: string; paramTypes: number[] }
  | { type: 'bind'; portal: string; statement: string; params: Value[] }
  | { type: 'execute'; portal: string; statement: string; sql: string | null; params: Value[]; maxRows: number }
  | { type: 'function-call'; oid: number }
  | { type: 'columns'; columns: ColumnItem[] }
  | { type: 'row'; values: Value[] }
  | { type: 'complete'; tag: string }
  | { type: 'empty-query' }
  | { type: 'suspended' }
  | ({ type: 'error' | 'notice' } & ProblemFields)
  | { type: 'notification'; channel: string; payload: string }
  | { type: 'copy-in' | 'copy-out'; format: 'text' | 'binary'; columns: number }
  | { type: 'copy-data'; from: Direction; data: string }
  | { type: 'copy-done'; from: Direction }
  | { type: 'copy-fail'; message: string }
  | { type: 'parameter'; name: string; value: string }
  | { type: 'ready'; status: string }
  | { type: 'terminate' }
  | { type: 'unknown'; from: Direction; message: string };

/** An event at `t` milliseconds since the recording started. */
export type TranscriptItem = { t: number } & TranscriptEvent;

/** Turns one protocol's frames back into transcript items. One instance per recording. */
export interface ProtocolDecoder {
  /** Frames of each direction, in recorded order; a frame may hold several messages or part of one. */
  feed(t: number, from: Direction, bytes: Buffer): TranscriptItem[];
  /** Message boundaries and names within one frame, for `--raw`. */
  split(from: Direction, bytes: Buffer): { name: string; start: number; end: number }[];
}
