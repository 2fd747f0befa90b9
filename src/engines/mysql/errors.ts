/** The MySQL wire's error boundary: JitError codes → error number and SQLSTATE (ERR_Packet). */
import type { ErrorCode, JitError } from '../../errors.js';
import { encodeErrPacket, packet } from '../../../protocols/mysql/index.js';

const errnos: Record<ErrorCode, [number, string]> = {
  invalid_password: [1045, '28000'], // ER_ACCESS_DENIED_ERROR
  invalid_authorization: [1045, '28000'],
  protocol_violation: [1047, '08S01'], // ER_UNKNOWN_COM_ERROR
  feature_not_supported: [1235, '42000'], // ER_NOT_SUPPORTED_YET
  too_many_connections: [1040, '08004'], // ER_CON_COUNT_ERROR
  upstream_unavailable: [2003, 'HY000'], // CR_CONN_HOST_ERROR
  provisioning_failed: [1105, 'HY000'], // ER_UNKNOWN_ERROR
  access_expired: [1927, '70100'], // ER_CONNECTION_KILLED
  idle_timeout: [4031, 'HY000'], // ER_CLIENT_INTERACTION_TIMEOUT
  admin_shutdown: [1053, '08S01'], // ER_SERVER_SHUTDOWN
  masking_failed: [1105, 'HY000'],
  recording_failed: [1105, 'HY000'],
  statement_refused: [1142, '42000'], // ER_TABLEACCESS_DENIED_ERROR
  internal: [1105, 'HY000'],
};

export function errnoFor(err: JitError): { errno: number; sqlstate: string } {
  const [errno, sqlstate] = errnos[err.code];
  return err.errno !== undefined ? { errno: err.errno, sqlstate: err.sqlstate ?? sqlstate } : { errno, sqlstate };
}

/** A whole ERR_Packet (header included) with sequence id `seq`. */
export function errPacketFor(err: JitError, seq: number): Buffer {
  const { errno, sqlstate } = errnoFor(err);
  const message = err.detail ? `${err.clientMessage} (${err.detail})` : err.clientMessage;
  return packet(seq & 0xff, encodeErrPacket({ errno, sqlstate, message }));
}
