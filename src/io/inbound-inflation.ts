import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { CloseCode } from '../protocol/close-codes.js';
import { type ProtocolSession } from '../protocol/session.js';
import { PauseReason } from './connection-flags.js';
import { DeferredQueue } from './deferred-queue.js';

/**
 * The inflation of compressed inbound messages (RFC 7692 §7.2.2), in order: synchronously when
 * small, else in zlib's thread pool with reading paused and the connection's later events waiting
 * in its inbox. Functions that take the connection, not state of their own: the uncompressed
 * path never comes here, and an idle connection carries nothing for it.
 */

/** What inflating needs of its connection (see {@link ConnectionCore}). */
export interface InflatingConnection {
  /** @internal */ readonly session: ProtocolSession;
  /** @internal */ readonly deflate: PerMessageDeflate | undefined;
  /** @internal */ inbox: DeferredQueue | undefined;
  /** @internal */ pauseReading(reason: PauseReason): void;
  /** @internal */ resumeReading(reason: PauseReason): void;
  /** @internal */ deliver(data: Buffer, binary: boolean): void;
}

/** Inflates a compressed message and delivers it, or fails the connection. */
export function inflateMessage(connection: InflatingConnection, data: Buffer, binary: boolean): void {
  const codec = connection.deflate!;
  if (!codec.isSync(data.length)) {
    inflateAsync(connection, codec, data, binary);
    return;
  }
  let inflated: Buffer | null;
  try {
    inflated = codec.decompressSync(data);
  } catch (error) {
    connection.session.failConnection(error as ProtocolError);
    return;
  }
  // Small, but it inflates to more than the event loop should: the thread pool does it.
  if (inflated === null) return inflateAsync(connection, codec, data, binary);
  // RFC 6455 §8.1 for compressed text: checked once inflated.
  if (!binary && !isUtf8(inflated)) return connection.session.failConnection(invalidText());
  connection.deliver(inflated, binary);
}

function inflateAsync(connection: InflatingConnection, codec: PerMessageDeflate, data: Buffer, binary: boolean): void {
  (connection.inbox ??= new DeferredQueue()).begin();
  connection.pauseReading(PauseReason.Inflate);
  codec.decompress(data, (error, inflated) => {
    // RFC 6455 §7.1.7: once the connection has failed (a violation read behind this message, say)
    // or was terminated, nothing more is delivered; the events waiting in the inbox drop theirs too.
    try {
      if (connection.session.stopped) return;
      if (error || inflated === undefined) connection.session.failConnection(error as ProtocolError);
      else if (!binary && !isUtf8(inflated)) connection.session.failConnection(invalidText());
      else connection.deliver(inflated, binary);
    } finally {
      // (Also when the application's handler threw: what waits behind the message still runs.)
      try {
        connection.inbox!.drain();
      } finally {
        if (!connection.inbox!.active) connection.resumeReading(PauseReason.Inflate);
      }
    }
  });
}

function invalidText(): ProtocolError {
  return new ProtocolError(CloseCode.InvalidPayload, 'invalid UTF-8 in a compressed text message', 'SW_INVALID_UTF8');
}
