/** Replay decoders by protocol. */
import type { ProtocolDecoder } from './types.js';
import { MysqlDecoder } from './mysql.js';
import { PostgresDecoder } from './postgres.js';

const decoders: Record<string, () => ProtocolDecoder> = {
  postgres: () => new PostgresDecoder(),
  mysql: () => new MysqlDecoder(),
};

export function decoderFor(protocol: string): ProtocolDecoder | null {
  return decoders[protocol]?.() ?? null;
}
