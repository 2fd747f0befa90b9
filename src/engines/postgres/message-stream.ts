/**
 * Pull-style reading of whole messages during login (client handshake, upstream
 * authentication). In the startup phase it stops after each packet: the reader decides how
 * the next bytes are framed (TLS, typed messages).
 */
import type { Duplex } from 'node:stream';
import type { Framer } from '../../../protocols/postgres/index.js';
import { PullStream } from '../../engine/pull-stream.js';

export interface Message {
  type: number;
  buf: Buffer;
  start: number;
  end: number;
}

export class MessageStream extends PullStream<Message> {
  constructor(
    socket: Duplex,
    readonly framer: Framer,
  ) {
    super(socket, framer, (type, buf, start, end) => ({ type, buf, start, end }), () => framer.startup);
  }
}
