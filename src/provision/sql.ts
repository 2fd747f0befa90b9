/** SQL quoting and SQLSTATE helpers for the PostgreSQL admin connection. */

/** Quotes an identifier by PostgreSQL's rules: wrap in double quotes, double the embedded ones. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal; uses the E'' form when a backslash is present so it reads the same whatever standard_conforming_strings says. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL character');
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** The SQLSTATE of a server error, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

const TRANSIENT_STATES = new Set(['2BP01', '55006', '55P03', '40001', '40P01', '57P01', '57P02', '57P03', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Worth retrying: lock/serialization conflicts, shutdowns and connection failures. Decided on codes, never message text. */
export function isTransient(err: unknown): boolean {
  const state = sqlState(err);
  if (state) return TRANSIENT_STATES.has(state) || state.startsWith('08');
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return NETWORK_CODES.has(code);
  // node-postgres reports a dropped or timed-out connection as a plain Error without a code.
  return err instanceof Error && err.constructor === Error;
}
