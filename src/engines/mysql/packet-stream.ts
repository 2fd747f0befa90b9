/**
 * Pull-style reading of whole packets during login (the client's handshake, the upstream's
 * authentication). One packet per read: what follows may have to be read through TLS, so the
 * rest of a chunk stays unframed until the reader asks.
 */
import type { Duplex } from 'node:stream';
import { PacketFramer, payloadOf } from '../../../protocols/mysql/index.js';
import type { PendingPacket } from '../../engine/pump.js';
import { PullStream } from '../../engine/pull-stream.js';

export interface Packet extends PendingPacket {
  /** Sequence id (PendingPacket.type for the relay's handler). */
  type: number;
  payload: Buffer;
}

export class PacketStream extends PullStream<Packet> {
  constructor(
    socket: Duplex,
    readonly framer: PacketFramer,
  ) {
    super(socket, framer, (seq, buf, start, end) => ({ type: seq, buf, start, end, payload: payloadOf(buf, start, end) }), () => true);
  }
}
