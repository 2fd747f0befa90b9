/**
 * Structured audit events, one JSON line each (pino). Secrets never reach a log: nothing
 * logs them, and these paths are censored should one slip into an object.
 */
import fs from 'node:fs';
import pino from 'pino';

export type Logger = pino.Logger;

const redactPaths = [
  'token',
  'password',
  'secret',
  'key',
  '*.token',
  '*.password',
  '*.secret',
  '*.privateKey',
  'login.token',
  'credentials',
  '*.credentials',
];

export function createLogger(opts: { level?: string; file?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const destination = opts.destination ?? (opts.file ? fs.createWriteStream(opts.file, { flags: 'a' }) : pino.destination(1));
  return pino(
    {
      level: opts.level ?? 'info',
      base: { app: 'jitgate' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
