/**
 * Property-based tests of a whole server connection (fast-check, async): an echo server reached
 * through the in-memory socket pair, so the I/O layer (inbox, inflation in the thread pool,
 * write batching) is under test too, not only the sans-I/O core.
 */
import { strict as assert } from 'node:assert';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { WebSocketServer } from '../../../src/server/server.js';
import { FaultyPeer } from '../fault-injector.js';
import { clientFrame } from '../frames.js';
import { chunk, hostileStreamArb } from './frame-properties.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Polls `check` every 2 ms of real time (work may be in the thread pool), at most `ms`. */
async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 2) {
    if (check()) return true;
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
  return check();
}

interface Message {
  binary: boolean;
  data: Buffer;
  compress: boolean;
  fragments: number;
  pingBefore: boolean;
}

const messageArb: fc.Arbitrary<Message> = fc.record({
  binary: fc.boolean(),
  // Mostly small; sometimes large and compressible, which inflates in the thread pool.
  data: fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')) },
    { weight: 1, arbitrary: fc.integer({ min: 300_000, max: 400_000 }).map((n) => Buffer.alloc(n, 'ab')) },
  ),
  compress: fc.boolean(),
  fragments: fc.integer({ min: 1, max: 4 }),
  pingBefore: fc.boolean(),
});

/** A client message as frames: compressed when asked (RSV1 on the first frame), fragmented. */
function frames(message: Message): Buffer {
  const payload = message.compress ? deflateRawSync(message.data, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4) : message.data;
  const size = Math.max(1, Math.ceil(payload.length / message.fragments));
  const out: Buffer[] = message.pingBefore ? [clientFrame({ opcode: 9, payload: 'p' })] : [];
  for (let at = 0, first = true; first || at < payload.length; at += size, first = false) {
    const end = Math.min(payload.length, at + size);
    out.push(clientFrame({ opcode: first ? (message.binary ? 2 : 1) : 0, fin: end === payload.length, rsv1: first && message.compress, payload: payload.subarray(at, end) }));
  }
  return Buffer.concat(out);
}

/** The server's echo of a message, inflated when it came compressed. */
function echoed(peer: FaultyPeer, index: number): Buffer {
  const { data, compressed } = peer.of('message')[index]!;
  return compressed ? inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }) : data;
}

/**
 * Random message sequences — text and binary, compressed or not, fragmented, pings between —
 * sent in random chunks come back from an echo server identical and in order.
 */
export function connectionEchoProperty(): fc.IAsyncPropertyWithHooks<[Message[], number[]]> {
  return fc.asyncProperty(fc.array(messageArb, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }), async (messages, sizes) => {
    const server = new WebSocketServer({ perMessageDeflate: { threshold: 0 }, onConnection: () => ({ onMessage: (c, data, binary) => void c.send(data, { binary }) }) });
    try {
      const peer = await FaultyPeer.connect(server, { extra: ['Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover'] });
      assert.equal(peer.status, 101);
      for (const piece of chunk(Buffer.concat(messages.map(frames)), sizes)) peer.end.write(piece);
      await waitUntil(() => peer.of('message').length === messages.length || peer.closed, 10_000);
      assert.equal(peer.of('message').length, messages.length, JSON.stringify(peer.events.map((e) => e.kind)));
      messages.forEach((message, i) => {
        assert.equal(peer.of('message')[i]!.binary, message.binary);
        assert.ok(echoed(peer, i).equals(message.data), `message ${i}`);
      });
      assert.equal(peer.of('pong').length, messages.filter((m) => m.pingBefore).length);
    } finally {
      await server.close({ timeout: 1 });
    }
  });
}

/**
 * Hostile bytes to a server connection: nothing escapes as an exception, at most one close frame
 * comes back, and the server still serves a fresh peer afterwards.
 */
export function connectionHostileProperty(): fc.IAsyncPropertyWithHooks<[Uint8Array, number[], boolean]> {
  return fc.asyncProperty(hostileStreamArb, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }), fc.boolean(), async (stream, sizes, deflate) => {
    const server = new WebSocketServer({ maxPayload: 2000, perMessageDeflate: deflate, onConnection: () => ({ onMessage: (c, data, binary) => void c.send(data, { binary }) }) });
    try {
      const extra = deflate ? ['Sec-WebSocket-Extensions: permessage-deflate'] : [];
      const peer = await FaultyPeer.connect(server, { extra });
      for (const piece of chunk(stream, sizes)) peer.end.write(piece);
      await peer.until(() => peer.serverEnd.writableLength === 0, 'the server to flush', 200).catch(() => undefined);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.ok(peer.of('close').length <= 1, 'one close frame at most');
      const fresh = await FaultyPeer.connect(server, { extra, address: '10.1.1.1' });
      fresh.send('ok?');
      await fresh.until(() => fresh.of('message').length === 1, 'the echo to a fresh peer');
    } finally {
      await server.close({ timeout: 1 });
    }
  });
}
