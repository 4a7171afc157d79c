import { type Socket } from 'node:net';
import { HandshakeError } from '../errors.js';
import { findHeadEnd, parseRequestHead, type RequestHead } from '../handshake/http-head.js';

/**
 * Reads an HTTP request head from a raw socket (standalone mode: no `http` objects per connection).
 * Resolves with the parsed head and the bytes that followed it; rejects with HandshakeError (400,
 * 431) for a malformed or oversized head, and with `null` status 408 when the client is too slow.
 */
export function readRequestHead(
  socket: Socket,
  maxHeaderBytes: number,
  timeout: number,
): Promise<{ head: RequestHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = EMPTY;
    const finish = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.pause();
    };
    const onData = (chunk: Buffer): void => {
      const searchFrom = buffered.length;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const end = findHeadEnd(buffered, searchFrom);
      if (end === -1) {
        if (buffered.length > maxHeaderBytes) {
          finish();
          reject(new HandshakeError(431, 'request header fields too large'));
        }
        return;
      }
      finish();
      if (end > maxHeaderBytes) {
        reject(new HandshakeError(431, 'request header fields too large'));
        return;
      }
      try {
        resolve({ head: parseRequestHead(buffered.subarray(0, end)), rest: buffered.subarray(end) });
      } catch (error) {
        reject(error);
      }
    };
    const onEnd = (): void => {
      finish();
      reject(new HandshakeError(400, 'the client closed before completing its request'));
    };
    // Slowloris: a client that does not finish its request in time is dropped.
    const timer = setTimeout(() => {
      finish();
      reject(new HandshakeError(408, 'handshake timeout', {}, '', 'SW_HANDSHAKE_TIMEOUT'));
    }, timeout);
    timer.unref();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

const EMPTY = Buffer.alloc(0);
