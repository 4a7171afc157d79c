/**
 * The WHATWG WebSocket class (src/client/websocket.ts), end to end over real sockets on 127.0.0.1:
 * against a sockwave server and against the `ws` package's server (the same tests for both),
 * against scripted TCP servers for failures, and side by side with Chromium's own WebSocket (the
 * same script in both, the two event traces compared).
 *
 * Every wait is bounded; Chromium missing is a failure, not a skip (see test/interop/chromium.test.ts).
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type RawData, type WebSocket as WsSocket } from 'ws';
import { HandshakeError, ProtocolError, SockwaveError, refuse, type ServerOptions } from '../../src/index.js';
import { CloseEvent, createErrorEvent, toClampedUnsignedShort, toUSVString, type WebSocketErrorEvent } from '../../src/client/dom-events.js';
import { WebSocket, type WebSocketMessageData, type WebSocketMessageEvent } from '../../src/client/websocket.js';
import { sharedBrowser as browser } from '../interop/support/chromium.js';
import { selfSignedCertificate } from '../interop/support/tls.js';
import {
  Queue,
  WAIT_MS,
  closedPort,
  deferred,
  recordWs,
  startServer,
  startRawWsServer,
  startSilentServer,
  startWsServer,
  withTimeout,
  type StartedServer,
} from '../support/net.js';
import { catchUncaught } from '../support/server-kit.js';
import { UnreadableBlob } from '../support/unreadable-blob.js';

// ---------------------------------------------------------------------------------------------
// Recording a WebSocket's events

interface Seen {
  type: string;
  /** readyState when the event was dispatched. */
  readyState: number;
  event: Event;
}

/** Every open/message/error/close event of `ws`, in order, with the readyState at the time. */
class Recorder {
  readonly events = new Queue<Seen>();
  constructor(readonly ws: WebSocket) {
    for (const type of ['open', 'message', 'error', 'close'] as const) {
      ws.addEventListener(type, (event: Event) => this.events.push({ type, readyState: ws.readyState, event }));
    }
  }

  /** The next event, which must be of `type`. */
  async next(type: string, label = `the ${type} event`, ms = WAIT_MS): Promise<Seen> {
    const seen = await this.events.next(label, ms);
    assert.equal(seen.type, type, `${label}: got '${seen.type}' (${describeEvent(seen.event)}) instead; so far: ${this.types().join(', ')}`);
    return seen;
  }

  async message(label = 'a message'): Promise<WebSocketMessageEvent> {
    const seen = await this.next('message', label);
    assert.equal(seen.readyState, WebSocket.OPEN);
    return seen.event as WebSocketMessageEvent;
  }

  async close(label = 'the close event', ms = WAIT_MS): Promise<CloseEvent> {
    const seen = await this.next('close', label, ms);
    assert.equal(seen.readyState, WebSocket.CLOSED, 'readyState is CLOSED at the close event');
    return seen.event as CloseEvent;
  }

  types(): string[] {
    return this.events.history.map((seen) => seen.type);
  }
}

function describeEvent(event: Event): string {
  if (event instanceof CloseEvent) return `close ${event.code} ${JSON.stringify(event.reason)} wasClean=${event.wasClean}`;
  if (event.type === 'message') return `message ${String((event as WebSocketMessageEvent).data)}`;
  if (event.type === 'error') return `error: ${(event as WebSocketErrorEvent).error?.message ?? '(no reason)'}`;
  return event.type;
}

/** Closes `ws` when the test ends (bounded), whatever state it is in. */
function cleanup(t: TestContext, ws: WebSocket): void {
  t.after(async () => {
    if (ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
    if (ws.readyState !== WebSocket.CLOSING) ws.close();
    await withTimeout(closed, 'the WebSocket to close after the test', WAIT_MS).catch(() => undefined);
  });
}

/** A WebSocket, recorded from the start and closed when the test ends. */
function create(t: TestContext, url: string | URL, second?: ConstructorParameters<typeof WebSocket>[1]): { ws: WebSocket; rec: Recorder } {
  const ws = new WebSocket(url, second);
  const rec = new Recorder(ws);
  cleanup(t, ws);
  return { ws, rec };
}

/** A WebSocket that has opened (its open event seen, with readyState OPEN). */
async function open(t: TestContext, url: string, second?: ConstructorParameters<typeof WebSocket>[1]): Promise<{ ws: WebSocket; rec: Recorder }> {
  const opened = create(t, url, second);
  const seen = await opened.rec.next('open', `${url} to open`);
  assert.equal(seen.readyState, WebSocket.OPEN);
  return opened;
}

/** Waits for the error then close events of a failed connection: 1006, not clean, CLOSED at both. */
async function failed(rec: Recorder, label: string, ms = WAIT_MS): Promise<WebSocketErrorEvent> {
  const error = await rec.next('error', `${label}: the error event`, ms);
  assert.equal(error.readyState, WebSocket.CLOSED, 'readyState is CLOSED at the error event');
  assert.equal(error.event.constructor, Event, 'the error event is a plain Event');
  // The failure rides on the event as a non-enumerable property (not part of the standard's shape).
  assert.equal(Object.getOwnPropertyDescriptor(error.event, 'error')?.enumerable, false, 'the error property is not enumerable');
  assert.ok((error.event as WebSocketErrorEvent).error instanceof Error, 'the error property is an Error');
  const close = await rec.close(`${label}: the close event`, ms);
  assert.deepEqual({ code: close.code, reason: close.reason, wasClean: close.wasClean }, { code: 1006, reason: '', wasClean: false });
  assert.ok(!rec.types().includes('open'), `${label}: no open event (${rec.types().join(', ')})`);
  return error.event as WebSocketErrorEvent;
}

async function bytesOf(data: WebSocketMessageData): Promise<number[]> {
  if (typeof data === 'string') return [...Buffer.from(data)];
  if (data instanceof Blob) return [...new Uint8Array(await data.arrayBuffer())];
  return [...new Uint8Array(data)];
}

async function until(condition: () => boolean, label: string, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs `fn`, which must throw a DOMException named `name`. */
function throwsDom(fn: () => unknown, name: string, label: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DOMException, `${label}: a DOMException, got ${String(error)}`);
    assert.equal(error.name, name, `${label}: ${error.message}`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Servers: sockwave and ws, echoing, with a few commands; each connection seen from the server

interface ServerMessage {
  data: Buffer;
  isBinary: boolean;
}

/** One connection, as the server sees it. */
interface Peer {
  protocol: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  message(label?: string): Promise<ServerMessage>;
  pendingMessages(): number;
  closed(): Promise<{ code: number; reason: string }>;
}

interface Kit {
  name: string;
  url: string;
  /** The server side of the next connection. */
  peer(): Promise<Peer>;
}

/**
 * What both servers do with a text message: `cmd:close CODE REASON`, `cmd:close` (no status),
 * `cmd:two text`, `cmd:two binary`, `cmd:last then close`; anything else is echoed.
 */
function serve(text: string | undefined, data: Buffer, isBinary: boolean, actions: { send(data: string | Buffer): void; close(code?: number, reason?: string): void }): void {
  if (text === undefined || !text.startsWith('cmd:')) return actions.send(isBinary ? data : data.toString('utf8'));
  const [command, ...args] = text.slice(4).split(' ');
  if (command === 'close' && args.length === 0) return actions.close();
  if (command === 'close') return actions.close(Number(args[0]), args.slice(1).join(' '));
  if (command === 'two' && args[0] === 'text') {
    actions.send('m1');
    actions.send('m2');
    return;
  }
  if (command === 'two' && args[0] === 'binary') {
    actions.send(Buffer.from([1, 1]));
    actions.send(Buffer.from([2, 2]));
    return;
  }
  if (command === 'last') {
    actions.send('last words');
    actions.close(1001, 'then gone');
    return;
  }
  throw new Error(`unknown test command ${text}`);
}

async function sockwaveKit(t: TestContext, options: ServerOptions = {}): Promise<Kit & { srv: StartedServer<unknown> }> {
  const srv = await startServer({
    onConnection: () => ({
      onMessage: (conn, data, isBinary) => {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        serve(isBinary ? undefined : (data as string), bytes, isBinary, {
          send: (out) => void conn.send(out),
          close: (code, reason) => conn.close(code, reason),
        });
      },
    }),
    ...options,
  });
  t.after(() => srv.close());
  return {
    srv,
    name: 'sockwave',
    url: `${srv.url}/echo`,
    async peer(): Promise<Peer> {
      const { connection, rec, request } = await srv.connections.next('the server-side connection');
      return {
        protocol: connection.protocol,
        headers: request.headers,
        async message(label = 'a message at the server') {
          const m = await rec.messages.next(label);
          return { data: typeof m.data === 'string' ? Buffer.from(m.data) : m.data, isBinary: m.isBinary };
        },
        pendingMessages: () => rec.messages.pending,
        closed: () => rec.closed().then((info) => ({ code: info.code, reason: info.reason })),
      };
    },
  };
}

async function wsKit(t: TestContext, supported?: readonly string[]): Promise<Kit> {
  const srv = await startWsServer(
    supported === undefined ? {} : { handleProtocols: (offered: Set<string>) => [...offered].find((p) => supported.includes(p)) ?? false },
  );
  t.after(() => srv.close());
  const peers = new Queue<Peer>();
  srv.wss.on('connection', (ws: WsSocket, request) => {
    const rec = recordWs(ws, 'the ws server-side socket');
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      serve(isBinary ? undefined : bytes.toString('utf8'), bytes, isBinary, {
        send: (out) => ws.send(out),
        close: (code, reason) => ws.close(code, reason),
      });
    });
    peers.push({
      protocol: ws.protocol,
      headers: request.headers,
      message: (label = 'a message at the ws server') => rec.messages.next(label),
      pendingMessages: () => rec.messages.pending,
      closed: () => rec.closed(),
    });
  });
  return { name: 'ws', url: `${srv.url}/echo`, peer: () => peers.next('the ws server-side connection') };
}

/**
 * A scripted server: answers every upgrade with a valid 101 (with `protocol` as
 * Sec-WebSocket-Protocol when given), followed by `after101`; then destroys the socket when
 * `destroy` is set (or resets it, RST, when `reset` is). It reads whatever comes next and ends
 * when the client ends, or `endAfterEcho` ms after the client's close frame arrived.
 */
async function rawServer(
  t: TestContext,
  script: { after101?: Buffer; destroy?: boolean; reset?: boolean; protocol?: string; endAfterEcho?: number } = {},
): Promise<{ url: string; connections: Queue<Socket> }> {
  const raw = await startRawWsServer(script.after101, {
    paused: false,
    headers: script.protocol === undefined ? [] : [`Sec-WebSocket-Protocol: ${script.protocol}`],
    upgraded: (socket) => {
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        got += chunk.length;
        // A masked close frame with a status code is 8 bytes: the client's echo of ours.
        if (script.endAfterEcho !== undefined && got >= 8) setTimeout(() => socket.end(), script.endAfterEcho);
      });
      socket.on('end', () => socket.end());
      if (script.destroy) setTimeout(() => socket.destroy(), 20);
      if (script.reset) setTimeout(() => socket.resetAndDestroy(), 20);
    },
  });
  t.after(() => raw.close());
  return { url: `${raw.url}/`, connections: raw.sockets };
}

/** An unmasked server frame. */
function frame(opcode: number, payload: string | Buffer, fin = true): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  assert.ok(body.length < 126);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, body.length]), body]);
}

// ---------------------------------------------------------------------------------------------
// The interface itself

describe('WebSocket: the interface', () => {
  test('the constants are on the class and on the prototype, read-only, enumerable, not configurable', () => {
    const expected = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
    for (const [name, value] of Object.entries(expected)) {
      for (const [where, target] of [['class', WebSocket], ['prototype', WebSocket.prototype]] as const) {
        assert.deepEqual(Object.getOwnPropertyDescriptor(target, name), { value, writable: false, enumerable: true, configurable: false }, `${name} on the ${where}`);
      }
    }
    assert.ok(WebSocket.prototype instanceof EventTarget);
    assert.equal(Object.prototype.toString.call(WebSocket.prototype), '[object WebSocket]');
    for (const name of ['url', 'readyState', 'bufferedAmount', 'extensions', 'protocol', 'binaryType', 'onopen', 'onmessage', 'onerror', 'onclose']) {
      assert.ok(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.get, `${name} is an accessor on the prototype`);
    }
  });

  test('the attributes and operations are enumerable, as in a browser; @@toStringTag is a data property', () => {
    // What a browser's Object.keys(WebSocket.prototype) lists (the order is the interface's).
    const browser = ['url', 'readyState', 'bufferedAmount', 'onopen', 'onerror', 'onclose', 'extensions', 'protocol', 'close', 'onmessage', 'binaryType', 'send', 'CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
    assert.deepEqual(Object.keys(WebSocket.prototype).sort(), [...browser].sort());
    for (const name of ['close', 'send']) {
      const descriptor = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.deepEqual([typeof descriptor?.value, descriptor?.writable, descriptor?.enumerable, descriptor?.configurable], ['function', true, true, true], name);
    }
    assert.deepEqual(Object.getOwnPropertyDescriptor(WebSocket.prototype, Symbol.toStringTag), { value: 'WebSocket', writable: false, enumerable: false, configurable: true });
    const ws = new WebSocket('ws://127.0.0.1:1/');
    ws.onerror = () => {};
    assert.equal(String(ws), '[object WebSocket]');
    const listed: string[] = [];
    for (const key in ws) listed.push(key);
    assert.ok(['url', 'readyState', 'send', 'onmessage'].every((name) => listed.includes(name)), listed.join(' '));
    ws.close();
  });

  test('an invalid URL is a "SyntaxError" DOMException, thrown by the constructor', () => {
    for (const url of ['not a url', '/relative', 'ftp://127.0.0.1/', 'file:///tmp/x', 'ws://127.0.0.1/#fragment', 'ws://127.0.0.1/#', 'ws://127.0.0.1:99999/']) {
      throwsDom(() => new WebSocket(url), 'SyntaxError', url);
    }
    throwsDom(() => new WebSocket(new URL('ws://127.0.0.1/#x')), 'SyntaxError', 'a URL object with a fragment');
  });

  test('a value that cannot be converted to a string (a Symbol) is a TypeError, as WebIDL converts before the URL or protocols are checked', () => {
    assert.throws(() => new WebSocket(Symbol('url') as unknown as string), (error) => error instanceof TypeError && !(error instanceof DOMException));
    for (const protocols of [[Symbol('p')], ['chat', Symbol('p')]] as unknown as string[][]) {
      assert.throws(() => new WebSocket('ws://127.0.0.1:1/', protocols), (error) => error instanceof TypeError, 'in the protocols list');
      assert.throws(() => new WebSocket('ws://127.0.0.1:1/', { protocols }), (error) => error instanceof TypeError, 'in options.protocols');
    }
  });

  test('subprotocols repeated or not tokens are a "SyntaxError" DOMException; the comparison is case-sensitive', async (t) => {
    for (const protocols of [['a', 'a'], ['a', 'b', 'a'], [''], ['a b'], ['a,b'], ['é'], ['a/b'], 'two words', '']) {
      throwsDom(() => new WebSocket('ws://127.0.0.1:1/', protocols), 'SyntaxError', JSON.stringify(protocols));
      throwsDom(() => new WebSocket('ws://127.0.0.1:1/', { protocols }), 'SyntaxError', `{ protocols: ${JSON.stringify(protocols)} }`);
    }
    // The standard and browsers compare as they are (Chromium accepts ['chat', 'Chat']).
    const port = await closedPort();
    const { rec } = create(t, `ws://127.0.0.1:${port}/`, ['chat', 'Chat']);
    await failed(rec, 'a refused connection offering chat and Chat');
  });

  test('http: and https: become ws: and wss:; url is the serialized URL', async (t) => {
    const port = await closedPort();
    const cases: Array<[string | URL, string]> = [
      [`http://127.0.0.1:${port}/a?b=1`, `ws://127.0.0.1:${port}/a?b=1`],
      [`https://127.0.0.1:${port}`, `wss://127.0.0.1:${port}/`],
      [`HTTP://127.0.0.1:80/x`, 'ws://127.0.0.1/x'],
      [new URL(`ws://127.0.0.1:${port}/path with space`), `ws://127.0.0.1:${port}/path%20with%20space`],
    ];
    for (const [input, expected] of cases) {
      const { ws, rec } = create(t, input);
      assert.equal(ws.url, expected);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      ws.close();
      await failed(rec, String(input));
    }
  });

  test('a missing required argument is a TypeError (WebIDL): new WebSocket(), send(), addEventListener(type); WebSocket.length is 1', async (t) => {
    assert.equal(WebSocket.length, 1);
    // @ts-expect-error: the URL is required
    assert.throws(() => new WebSocket(), TypeError);
    const server = await startServer({ onConnection: () => ({ onMessage: (connection, data) => void connection.send(`got ${String(data)}`) }) });
    t.after(() => server.close());
    const { ws, rec } = await open(t, server.url);
    // @ts-expect-error: the data is required
    assert.throws(() => ws.send(), TypeError);
    assert.equal(ws.bufferedAmount, 0, 'nothing was sent');
    ws.send(undefined as unknown as string);
    assert.equal((await rec.message()).data, 'got undefined', 'an explicit undefined is converted, as WebIDL says');
    for (const operation of ['addEventListener', 'removeEventListener'] as const) {
      assert.throws(() => (ws[operation] as (...args: unknown[]) => void)('message'), { name: 'TypeError', message: new RegExp(`'${operation}'.*2 arguments required, but only 1 present`) });
      // A null listener is given, not missing: nothing happens.
      ws[operation]('message', null);
    }
  });

  test('send() while CONNECTING is an "InvalidStateError" DOMException, and adds nothing to bufferedAmount', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const { ws, rec } = create(t, `ws://127.0.0.1:${silent.port}/`);
    throwsDom(() => ws.send('early'), 'InvalidStateError', 'send while connecting');
    throwsDom(() => ws.send(new Blob(['x'])), 'InvalidStateError', 'send a Blob while connecting');
    assert.equal(ws.bufferedAmount, 0);
    ws.close();
    await failed(rec, 'close while connecting');
  });

  test('binaryType: "blob" by default; an invalid value is ignored; "nodebuffer" is accepted', async (t) => {
    const port = await closedPort();
    const { ws, rec } = create(t, `ws://127.0.0.1:${port}/`);
    assert.equal(ws.binaryType, 'blob');
    ws.binaryType = 'arraybuffer';
    assert.equal(ws.binaryType, 'arraybuffer');
    for (const invalid of ['BLOB', 'buffer', '', 'fragments']) {
      (ws as { binaryType: string }).binaryType = invalid;
      assert.equal(ws.binaryType, 'arraybuffer', `${invalid} is ignored`);
    }
    ws.binaryType = 'nodebuffer';
    assert.equal(ws.binaryType, 'nodebuffer');
    ws.binaryType = 'blob';
    assert.equal(ws.binaryType, 'blob');
    // WebIDL converts the value to a string first, which a Symbol cannot be: a TypeError.
    assert.throws(() => ((ws as { binaryType: unknown }).binaryType = Symbol('arraybuffer')), TypeError);
    assert.equal(ws.binaryType, 'blob');
    await failed(rec, 'refused');
  });

  test('an event handler set to null (or a non-object) when none was set stays null, and the events still come', async (t) => {
    const port = await closedPort();
    const { ws, rec } = create(t, `ws://127.0.0.1:${port}/`);
    for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) {
      ws[name] = null;
      (ws as unknown as Record<string, unknown>)[name] = 'not a handler';
      assert.equal(ws[name], null, name);
    }
    // Each attribute reads back what it was given, and only that type's.
    const handlers = { onopen: () => {}, onmessage: () => {}, onerror: () => {}, onclose: () => {} };
    for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) ws[name] = handlers[name];
    for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) assert.equal(ws[name], handlers[name], name);
    for (const name of ['onopen', 'onmessage', 'onerror', 'onclose'] as const) ws[name] = null;
    // removeEventListener removes (with the same capture flag), as EventTarget's does.
    const calls: string[] = [];
    const removed = (): void => void calls.push('removed');
    const removedCapture = (): void => void calls.push('removed capture');
    ws.addEventListener('close', removed);
    ws.addEventListener('close', removedCapture, { capture: true });
    ws.removeEventListener('close', removed);
    ws.removeEventListener('close', removedCapture, { capture: true });
    await failed(rec, 'refused, with no handler ever set');
    assert.deepEqual(calls, []);
  });

  test('protocols null is the string "null" (WebIDL), offered as that subprotocol; close.length is 0', async (t) => {
    const server = await startServer({ protocols: ['null'] });
    t.after(() => server.close());
    const { ws } = await open(t, server.url, null as unknown as string);
    assert.equal(ws.protocol, 'null');
    // Both of close()'s arguments are optional.
    assert.equal(WebSocket.prototype.close.length, 0);
  });

  test('CloseEvent: an Event with code, reason, wasClean, converted as WebIDL says', () => {
    // @ts-expect-error: the type is required
    assert.throws(() => new CloseEvent(), TypeError);
    const plain = new CloseEvent('close');
    // A dictionary given as null is an empty one.
    assert.deepEqual([new CloseEvent('close', null).code, new CloseEvent('close', null).wasClean], [0, false]);
    assert.ok(plain instanceof Event);
    assert.equal(plain.constructor.name, 'CloseEvent');
    assert.deepEqual([plain.type, plain.code, plain.reason, plain.wasClean], ['close', 0, '', false]);
    const init = new CloseEvent('close', { code: 4000, reason: 'bye', wasClean: true, cancelable: true });
    assert.deepEqual([init.code, init.reason, init.wasClean, init.cancelable], [4000, 'bye', true, true]);
    assert.equal(new CloseEvent('close', { code: 65536 + 1000 }).code, 1000, 'unsigned short wraps modulo 2^16');
    for (const code of [Infinity, -Infinity, Number.NaN]) assert.equal(new CloseEvent('close', { code }).code, 0, `code ${code} is 0`);
    assert.equal(new CloseEvent('close', { reason: 'a\uD800b' }).reason, 'a\uFFFDb', 'USVString replaces lone surrogates');
    // A reason that is falsy but not missing is converted, not defaulted: 0 is "0", false is "false".
    assert.deepEqual([0, false].map((reason) => new CloseEvent('close', { reason: reason as unknown as string }).reason), ['0', 'false']);
    // Only undefined is a member not given: null is converted, as any other value.
    assert.equal(new CloseEvent('close', { reason: null as unknown as string }).reason, 'null');
    // wasClean, code and reason are WebIDL attributes: enumerable accessors on the prototype.
    for (const name of ['wasClean', 'code', 'reason']) {
      const descriptor = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name);
      assert.equal(typeof descriptor?.get, 'function', `${name} is an accessor`);
      assert.equal(descriptor?.enumerable, true, `${name} is enumerable`);
    }
    assert.equal(Object.prototype.toString.call(init), '[object CloseEvent]');
    // [Clamp] unsigned short, as close() converts its code.
    assert.deepEqual([1000.4, 2999.6, 4999.5, 4998.5, -5, 70000, Number.NaN].map(toClampedUnsignedShort), [1000, 3000, 5000, 4998, 0, 65535, 0]);
    // Above .5 rounds up whatever the parity; a tie goes to the even neighbour (1000.5 down, 3.5 up).
    assert.deepEqual([1000.6, 1000.5, 3.5, 2.5].map(toClampedUnsignedShort), [1001, 1000, 4, 2]);
    assert.equal(toUSVString('\uDC00x\uD83D\uDE00'), '\uFFFDx\uD83D\uDE00');
    // An error event made without a known cause has no error property at all.
    assert.equal(Object.hasOwn(createErrorEvent(undefined), 'error'), false);
  });
});

// ---------------------------------------------------------------------------------------------
// Against both servers

for (const kind of ['sockwave', 'ws'] as const) {
  const kit = (t: TestContext): Promise<Kit> => (kind === 'sockwave' ? sockwaveKit(t) : wsKit(t));

  describe(`WebSocket against a ${kind} server`, { timeout: 60_000 }, () => {
    test('open is dispatched after the constructor returned, as an Event, with readyState OPEN', async (t) => {
      const server = await kit(t);
      const ws = new WebSocket(server.url);
      cleanup(t, ws);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      assert.equal(ws.protocol, '');
      // A listener added after the constructor returned (even after a tick) still sees open.
      await new Promise((resolve) => setImmediate(resolve));
      const rec = new Recorder(ws);
      const seen = await rec.next('open');
      assert.equal(seen.event.constructor, Event);
      assert.equal(seen.readyState, WebSocket.OPEN);
      assert.equal(seen.event.target, ws);
      assert.equal(ws.url, server.url);
      assert.equal(ws.extensions, '', 'no extension without compression on the server');
      await server.peer();
    });

    test('text (multibyte) and binary round trips, with binaryType blob, arraybuffer and nodebuffer', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const text = 'héllo € 𝄞 😀 中文';
      ws.send(text);
      const echoed = await rec.message('the text echo');
      assert.ok(echoed instanceof MessageEvent);
      assert.equal(echoed.data, text);
      assert.equal(echoed.origin, new URL(server.url).origin);
      assert.equal(echoed.origin, `ws://127.0.0.1:${new URL(server.url).port}`);

      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
      ws.send(bytes.buffer);
      const asBlob = await rec.message('the binary echo as a Blob');
      assert.ok(asBlob.data instanceof Blob, 'blob is the default');
      assert.deepEqual(await bytesOf(asBlob.data), [...bytes]);

      ws.binaryType = 'arraybuffer';
      ws.send(bytes.subarray(2, 5)); // a view: only its section is sent
      const asArrayBuffer = await rec.message('the binary echo as an ArrayBuffer');
      assert.ok(asArrayBuffer.data instanceof ArrayBuffer);
      assert.deepEqual(await bytesOf(asArrayBuffer.data), [2, 253, 254]);

      ws.binaryType = 'nodebuffer';
      ws.send(new DataView(bytes.buffer, 1, 2));
      const asBuffer = await rec.message('the binary echo as a Buffer');
      assert.ok(Buffer.isBuffer(asBuffer.data));
      assert.deepEqual([...asBuffer.data], [1, 2]);

      ws.send(new Blob(['blob text ☃']));
      const fromBlob = await rec.message('the echo of a Blob');
      assert.ok(Buffer.isBuffer(fromBlob.data), 'a Blob is sent as binary');
      assert.equal(fromBlob.data.toString(), 'blob text ☃');

      // WebIDL: a BufferSource may not be shared. A TypeError, nothing sent, nothing counted.
      const shared = new SharedArrayBuffer(4);
      assert.throws(() => ws.send(shared as unknown as ArrayBuffer), TypeError);
      assert.throws(() => ws.send(new Uint8Array(shared)), TypeError);
      // Nor resizable (no [AllowResizable]).
      const resizable = new (ArrayBuffer as new (length: number, options: { maxByteLength: number }) => ArrayBuffer)(2, { maxByteLength: 8 });
      assert.throws(() => ws.send(resizable), TypeError);
      assert.throws(() => ws.send(new Uint8Array(resizable)), TypeError);
      assert.equal(ws.bufferedAmount, 0);
      // A detached ArrayBuffer has no bytes: an empty binary message.
      const detached = new ArrayBuffer(4);
      const viewOfDetached = new Uint8Array(detached);
      structuredClone(detached, { transfer: [detached] });
      ws.send(detached);
      const fromDetached = await rec.message('the echo of a detached ArrayBuffer');
      assert.ok(Buffer.isBuffer(fromDetached.data), 'binary');
      assert.equal(fromDetached.data.length, 0);
      ws.send(viewOfDetached);
      assert.deepEqual((await rec.message('the echo of a view of it')).data, Buffer.alloc(0));
      ws.send('after the refused ones');
      assert.equal((await rec.message('the next echo')).data, 'after the refused ones');
    });

    test('binaryType is read when each message event is dispatched', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const kinds: string[] = [];
      ws.addEventListener('message', (event) => {
        kinds.push(event.data instanceof Blob ? 'Blob' : event.data instanceof ArrayBuffer ? 'ArrayBuffer' : typeof event.data);
        ws.binaryType = 'arraybuffer'; // both messages have already arrived: the second still changes
      });
      ws.send('cmd:two binary');
      await rec.message('the first message');
      await rec.message('the second message');
      assert.deepEqual(kinds, ['Blob', 'ArrayBuffer']);
    });

    test('send() keeps the order: what follows a Blob waits for it; close() waits too; bufferedAmount counts it all at once', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const peer = await server.peer();
      const big = Buffer.alloc(300 * 1024, 7);
      ws.send(new Blob([big]));
      ws.send('after the big blob');
      ws.send(new Blob(['small blob']));
      ws.send(new Uint8Array([9, 9, 9]));
      ws.send('last text');
      ws.close(4000, 'after all that');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.equal(ws.bufferedAmount, big.length + 18 + 10 + 3 + 9);
      const received = [];
      for (let i = 0; i < 5; i++) received.push(await peer.message(`message ${i + 1} at the server`));
      assert.deepEqual(
        received.map((m) => (m.isBinary ? `binary ${m.data.length}` : m.data.toString())),
        [`binary ${big.length}`, 'after the big blob', 'binary 10', 'binary 3', 'last text'],
      );
      assert.ok(received[0]!.data.equals(big));
      assert.deepEqual(await peer.closed(), { code: 4000, reason: 'after all that' });
      const close = await rec.close();
      assert.deepEqual([close.code, close.wasClean], [4000, true]);
    });

    test('close(4000, reason): CLOSING at once, the server sees the code and reason, a clean close event', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const peer = await server.peer();
      ws.close(4000, 'done ✓');
      assert.equal(ws.readyState, WebSocket.CLOSING);
      ws.close(1000); // already closing: nothing
      assert.deepEqual(await peer.closed(), { code: 4000, reason: 'done ✓' });
      const close = await rec.close();
      assert.ok(close instanceof CloseEvent);
      assert.equal(close.constructor.name, 'CloseEvent');
      assert.equal(close.code, 4000, 'the server echoes the code');
      assert.equal(close.wasClean, true);
      assert.deepEqual(rec.types(), ['open', 'close']);
    });

    test('close() without a code sends no status (1005); a reason without a code sends 1000', async (t) => {
      const server = await kit(t);
      const first = await open(t, server.url);
      const peer1 = await server.peer();
      first.ws.close();
      assert.deepEqual(await peer1.closed(), { code: 1005, reason: '' });
      assert.equal((await first.rec.close()).wasClean, true);
      const second = await open(t, server.url);
      const peer2 = await server.peer();
      second.ws.close(undefined, 'why not');
      assert.deepEqual(await peer2.closed(), { code: 1000, reason: 'why not' });
      await second.rec.close();
    });

    test('close() rejects bad codes ("InvalidAccessError") and long reasons ("SyntaxError"), changing nothing', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const peer = await server.peer();
      for (const code of [0, 999, 1001, 1005, 1006, 1011, 2999, 5000, 65535, -1, Number.NaN, 2999.4]) {
        throwsDom(() => ws.close(code), 'InvalidAccessError', `close(${code})`);
      }
      throwsDom(() => ws.close(null as unknown as number), 'InvalidAccessError', 'close(null) is close(0)');
      throwsDom(() => ws.close(4000, 'x'.repeat(124)), 'SyntaxError', '124 ASCII bytes');
      throwsDom(() => ws.close(4000, '€'.repeat(42)), 'SyntaxError', '42 × € is 126 bytes');
      // The code is checked first.
      throwsDom(() => ws.close(5000, 'x'.repeat(200)), 'InvalidAccessError', 'both wrong');
      // But both arguments are converted (WebIDL) before any check: a reason that cannot be
      // converted throws its TypeError first, and one that can is converted once, before the code is refused.
      assert.throws(() => ws.close(999, Symbol('reason') as unknown as string), TypeError, 'close(999, a Symbol)');
      let conversions = 0;
      const reason = { toString: () => String(++conversions) };
      throwsDom(() => ws.close(5000, reason as unknown as string), 'InvalidAccessError', 'close(5000, an object)');
      assert.equal(conversions, 1, 'the reason converted before the code was refused');
      assert.throws(() => ws.send(Symbol('data') as unknown as string), TypeError, 'send(a Symbol)');
      assert.equal(ws.readyState, WebSocket.OPEN, 'still open');
      ws.send('still works');
      assert.equal((await rec.message('the echo after the errors')).data, 'still works');
      ws.close(3000.4, '€'.repeat(41)); // [Clamp]: 3000; 123 bytes is allowed
      assert.deepEqual(await peer.closed(), { code: 3000, reason: '€'.repeat(41) });
      await rec.close();
      // 4999, the top of the range, is allowed too.
      const second = await open(t, server.url);
      const peer2 = await server.peer();
      second.ws.close(4999);
      assert.deepEqual(await peer2.closed(), { code: 4999, reason: '' });
      await second.rec.close();
      // close() once CLOSED does nothing: the socket stays CLOSED, and no event follows.
      second.ws.close();
      second.ws.close(1000, 'again');
      assert.equal(second.ws.readyState, WebSocket.CLOSED);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(second.rec.types(), ['open', 'close']);
    });

    test('the server closes: messages before it, then a clean close event with its code and reason', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      ws.send('cmd:last');
      assert.equal((await rec.message('the last message')).data, 'last words');
      const close = await rec.close();
      assert.deepEqual([close.code, close.reason, close.wasClean], [1001, 'then gone', true]);
      const again = await open(t, server.url);
      again.ws.send('cmd:close');
      const empty = await again.rec.close();
      assert.deepEqual([empty.code, empty.reason, empty.wasClean], [1005, '', true]);
      assert.deepEqual(again.rec.types(), ['open', 'close']);
    });

    test('messages that arrive after close() was called are not dispatched', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      ws.addEventListener('message', () => ws.close(4001), { once: true });
      ws.send('cmd:two text'); // m1 and m2 leave the server together
      assert.equal((await rec.message('m1')).data, 'm1');
      const close = await rec.close('the close event, with no m2 before it');
      assert.equal(close.code, 4001);
      assert.deepEqual(rec.types(), ['open', 'message', 'close']);
    });

    test('bufferedAmount: grows at send(), falls back to 0 once sent; after close() it only grows', async (t) => {
      const server = await kit(t);
      const { ws, rec } = await open(t, server.url);
      const peer = await server.peer();
      const size = 2 * 1024 * 1024;
      ws.send(new Uint8Array(size));
      assert.equal(ws.bufferedAmount, size);
      await until(() => ws.bufferedAmount === 0, 'bufferedAmount to fall back to 0');
      assert.equal((await peer.message('the 2 MiB message')).data.length, size);
      // Both servers echo: take the echo while OPEN, so that the next event can only be close.
      await rec.message('the echo of the 2 MiB message');
      ws.close();
      ws.send('abc');
      ws.send(new Uint8Array(10));
      ws.send(new Blob(['12345']));
      ws.send('€'); // 3 bytes of UTF-8
      assert.equal(ws.bufferedAmount, 21);
      await rec.close();
      ws.send(new ArrayBuffer(4));
      assert.equal(ws.bufferedAmount, 25, 'still growing once CLOSED');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(ws.bufferedAmount, 25, 'never taken away');
      assert.equal(peer.pendingMessages(), 0, 'nothing sent after close() reached the server');
    });

    test('subprotocols: the server selects one of those offered; protocol is set at open', async (t) => {
      const server = kind === 'sockwave' ? await sockwaveKit(t, { protocols: ['b', 'c'] }) : await wsKit(t, ['b', 'c']);
      const ws = new WebSocket(server.url, ['a', 'c', 'b']);
      cleanup(t, ws);
      const rec = new Recorder(ws);
      assert.equal(ws.protocol, '', 'empty until open');
      await rec.next('open');
      assert.equal(ws.protocol, 'c', "the client's preference among those the server supports");
      assert.equal((await server.peer()).protocol, 'c');
      const single = await open(t, server.url, 'b');
      assert.equal(single.ws.protocol, 'b');
      const viaOptions = await open(t, server.url, { protocols: ['x', 'b'] });
      assert.equal(viaOptions.ws.protocol, 'b');
    });

    test('subprotocols offered and none selected: the connection fails (error, close 1006)', async (t) => {
      const server = kind === 'sockwave' ? await sockwaveKit(t) : await wsKit(t, []);
      const { ws, rec } = create(t, server.url, ['chat', 'superchat']);
      const error = await failed(rec, 'no subprotocol selected');
      assert.equal(ws.protocol, '');
      assert.ok(error.error instanceof HandshakeError, 'sockwave extension: the reason is on the event');
      assert.match(error.error.message, /none of the subprotocols/);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Failures

describe('WebSocket: failed connections', { timeout: 60_000 }, () => {
  test('connection refused: error, then close 1006 (not clean), readyState CLOSED at both, no open', async (t) => {
    const port = await closedPort();
    const { ws, rec } = create(t, `ws://127.0.0.1:${port}/`);
    const error = await failed(rec, 'refused');
    assert.equal(ws.readyState, WebSocket.CLOSED);
    assert.ok(error.error instanceof SockwaveError);
    assert.match(error.error.message, /connection refused/);
    assert.deepEqual(rec.types(), ['error', 'close']);
  });

  test('an HTTP_PROXY that cannot be used is not the caller\'s fault: the constructor returns, then error and close 1006', async (t) => {
    const port = await closedPort();
    for (const variable of ['socks5://127.0.0.1:1080', 'http://[bad']) {
      const before = process.env['HTTP_PROXY'];
      process.env['HTTP_PROXY'] = variable;
      let created: ReturnType<typeof create>;
      try {
        created = create(t, `ws://127.0.0.1:${port}/`);
      } finally {
        if (before === undefined) delete process.env['HTTP_PROXY'];
        else process.env['HTTP_PROXY'] = before;
      }
      assert.equal(created.ws.readyState, WebSocket.CONNECTING);
      const error = await failed(created.rec, variable);
      assert.ok(error.error instanceof TypeError);
      assert.match(error.error.message, /^HTTP_PROXY: /);
      assert.deepEqual(created.rec.types(), ['error', 'close']);
    }
  });

  test('close() while CONNECTING: CLOSING at once, the handshake is abandoned, error then close 1006', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const { ws, rec } = create(t, `ws://127.0.0.1:${silent.port}/`);
    const socket = await silent.sockets.next('the TCP connection at the silent server');
    ws.close(4000, 'never mind');
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.close(); // closing already: nothing
    await failed(rec, 'closed while connecting');
    await withTimeout(new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))), 'the abandoned TCP connection to close');
    assert.deepEqual(rec.types(), ['error', 'close']);
  });

  test('the server refuses the upgrade (403): error, close 1006; the HandshakeError is on the event', async (t) => {
    const server = await sockwaveKit(t, { onConnection: () => refuse(403, { body: 'go away' }) });
    const { rec } = create(t, server.url);
    const error = await failed(rec, 'refused with 403');
    assert.ok(error.error instanceof HandshakeError);
    assert.equal(error.error.status, 403);
  });

  test('the server selects a subprotocol that was not offered: error, close 1006', async (t) => {
    const raw = await rawServer(t, { protocol: 'unasked' });
    const { rec } = create(t, raw.url, ['chat']);
    await failed(rec, 'a subprotocol not offered');
  });

  test('TLS: an untrusted certificate fails (error, close 1006); with options.tls.ca it opens', async (t) => {
    const certificate = await selfSignedCertificate(t);
    const cert = readFileSync(certificate.cert);
    const server = await sockwaveKit(t, { tls: { cert, key: readFileSync(certificate.key) } });
    const url = server.url.replace(/^ws:/, 'wss:');
    const untrusted = create(t, url);
    const error = await failed(untrusted.rec, 'an untrusted certificate');
    assert.match(error.error?.message ?? '', /TLS|certificate/i);
    const trusted = await open(t, url, { tls: { ca: cert } });
    trusted.ws.send('over TLS');
    assert.equal((await trusted.rec.message()).data, 'over TLS');
  });

  test('options.connectTimeout: a server that never answers fails the connection', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const { rec } = create(t, `ws://127.0.0.1:${silent.port}/`, { connectTimeout: 100 });
    const error = await failed(rec, 'handshake timeout');
    assert.equal((error.error as SockwaveError | undefined)?.code, 'SW_HANDSHAKE_TIMEOUT');
  });

  test('options.signal aborts the handshake: error, close 1006, and the socket of the attempt is closed', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const controller = new AbortController();
    const { ws, rec } = create(t, `ws://127.0.0.1:${silent.port}/`, { signal: controller.signal });
    const serverSide = await silent.sockets.next('the TCP connection');
    const socketClosed = new Promise<void>((resolve) => (serverSide.destroyed ? resolve() : serverSide.once('close', () => resolve())));
    controller.abort();
    const error = await failed(rec, 'aborted');
    assert.equal((error.error as SockwaveError | undefined)?.code, 'SW_ABORTED');
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await withTimeout(socketClosed, 'the aborted attempt to close its socket');
  });

  test('a protocol error from the server (a reserved opcode) fails the connection: error, close 1006', async (t) => {
    const raw = await rawServer(t, { after101: frame(0x3, '') });
    const { rec } = create(t, raw.url);
    await rec.next('open');
    const error = await rec.next('error');
    assert.equal(error.readyState, WebSocket.CLOSED);
    assert.ok((error.event as WebSocketErrorEvent).error instanceof ProtocolError);
    const close = await rec.close();
    assert.deepEqual([close.code, close.reason, close.wasClean], [1006, '', false]);
  });

  test('the TCP connection drops after open: close 1006, not clean, and no error event', async (t) => {
    const raw = await rawServer(t, { destroy: true });
    const { rec } = create(t, raw.url);
    await rec.next('open');
    const close = await rec.close();
    assert.deepEqual([close.code, close.reason, close.wasClean], [1006, '', false]);
    assert.deepEqual(rec.types(), ['open', 'close']);
  });

  test('the TCP connection is reset (RST) after open: close 1006, not clean, and no error event', async (t) => {
    const raw = await rawServer(t, { reset: true });
    const { rec } = create(t, raw.url);
    await rec.next('open');
    const close = await rec.close();
    assert.deepEqual([close.code, close.reason, close.wasClean], [1006, '', false]);
    assert.deepEqual(rec.types(), ['open', 'close']);
  });

  test('a reset while a message is still on its way: bufferedAmount keeps counting the bytes that were not sent', async (t) => {
    // The server never reads, then resets: 32 MiB cannot all have left (the kernel buffers hold far less).
    const raw = await startRawWsServer(undefined, { upgraded: (socket) => setTimeout(() => socket.resetAndDestroy(), 100) });
    t.after(() => raw.close());
    const { ws, rec } = create(t, `${raw.url}/`);
    await rec.next('open');
    const size = 32 * 1024 * 1024;
    ws.send(new Uint8Array(size));
    const close = await rec.close();
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    assert.equal(ws.bufferedAmount, size);
  });

  test('the server starts the closing handshake: CLOSING once the messages before its close frame were dispatched', async (t) => {
    // The close frame comes right behind a message, and the server closes TCP only 200 ms after
    // the client's answer: in between, the closing handshake has started, the close event not.
    const after101 = Buffer.concat([frame(0x1, 'just before the close'), frame(0x8, Buffer.from([0x03, 0xe9]))]);
    const raw = await rawServer(t, { after101, endAfterEcho: 200 });
    const { ws, rec } = create(t, raw.url);
    const socket = await raw.connections.next('the raw connection');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    await rec.next('open');
    const seen: Array<[string, number, number]> = [];
    const later = deferred();
    ws.addEventListener(
      'message',
      () => {
        seen.push(['in the message event', ws.readyState, ws.bufferedAmount]);
        ws.send('late'); // the closing handshake has started: not sent, counted
        // A microtask of the message event's task: still before the task that sets CLOSING.
        queueMicrotask(() => seen.push(['in a microtask of the message event', ws.readyState, ws.bufferedAmount]));
        setTimeout(() => {
          seen.push(['50 ms later', ws.readyState, ws.bufferedAmount]);
          ws.send('later');
          ws.close(4000); // closing already: nothing
          later.resolve();
        }, 50);
      },
      { once: true },
    );
    assert.equal((await rec.message()).data, 'just before the close');
    await withTimeout(later.promise, 'the timer');
    const close = await rec.close();
    assert.deepEqual([close.code, close.wasClean], [1001, true]);
    assert.deepEqual(seen, [
      ['in the message event', WebSocket.OPEN, 0],
      ['in a microtask of the message event', WebSocket.OPEN, 4],
      ['50 ms later', WebSocket.CLOSING, 4],
    ]);
    assert.equal(ws.bufferedAmount, 9, 'counted, never sent');
    // Only the echo of the close frame (masked: 2 + 4 + 2 bytes) reached the server.
    assert.equal(Buffer.concat(received).length, 8);
  });

  test('after a message event, CLOSING shows before any timer or immediate its listener queued, once its microtasks have run', async (t) => {
    // A message, then the close frame and the end of TCP at once: the close event may come soon.
    const after101 = Buffer.concat([frame(0x1, 'last words'), frame(0x8, Buffer.from([0x0f, 0xa0]))]);
    const raw = await rawServer(t, { after101, endAfterEcho: 0 });
    const { ws, rec } = create(t, raw.url);
    await rec.next('open');
    const seen: Array<[string, number]> = [];
    const done = { timer: deferred(), immediate: deferred() };
    ws.addEventListener(
      'message',
      () => {
        seen.push(['in the listener', ws.readyState]);
        void (async () => {
          await null;
          await null;
          await null;
          seen.push(['after three awaits', ws.readyState]);
        })();
        setTimeout(() => {
          seen.push(['in a timer', ws.readyState]);
          done.timer.resolve();
        });
        setImmediate(() => {
          seen.push(['in an immediate', ws.readyState]);
          done.immediate.resolve();
        });
        // (So that the timer is due at the event loop's next turn.)
        const start = Date.now();
        while (Date.now() - start < 3);
      },
      { once: true },
    );
    assert.equal((await rec.message()).data, 'last words');
    await withTimeout(Promise.all([done.timer.promise, done.immediate.promise]), 'the timer and the immediate');
    assert.equal((await rec.close()).code, 4000);
    const states = new Map(seen);
    assert.equal(states.get('in the listener'), WebSocket.OPEN);
    assert.equal(states.get('after three awaits'), WebSocket.OPEN, 'the microtasks of the message task run before the task that sets CLOSING');
    for (const where of ['in a timer', 'in an immediate']) {
      // CLOSING, or CLOSED if the close event's task ran first: no longer OPEN.
      assert.ok([WebSocket.CLOSING, WebSocket.CLOSED].includes(states.get(where) as 2 | 3), `${where}: readyState ${states.get(where)}, ${JSON.stringify(seen)}`);
    }
  });

  test('a compressed message still inflating when the close frame behind it arrives: readyState stays OPEN, and the message is dispatched', async (t) => {
    // 4 MiB of text inflate in the thread pool; the close frame right behind it is read meanwhile.
    const server = await startWsServer({ perMessageDeflate: true });
    t.after(() => server.close());
    const { ws, rec } = create(t, server.url);
    const peer = await server.connections.next('the connection');
    await rec.next('open');
    assert.match(ws.extensions, /^permessage-deflate\b/, 'the extension negotiated is the attribute');
    const text = 'x'.repeat(4 * 1024 * 1024);
    // An application that reads readyState at every turn of the event loop (a timer that sends
    // while OPEN, say): CLOSING may not show before the message is dispatched.
    const states: number[] = [];
    let polling = true;
    const poll = (): void => {
      states.push(ws.readyState);
      if (polling) setImmediate(poll);
    };
    poll();
    peer.ws.send(text);
    peer.ws.close(4000, 'after the message');
    const seen = await rec.next('message', 'the 4 MiB message');
    polling = false;
    assert.equal(seen.readyState, WebSocket.OPEN);
    assert.equal((seen.event as WebSocketMessageEvent).data, text);
    assert.ok(!states.includes(WebSocket.CLOSING), 'CLOSING came after the message');
    assert.ok(states.length > 1, 'readyState was read while the message was on its way');
    const close = await rec.close();
    assert.deepEqual([close.code, close.reason, close.wasClean], [4000, 'after the message', true]);
  });

  test('a close frame right behind the 101: readyState is OPEN in the open event, CLOSING after it', async (t) => {
    const raw = await rawServer(t, { after101: frame(0x8, Buffer.from([0x0f, 0xa1])), endAfterEcho: 50 });
    const { ws, rec } = create(t, raw.url);
    const states: number[] = [];
    const awaited = deferred();
    ws.addEventListener('open', async () => {
      states.push(ws.readyState);
      queueMicrotask(() => states.push(ws.readyState));
      // An async listener: its awaits are microtasks of the same task.
      await null;
      await null;
      states.push(ws.readyState);
      awaited.resolve();
    });
    await rec.next('open');
    await withTimeout(awaited.promise, 'the async open listener');
    assert.deepEqual(states, [WebSocket.OPEN, WebSocket.OPEN, WebSocket.OPEN], 'OPEN for the open event and all its microtasks');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const close = await rec.close();
    assert.equal(close.code, 4001);
  });

  test('a Blob that cannot be read fails the connection: what was sent before it goes out, then close 1011; error, close 1006, and nothing after it is sent', async (t) => {
    const server = await sockwaveKit(t);
    const { ws, rec } = await open(t, server.url);
    const peer = await server.peer();
    ws.send('before the unreadable blob');
    ws.send(new UnreadableBlob(['x']));
    ws.send('after the unreadable blob');
    assert.equal((await rec.message('the echo of what was sent before the Blob')).data, 'before the unreadable blob');
    const error = await rec.next('error');
    assert.equal((error.event as WebSocketErrorEvent).error?.message, 'a Blob passed to send() could not be read');
    const close = await rec.close();
    assert.deepEqual([close.code, close.wasClean], [1006, false]);
    assert.deepEqual(await peer.closed(), { code: 1011, reason: 'a Blob passed to send() could not be read' });
    assert.equal(String((await peer.message()).data), 'before the unreadable blob');
    assert.equal(peer.pendingMessages(), 0);
    assert.equal(ws.bufferedAmount, 1 + 'after the unreadable blob'.length, 'what was not sent stays counted');
  });

  test('Node does not crash when nobody listens to error (refused, protocol error, dropped connection)', async (t) => {
    const port = await closedPort();
    const bad = await rawServer(t, { after101: frame(0x3, '') });
    const dropped = await rawServer(t, { destroy: true });
    const sockets = [new WebSocket(`ws://127.0.0.1:${port}/`), new WebSocket(bad.url), new WebSocket(dropped.url)];
    for (const ws of sockets) cleanup(t, ws);
    await until(() => sockets.every((ws) => ws.readyState === WebSocket.CLOSED), 'all three to be CLOSED');
    await new Promise((resolve) => setTimeout(resolve, 50)); // an uncaught error would have surfaced by now
  });
});

// ---------------------------------------------------------------------------------------------
// Events and event handler attributes

describe('WebSocket: events', { timeout: 60_000 }, () => {
  test('an async event handler that rejects is reported as an uncaught exception, as an async listener is', async (t) => {
    const uncaught = catchUncaught(t);
    const port = await closedPort();
    const { ws, rec } = create(t, `ws://127.0.0.1:${port}/`);
    ws.onclose = async () => {
      await null;
      throw new Error('from the onclose handler');
    };
    ws.addEventListener('close', async () => {
      await null;
      throw new Error('from a close listener');
    });
    await failed(rec, 'a refused connection');
    await until(() => uncaught.messages.length === 2, 'both errors reported');
    assert.deepEqual(uncaught.messages.sort(), ['from a close listener', 'from the onclose handler']);
  });

  test('each event is its own task: microtasks queued by one listener run before the next event', async (t) => {
    // Both messages arrive in the same TCP segment as the 101.
    const raw = await rawServer(t, { after101: Buffer.concat([frame(0x1, 'first'), frame(0x1, 'second')]) });
    const { ws } = create(t, raw.url);
    const log: string[] = [];
    const done = deferred();
    ws.onopen = () => {
      log.push('open');
      void Promise.resolve().then(() => log.push('microtask after open'));
    };
    ws.onmessage = (event) => {
      log.push(String(event.data));
      void Promise.resolve().then(() => log.push(`microtask after ${String(event.data)}`));
      if (event.data === 'second') done.resolve();
    };
    await withTimeout(done.promise, 'both messages');
    await Promise.resolve();
    assert.deepEqual(log, ['open', 'microtask after open', 'first', 'microtask after first', 'second', 'microtask after second']);
  });

  test('onopen/onmessage/onerror/onclose: replacing keeps the place among listeners, null removes, this is the socket', async (t) => {
    const server = await sockwaveKit(t);
    const { ws, rec } = await open(t, server.url);
    const calls: string[] = [];
    assert.equal(ws.onmessage, null);
    ws.addEventListener('message', () => calls.push('listener A'));
    const first = function (this: WebSocket): void {
      calls.push('handler 1');
    };
    ws.onmessage = first;
    assert.equal(ws.onmessage, first);
    ws.addEventListener('message', () => calls.push('listener B'));
    let self: unknown;
    const second = function (this: WebSocket): void {
      self = this;
      calls.push('handler 2');
    };
    ws.onmessage = second; // replaces handler 1, in handler 1's place
    assert.equal(ws.onmessage, second);
    ws.send('one');
    await rec.message();
    assert.deepEqual(calls, ['listener A', 'handler 2', 'listener B']);
    assert.equal(self, ws);

    calls.length = 0;
    ws.onmessage = null; // removed
    assert.equal(ws.onmessage, null);
    ws.send('two');
    await rec.message();
    assert.deepEqual(calls, ['listener A', 'listener B']);

    calls.length = 0;
    ws.onmessage = first; // set again: now after the others
    ws.send('three');
    await rec.message();
    assert.deepEqual(calls, ['listener A', 'listener B', 'handler 1']);

    // A non-object is null; an object that cannot be called is kept and does nothing.
    (ws as unknown as { onmessage: unknown }).onmessage = 5;
    assert.equal(ws.onmessage, null);
    const notCallable = { handleEvent: () => calls.push('not called') };
    (ws as unknown as { onmessage: unknown }).onmessage = notCallable;
    assert.equal(ws.onmessage, notCallable);
    calls.length = 0;
    ws.send('four');
    await rec.message();
    assert.deepEqual(calls, ['listener A', 'listener B']);

    const closed = deferred<CloseEvent>();
    ws.onclose = (event) => closed.resolve(event);
    ws.onerror = () => calls.push('error');
    ws.close(4002);
    assert.equal((await withTimeout(closed.promise, 'onclose')).code, 4002);
    assert.ok(!calls.includes('error'));
  });

  test('onopen and onerror, onclose on a failed connection', async (t) => {
    const port = await closedPort();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    cleanup(t, ws);
    const order: string[] = [];
    const done = deferred();
    ws.onopen = () => order.push('open');
    ws.onerror = (event) => order.push(`error ${event.constructor.name} ${ws.readyState}`);
    ws.onclose = (event) => {
      order.push(`close ${event.code} ${event.wasClean}`);
      done.resolve();
    };
    await withTimeout(done.promise, 'onclose');
    assert.deepEqual(order, ['error Event 3', 'close 1006 false']);
  });

  test('options.headers and options.origin reach the server', async (t) => {
    const server = await sockwaveKit(t);
    await open(t, server.url, { headers: { 'X-Token': 't0k3n' }, origin: 'https://example.test' });
    const peer = await server.peer();
    assert.equal(peer.headers['x-token'], 't0k3n');
    assert.equal(peer.headers['origin'], 'https://example.test');
  });

  test('the TSDoc @example of the class runs as it is written', async (t) => {
    const source = readFileSync(fileURLToPath(new URL('../../../src/client/websocket.ts', import.meta.url)), 'utf8');
    const block = /@example\n([\s\S]*?)\*\/\nexport class WebSocket/.exec(source);
    assert.ok(block, 'the class has an @example');
    const code = block[1]!
      .split('\n')
      .map((line) => line.replace(/^ \* ?/, ''))
      .join('\n');
    const server = await sockwaveKit(t);
    const lines: string[] = [];
    const closed = deferred();
    const fakeConsole = {
      log: (...args: unknown[]) => {
        lines.push(args.map((arg) => (arg instanceof Uint8Array ? `[${[...arg].join(',')}]` : String(arg))).join(' '));
        if (args[0] === 'closed') closed.resolve();
      },
    };
    const run = new Function('WebSocket', 'console', code.replace('ws://127.0.0.1:8080/echo', server.url)) as (ws: typeof WebSocket, c: typeof fakeConsole) => void;
    run(WebSocket, fakeConsole);
    await withTimeout(closed.promise, 'the example to close');
    // The sockwave server echoes the close code without a reason of its own.
    assert.deepEqual(lines, ['text hello', 'binary [1,2,3]', 'closed 1000  true']);
  });
});

// ---------------------------------------------------------------------------------------------
// Side by side with Chromium: the same script, the same trace


/** What the scripts need of a WebSocket class: the standard's API, nothing of sockwave's. */
interface StandardSocket {
  readonly readyState: number;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  addEventListener(type: string, listener: (event: StandardEvent) => void): void;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;
}
interface StandardEvent {
  readonly type: string;
  readonly constructor: { name: string };
  readonly data?: unknown;
  readonly origin?: string;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
}
type StandardSocketClass = new (url: string, protocols?: string | string[]) => StandardSocket;

/**
 * Runs in Chromium (as its source text) and in Node, unchanged: opens, sends text and binary
 * (an ArrayBuffer, a view, a Blob), receives the echoes with binaryType blob then arraybuffer,
 * closes with 4000. Returns the trace of everything it saw. Self-contained: no outside names.
 */
async function echoScript(WebSocketClass: StandardSocketClass, url: string): Promise<unknown[]> {
  const trace: unknown[] = [];
  const pending: Array<Promise<unknown>> = [];
  const describeData = async (data: unknown): Promise<unknown[]> => {
    if (typeof data === 'string') return ['string', data];
    if (data instanceof ArrayBuffer) return ['ArrayBuffer', Array.from(new Uint8Array(data))];
    if (data instanceof Blob) return ['Blob', data.size, data.type, Array.from(new Uint8Array(await data.arrayBuffer()))];
    return ['unexpected', String(data)];
  };
  const ws = new WebSocketClass(url, ['sockwave.trace', 'other']);
  trace.push(['constructed', ws.readyState, ws.url, ws.protocol, ws.extensions, ws.binaryType, ws.bufferedAmount]);
  let early = 'no error';
  try {
    ws.send('too early');
  } catch (error) {
    early = `${(error as { constructor: { name: string } }).constructor.name} ${(error as { name: string }).name}`;
  }
  trace.push(['send while connecting', early]);
  let received = 0;
  await new Promise<void>((resolve) => {
    const record = (event: StandardEvent): void => {
      const entry: unknown[] = [event.type, event.constructor.name, ws.readyState];
      trace.push(entry);
      if (event.type === 'open') {
        entry.push(ws.protocol, ws.extensions);
        ws.send('hello ✓ 😀');
        ws.send(new Uint8Array([1, 2, 3]).buffer);
        ws.send(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
        ws.send(new Blob(['blob ☃']));
        ws.send('after the blob');
      } else if (event.type === 'message') {
        entry.push(event.origin, typeof event.data);
        pending.push(describeData(event.data).then((described) => entry.push(described)));
        received += 1;
        if (received === 2) ws.binaryType = 'arraybuffer';
        if (received === 5) {
          ws.close(4000, 'done');
          entry.push('after close()', ws.readyState);
          ws.send('after close');
          entry.push('bufferedAmount', ws.bufferedAmount);
        }
      } else if (event.type === 'close') {
        entry.push(event.code, event.reason, event.wasClean, ws.bufferedAmount);
        resolve();
      }
    };
    for (const type of ['open', 'message', 'error', 'close']) ws.addEventListener(type, record);
  });
  await Promise.all(pending);
  return trace;
}

/**
 * Runs in Chromium and in Node, unchanged: the event sequences of failures (each connection one
 * after the other): refused, closed while connecting, subprotocol not selected, a protocol error
 * from the server, the TCP connection dropped (FIN, then RST), the server closing with 1001, and
 * the readyState while the server's closing handshake is under way.
 */
async function failureScript(WebSocketClass: StandardSocketClass, urls: Record<string, string>): Promise<Record<string, unknown[]>> {
  const traces: Record<string, unknown[]> = {};
  const run = (name: string, url: string, protocols: string[] | undefined, onOpen: (ws: StandardSocket) => void, atOnce?: (ws: StandardSocket, trace: unknown[]) => void): Promise<void> =>
    new Promise<void>((resolve) => {
      const trace: unknown[] = [];
      traces[name] = trace;
      const ws = protocols === undefined ? new WebSocketClass(url) : new WebSocketClass(url, protocols);
      for (const type of ['open', 'message', 'error', 'close']) {
        ws.addEventListener(type, (event) => {
          const entry: unknown[] = [event.type, event.constructor.name, ws.readyState];
          if (event.type === 'message') entry.push(event.data);
          if (event.type === 'close') entry.push(event.code, event.reason, event.wasClean);
          trace.push(entry);
          if (event.type === 'open') onOpen(ws);
          if (event.type === 'close') resolve();
        });
      }
      if (atOnce) atOnce(ws, trace);
    });
  await run('refused', urls['refused']!, undefined, () => {});
  await run('closeWhileConnecting', urls['silent']!, undefined, () => {}, (ws, trace) => {
    ws.close(4000);
    trace.push(['after close()', ws.readyState]);
  });
  await run('subprotocolNotSelected', urls['echo']!, ['chat'], () => {});
  await run('protocolError', urls['badFrame']!, undefined, () => {});
  await run('dropped', urls['dropped']!, undefined, () => {});
  await run('reset', urls['reset']!, undefined, () => {});
  await run('serverCloses', urls['echo']!, undefined, (ws) => ws.send('cmd:last'));
  await run('serverStartsClosing', urls['closing']!, undefined, () => {}, (ws, trace) => {
    ws.addEventListener('message', () => {
      trace.push(['in the message event', ws.readyState]);
      setTimeout(() => trace.push(['50 ms later', ws.readyState]), 50);
    });
  });
  return traces;
}

/** Runs a script's source text in a fresh Chromium page, with the browser's own WebSocket. */
async function inChromium<T>(t: TestContext, script: (...args: never[]) => Promise<T>, arg: unknown): Promise<T> {
  const context = await withTimeout((await browser()).newContext(), 'a browser context', 10_000);
  t.after(() => withTimeout(context.close(), 'the browser context to close', 10_000).catch(() => undefined));
  const page = await withTimeout(context.newPage(), 'a page', 10_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const result = await withTimeout(page.evaluate(`(${script.toString()})(WebSocket, ${JSON.stringify(arg)})`) as Promise<T>, 'the script in chromium', 30_000);
  assert.deepEqual(errors, []);
  return result;
}

describe('WebSocket beside Chromium: code written for a browser runs unchanged', { timeout: 120_000 }, () => {
  test('the same echo script gives the same event trace (types, readyState, data types, close code/reason/wasClean)', async (t) => {
    const running = await browser();
    t.diagnostic(`chromium ${running.version()}`);
    const server = await sockwaveKit(t, { protocols: ['sockwave.trace'] });
    const fromChromium = await inChromium(t, echoScript, server.url);
    const fromNode = await withTimeout(echoScript(WebSocket as unknown as StandardSocketClass, server.url), 'the script in node', 30_000);
    assert.deepEqual(fromNode, fromChromium);
    // And the trace is the one expected (so that two identical wrong traces fail too).
    const origin = `ws://127.0.0.1:${new URL(server.url).port}`;
    assert.deepEqual(fromNode, [
      ['constructed', 0, server.url, '', '', 'blob', 0],
      ['send while connecting', 'DOMException InvalidStateError'],
      ['open', 'Event', 1, 'sockwave.trace', ''],
      ['message', 'MessageEvent', 1, origin, 'string', ['string', 'hello ✓ 😀']],
      ['message', 'MessageEvent', 1, origin, 'object', ['Blob', 3, '', [1, 2, 3]]],
      ['message', 'MessageEvent', 1, origin, 'object', ['ArrayBuffer', [8, 7]]],
      ['message', 'MessageEvent', 1, origin, 'object', ['ArrayBuffer', [...Buffer.from('blob ☃')]]],
      ['message', 'MessageEvent', 1, origin, 'string', 'after close()', 2, 'bufferedAmount', 11, ['string', 'after the blob']],
      ['close', 'CloseEvent', 3, 4000, '', true, 11],
    ]);
  });

  test('the same failure script gives the same event sequences', async (t) => {
    await browser();
    const server = await sockwaveKit(t);
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const badFrame = await rawServer(t, { after101: frame(0x3, '') });
    const dropped = await rawServer(t, { destroy: true });
    const reset = await rawServer(t, { reset: true });
    const closing = await rawServer(t, { after101: Buffer.concat([frame(0x1, 'bye soon'), frame(0x8, Buffer.from([0x03, 0xe9]))]), endAfterEcho: 200 });
    const urls = {
      closing: closing.url,
      reset: reset.url,
      refused: `ws://127.0.0.1:${await closedPort()}/`,
      silent: `ws://127.0.0.1:${silent.port}/`,
      echo: server.url,
      badFrame: badFrame.url,
      dropped: dropped.url,
    };
    const fromChromium = await inChromium(t, failureScript, urls);
    const fromNode = await withTimeout(failureScript(WebSocket as unknown as StandardSocketClass, urls), 'the failure script in node', 30_000);
    assert.deepEqual(fromNode, fromChromium);
    const failure = [
      ['error', 'Event', 3],
      ['close', 'CloseEvent', 3, 1006, '', false],
    ];
    assert.deepEqual(fromNode, {
      refused: failure,
      closeWhileConnecting: [['after close()', 2], ...failure],
      subprotocolNotSelected: failure,
      protocolError: [['open', 'Event', 1], ...failure],
      dropped: [
        ['open', 'Event', 1],
        ['close', 'CloseEvent', 3, 1006, '', false],
      ],
      reset: [
        ['open', 'Event', 1],
        ['close', 'CloseEvent', 3, 1006, '', false],
      ],
      serverCloses: [
        ['open', 'Event', 1],
        ['message', 'MessageEvent', 1, 'last words'],
        ['close', 'CloseEvent', 3, 1001, 'then gone', true],
      ],
      serverStartsClosing: [
        ['open', 'Event', 1],
        ['message', 'MessageEvent', 1, 'bye soon'],
        ['in the message event', 1],
        ['50 ms later', 2],
        ['close', 'CloseEvent', 3, 1001, '', true],
      ],
    });
  });
});
