/** Replay decoders by protocol. MySQL adds its decoder here. */
import type { ProtocolDecoder } from './types.js';
import { PostgresDecoder } from './postgres.js';

const decoders: Record<string, () => ProtocolDecoder> = {
  postgres: () => new PostgresDecoder(),
};

export function decoderFor(protocol: string): ProtocolDecoder | null {
  return decoders[protocol]?.() ?? null;
}
