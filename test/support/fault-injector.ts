/**
 * A raw WebSocket peer over an in-memory socket pair, with faults on demand: reset the "TCP"
 * connection (mid-frame if you like), stop reading, vanish without a trace (half-open), or send
 * whatever bytes a well-behaved client never would. It reaches the server through
 * `WebSocketServer.acceptSocket()`, so no real socket, port or timer is involved.
 */
import { type ProtocolError } from '../../src/errors.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { type WebSocketServer } from '../../src/server/server.js';
import { clientFrame, closeBody } from './frames.js';
import { upgradeRequest } from './net.js';
import { asSocket, socketPair, type MemorySocket } from './memory-socket.js';

export type PeerEvent =
  | { kind: 'message'; data: Buffer; binary: boolean; compressed: boolean }
  | { kind: 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; closeCode: number };

export class FaultyPeer {
  readonly end: MemorySocket;
  readonly serverEnd: MemorySocket;
  /** What the server sent after its 101, parsed. */
  readonly events: PeerEvent[] = [];
  /** The HTTP response head (status line and headers). */
  responseHead = '';
  /** Everything received while no 101 was seen (a refusal: head and body). */
  refusal = Buffer.alloc(0);
  /** Bytes received from the server in all (head included). */
  bytesReceived = 0;
  ended = false;
  closed = false;
  private buffered = Buffer.alloc(0);
  private readonly parser: FrameParser;

  private constructor(end: MemorySocket, serverEnd: MemorySocket) {
    this.end = end;
    this.serverEnd = serverEnd;
    this.parser = new FrameParser(
      // RSV1 allowed: a test that negotiates permessage-deflate inflates `compressed` messages itself.
      { role: 'client', maxPayload: 1 << 30, allowRsv1: true },
      {
        onMessage: (data, binary, compressed) => void this.events.push({ kind: 'message', data: Buffer.from(data), binary, compressed }),
        onPing: (data) => {
          this.events.push({ kind: 'ping', data: Buffer.from(data) });
          // A live peer answers pings (RFC 6455 §5.5.2); a vanished one sends nothing anyway.
          this.end.write(clientFrame({ opcode: 10, payload: data }));
        },
        onPong: (data) => void this.events.push({ kind: 'pong', data: Buffer.from(data) }),
        onClose: (code, reason) => void this.events.push({ kind: 'close', code, reason }),
        onError: (error: ProtocolError) => void this.events.push({ kind: 'error', closeCode: error.closeCode }),
      },
    );
    end.on('data', (chunk: Buffer) => this.received(chunk));
    end.on('end', () => {
      this.ended = true;
      // Like a client's TCP stack whose application closes: answer the server's FIN with ours.
      if (!end.blackholed) end.end();
    });
    end.on('close', () => (this.closed = true));
    end.on('error', () => {});
  }

  /**
   * Connects to `server` in memory from `address` and sends an upgrade request (`extra` header
   * lines added). Resolves once the server's response head arrived (whatever its status).
   */
  static async connect(server: WebSocketServer<unknown>, options: { path?: string; address?: string; extra?: readonly string[]; request?: string } = {}): Promise<FaultyPeer> {
    const { client, server: serverEnd } = socketPair(options.address);
    const peer = new FaultyPeer(client, serverEnd);
    server.acceptSocket(asSocket(serverEnd));
    client.write(options.request ?? upgradeRequest({ path: options.path ?? '/', extra: options.extra ?? [] }));
    await peer.until(() => peer.responseHead !== '' || peer.closed, 'the response head');
    return peer;
  }

  /** The response status (0 when none arrived). */
  get status(): number {
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(this.responseHead)?.[1] ?? 0);
  }

  private received(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    if (this.status !== 101) this.refusal = Buffer.concat([this.refusal, chunk]);
    if (this.responseHead === '') {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.responseHead = this.buffered.subarray(0, end).toString('latin1');
      chunk = this.buffered.subarray(end + 4);
      this.buffered = Buffer.alloc(0);
    }
    if (chunk.length !== 0) this.parser.push(Buffer.from(chunk));
  }

  /** Sends a masked text message (or any bytes). */
  send(data: string | Buffer): void {
    this.end.write(typeof data === 'string' ? clientFrame({ opcode: 1, payload: data }) : data);
  }

  /** Sends a close frame. */
  sendClose(code = 1000, reason = ''): void {
    this.end.write(clientFrame({ opcode: 8, payload: closeBody(code, reason) }));
  }

  /** Sends the first `bytes` bytes of `frame`, then resets the connection. */
  resetMidFrame(frame: Buffer, bytes: number): void {
    this.end.write(frame.subarray(0, bytes));
    setImmediate(() => this.end.destroy());
  }

  /** Resets the connection (the server sees ECONNRESET). */
  reset(): void {
    this.end.destroy();
  }

  /** Stops reading: the server's writes back up in the pair's buffers, then in the server. */
  stopReading(): void {
    this.end.pause();
  }

  /**
   * Vanishes: from now on nothing crosses the pair in either direction and no FIN or reset is
   * ever seen (a peer whose host died, or a NAT that dropped the mapping: half-open).
   */
  vanish(): void {
    this.end.blackholed = true;
    this.serverEnd.blackholed = true;
    this.end.pause();
  }

  /** Events of a kind, in order. */
  of<K extends PeerEvent['kind']>(kind: K): Array<Extract<PeerEvent, { kind: K }>> {
    return this.events.filter((event): event is Extract<PeerEvent, { kind: K }> => event.kind === kind);
  }

  /** Waits (at most `turns` turns of the event loop, no timers) for `check` to hold. */
  async until(check: () => boolean, label: string, turns = 2000): Promise<void> {
    for (let i = 0; i < turns; i++) {
      if (check()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    throw new Error(`gave up waiting for ${label}`);
  }
}
