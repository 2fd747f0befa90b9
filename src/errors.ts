/**
 * Protocol-neutral errors. Each engine maps a `code` to its wire form
 * (PostgreSQL SQLSTATE, MySQL errno) at its single error boundary.
 */
export type ErrorCode =
  | 'invalid_password'        // bad/expired/revoked/mis-scoped token   → 28P01 / 1045
  | 'invalid_authorization'   // login user does not match sub          → 28000 / 1045
  | 'protocol_violation'      // malformed or unexpected client input   → 08P01 / 1047
  | 'feature_not_supported'   //                                        → 0A000 / 1235
  | 'too_many_connections'    //                                        → 53300 / 1040
  | 'upstream_unavailable'    // cannot reach or log in upstream        → 08006 / 2003
  | 'provisioning_failed'     // ephemeral user could not be created    → 58000 / 1105
  | 'access_expired'          // auth.maxSession reached                → 57P01 / 1927
  | 'idle_timeout'            // limits.idleTimeout reached             → 57P05 / 4031
  | 'admin_shutdown'          // proxy draining or session revoked      → 57P01 / 1053
  | 'masking_failed'          // fail closed: value could not be masked → XX000 / 1105
  | 'recording_failed'        // fail closed: recording unavailable    → 58030 / 1105
  | 'statement_refused'       // a statement hook refused it            → 42501 / 1142
  | 'internal';               //                                        → XX000 / 1105

export class JitError extends Error {
  readonly code: ErrorCode;
  /** Safe for the client: never contains a secret. */
  readonly clientMessage: string;
  /** Safe extra detail for the client. */
  readonly detail?: string;
  /** An upstream error's own SQLSTATE, passed through instead of the code's default. */
  readonly sqlstate?: string;
  /** An upstream MySQL error's own error number, passed through instead of the code's default. */
  readonly errno?: number;
  constructor(
    code: ErrorCode,
    clientMessage: string,
    opts: { detail?: string; cause?: unknown; sqlstate?: string; errno?: number } = {},
  ) {
    super(clientMessage, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'JitError';
    this.code = code;
    this.clientMessage = clientMessage;
    this.detail = opts.detail;
    this.sqlstate = opts.sqlstate;
    this.errno = opts.errno;
  }
}

export function asJitError(err: unknown): JitError {
  if (err instanceof JitError) return err;
  return new JitError('internal', 'internal error in jitgate', { cause: err });
}

/** Bad usage or configuration: the CLI exits 2. `key` names the offending flag or config key. */
export class UsageError extends Error {
  constructor(message: string, readonly key?: string) {
    super(message);
    this.name = 'UsageError';
  }
}
