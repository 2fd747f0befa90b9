import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** Strict flag parsing: unknown flags are usage errors (exit 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function requireFlag(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`--${flag} is required`, `--${flag}`);
  return value;
}

export function configFrom(value: string | undefined): Config {
  return loadConfig(requireFlag(value, 'config'));
}
