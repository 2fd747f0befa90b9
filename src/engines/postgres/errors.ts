/** The PostgreSQL wire's error boundary: JitError codes → SQLSTATE (Appendix A). */
import type { ErrorCode, JitError } from '../../errors.js';
import { encode } from '../../../protocols/postgres/index.js';

const sqlstates: Record<ErrorCode, string> = {
  invalid_password: '28P01',
  invalid_authorization: '28000',
  protocol_violation: '08P01',
  feature_not_supported: '0A000',
  too_many_connections: '53300',
  upstream_unavailable: '08006',
  provisioning_failed: '58000',
  access_expired: '57P01',
  idle_timeout: '57P05',
  admin_shutdown: '57P01',
  masking_failed: 'XX000',
  recording_failed: '58030',
  statement_refused: '42501',
  internal: 'XX000',
};

export function sqlstateFor(err: JitError): string {
  return err.sqlstate ?? sqlstates[err.code];
}

export function errorResponseFor(err: JitError, severity: 'FATAL' | 'ERROR' = 'FATAL'): Buffer {
  return encode.ErrorResponse({
    severity,
    code: sqlstateFor(err),
    message: err.clientMessage,
    detail: err.detail,
  });
}
