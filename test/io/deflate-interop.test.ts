/**
 * permessage-deflate end to end over real sockets (127.0.0.1, port 0): sockwave against `ws` in
 * both roles with every option combination, sockwave against itself, raw TCP peers that send bad
 * compressed frames or read our frames byte by byte, ordering behind the thread pool, and broadcast.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import WebSocket from 'ws';
import { connect, HandshakeError, ProtocolError, type Connection, type ConnectionHandler, type SockwaveError } from '../../src/index.js';
import { PerMessageDeflate } from '../../src/extensions/permessage-deflate/codec.js';
import { type PerMessageDeflateOptions } from '../../src/extensions/permessage-deflate/negotiation.js';
import { clientFrame, serverFrame } from '../support/frames.js';
import {
  closePayload,
  closeWs,
  payloadBytes,
  Queue,
  RawClient,
  record,
  recordWs,
  rawUpgradeOffering,
  startRawWsServer,
  startServer,
  startWsServer,
  withTimeout,
  type ServerFrame,
  type StartedServer,
} from '../support/net.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const MiB = 1024 * 1024;
const SYNC_LIMIT = 256 * 1024;
const LONG_WAIT = 20_000;

// ---------------------------------------------------------------------------------------------
// Messages

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'zoë', '€uro'];

/** Compressible JSON text of about `size` bytes (only BMP characters: safe to cut into string parts). */
function jsonText(size: number, seed: number): string {
  const items: unknown[] = [];
  let length = 2;
  for (let i = 0; length < size; i++) {
    const item = { id: seed * 100_000 + i, name: WORDS[(i * 7 + seed) % WORDS.length], score: (i * 37 + seed) % 1000, tags: [WORDS[(i + seed) % WORDS.length]], ok: i % 3 === 0 };
    length += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return JSON.stringify(items);
}

interface Item {
  data: string | Buffer;
  binary: boolean;
  /** Sent in several frames (sockwave: fragmentSize; ws: fin false). */
  fragmented: boolean;
  label: string;
}

/** The sequence every interop test exchanges, sent in one tick. */
function sequence(seed: number): Item[] {
  return [
    { label: 'json 20 KB', data: jsonText(20_000, seed), binary: false, fragmented: false },
    { label: 'small text', data: `small ✓ ${seed}`, binary: false, fragmented: false },
    { label: 'binary 300 KB (thread pool)', data: payloadBytes(300 * 1024, seed), binary: true, fragmented: false },
    { label: 'similar json 20 KB', data: jsonText(20_000, seed + 1), binary: false, fragmented: false },
    { label: 'fragmented json', data: jsonText(12_000, seed + 2), binary: false, fragmented: true },
    { label: 'fragmented binary', data: payloadBytes(40_000, seed + 3), binary: true, fragmented: true },
    { label: 'empty text', data: '', binary: false, fragmented: false },
    { label: 'tiny binary', data: Buffer.from([0, 1, 2, 255]), binary: true, fragmented: false },
  ];
}

const FRAGMENT_SIZE = 512;

function sendSockwave(connection: Connection, item: Item): void {
  connection.send(item.data, { binary: item.binary, fragmentSize: item.fragmented ? FRAGMENT_SIZE : undefined });
}

/** ws sends a fragmented message as several send() calls with fin false. */
function sendWs(ws: WebSocket, item: { data: string | Buffer; binary: boolean; fragmented: boolean }): void {
  if (!item.fragmented) {
    ws.send(item.data, { binary: item.binary });
    return;
  }
  const length = item.data.length;
  const cuts = [0, Math.floor(length / 3), Math.floor((2 * length) / 3), length];
  for (let i = 0; i < 3; i++) {
    const part = typeof item.data === 'string' ? item.data.slice(cuts[i], cuts[i + 1]) : item.data.subarray(cuts[i], cuts[i + 1]);
    ws.send(part, { binary: item.binary, fin: i === 2 });
  }
}

/** Exact equality, in order, without dumping 300 KB into the failure message. */
function assertMessages(got: ReadonlyArray<{ data: string | Buffer; isBinary: boolean }>, items: readonly Item[], where: string): void {
  assert.equal(got.length, items.length, `${where}: message count`);
  for (const [i, item] of items.entries()) {
    const message = got[i]!;
    assert.equal(message.isBinary, item.binary, `${where}: message ${i} (${item.label}) binary flag`);
    const expected = typeof item.data === 'string' ? Buffer.from(item.data, 'utf8') : item.data;
    const actual = typeof message.data === 'string' ? Buffer.from(message.data, 'utf8') : message.data;
    assert.equal(actual.length, expected.length, `${where}: message ${i} (${item.label}) length`);
    assert.ok(actual.equals(expected), `${where}: message ${i} (${item.label}) content differs`);
  }
}

/** `ws` delivers text as a Buffer: as a message record. */
function fromWs(messages: ReadonlyArray<{ data: Buffer; isBinary: boolean }>): Array<{ data: string | Buffer; isBinary: boolean }> {
  return messages.map((m) => ({ data: m.isBinary ? m.data : m.data.toString('utf8'), isBinary: m.isBinary }));
}

// ---------------------------------------------------------------------------------------------
// Negotiation models (RFC 7692 §7.1, and ws's documented server behaviour)

/** One permessage-deflate element as a parameter map. */
interface Offer {
  snct: boolean;
  cnct: boolean;
  smwb?: number;
  /** true: without a value. */
  cmwb?: number | true;
}

/** The parameters of an extensions header as sorted "name" / "name=value" strings ([] for none). */
function paramList(header: string): string[] {
  if (header === '') return [];
  const [name, ...params] = header.split(';').map((part) => part.trim());
  assert.equal(name, 'permessage-deflate', `extension in ${header}`);
  return params.sort();
}

function offerList(offer: Offer): string[] {
  const out: string[] = [];
  if (offer.snct) out.push('server_no_context_takeover');
  if (offer.cnct) out.push('client_no_context_takeover');
  if (offer.smwb !== undefined) out.push(`server_max_window_bits=${offer.smwb}`);
  if (offer.cmwb === true) out.push('client_max_window_bits');
  else if (offer.cmwb !== undefined) out.push(`client_max_window_bits=${offer.cmwb}`);
  return out.sort();
}

type WsDeflate = Exclude<WebSocket.PerMessageDeflateOptions, undefined>;

/** What a ws client offers for its options (ws/lib/permessage-deflate.js offer()). */
function wsClientOffer(options: WsDeflate): Offer {
  const cmwb = options.clientMaxWindowBits as number | boolean | undefined;
  return {
    snct: options.serverNoContextTakeover === true,
    cnct: options.clientNoContextTakeover === true,
    ...(typeof options.serverMaxWindowBits === 'number' ? { smwb: options.serverMaxWindowBits } : {}),
    ...(typeof cmwb === 'number' ? { cmwb } : cmwb === undefined || cmwb === true ? { cmwb: true as const } : {}),
  };
}

/** What our client offers for its option (defaults: client_no_context_takeover, value-less client_max_window_bits). */
function ourClientOffer(option: boolean | PerMessageDeflateOptions): Offer {
  const options = { clientNoContextTakeover: true, clientMaxWindowBits: true, ...(option === true ? {} : (option as PerMessageDeflateOptions)) };
  const cmwb = options.clientMaxWindowBits;
  return {
    snct: options.serverNoContextTakeover === true,
    cnct: options.clientNoContextTakeover === true,
    ...(options.serverMaxWindowBits !== undefined ? { smwb: options.serverMaxWindowBits } : {}),
    ...(typeof cmwb === 'number' ? { cmwb } : cmwb === true ? { cmwb: true as const } : {}),
  };
}

/** RFC 7692 answer of our server (defaults: server_no_context_takeover) to one valid offer. */
function ourServerAnswer(offer: Offer, option: boolean | PerMessageDeflateOptions): string[] {
  const options: PerMessageDeflateOptions = { serverNoContextTakeover: true, ...(option === true ? {} : (option as PerMessageDeflateOptions)) };
  const answer: Offer = { snct: offer.snct || options.serverNoContextTakeover === true, cnct: offer.cnct || options.clientNoContextTakeover === true };
  const serverBits = Math.min(offer.smwb ?? 15, options.serverMaxWindowBits ?? 15);
  if (offer.smwb !== undefined || serverBits < 15) answer.smwb = serverBits;
  const limit = typeof options.clientMaxWindowBits === 'number' ? options.clientMaxWindowBits : undefined;
  if (typeof offer.cmwb === 'number') answer.cmwb = Math.min(offer.cmwb, limit ?? 15);
  else if (offer.cmwb === true && limit !== undefined) answer.cmwb = limit;
  return offerList(answer);
}

/** What a ws server answers (ws/lib/permessage-deflate.js acceptAsServer), or undefined: it refuses the handshake with 400. */
function wsServerAnswer(offer: Offer, options: WsDeflate): string[] | undefined {
  if (options.serverNoContextTakeover === false && offer.snct) return undefined;
  if (offer.smwb !== undefined && typeof options.serverMaxWindowBits === 'number' && options.serverMaxWindowBits > offer.smwb) return undefined;
  if (typeof options.clientMaxWindowBits === 'number') {
    if (typeof offer.cmwb === 'number' ? options.clientMaxWindowBits > offer.cmwb : offer.cmwb === undefined) return undefined;
  }
  const answer: Offer = { ...offer };
  if (options.serverNoContextTakeover) answer.snct = true;
  if (options.clientNoContextTakeover) answer.cnct = true;
  if (typeof options.serverMaxWindowBits === 'number') answer.smwb = options.serverMaxWindowBits;
  if (typeof options.clientMaxWindowBits === 'number') answer.cmwb = options.clientMaxWindowBits;
  else if (answer.cmwb === true) delete answer.cmwb;
  return offerList(answer);
}

// ---------------------------------------------------------------------------------------------
// Peers

/** Our server echoing every message; fragmented items are echoed with fragmentSize too. */
function echoing(items: readonly Item[]): () => ConnectionHandler {
  return () => {
    let i = 0;
    return {
      onMessage: (connection, data, isBinary) => {
        const item = items[i++];
        connection.send(data, { binary: isBinary, fragmentSize: item?.fragmented ? FRAGMENT_SIZE : undefined });
      },
    };
  };
}

async function ourServer(t: TestContext, perMessageDeflate: boolean | PerMessageDeflateOptions, items: readonly Item[] = [], maxPayload?: number): Promise<StartedServer<unknown>> {
  const srv = await startServer({ perMessageDeflate, onConnection: echoing(items), ...(maxPayload === undefined ? {} : { maxPayload }) });
  t.after(() => srv.close());
  return srv;
}

/** A ws client, opened, with the Sec-WebSocket-Extensions of the 101 it got. */
async function wsClient(t: TestContext, url: string, perMessageDeflate: WsDeflate | boolean): Promise<{ ws: WebSocket; response: string }> {
  const ws = new WebSocket(url, { perMessageDeflate });
  t.after(() => closeWs(ws));
  let response = '';
  ws.on('upgrade', (res) => {
    response = (res.headers['sec-websocket-extensions'] as string | undefined) ?? '';
  });
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'the ws client to open',
  );
  return { ws, response };
}

/** A ws server echoing every message (fragmented items fragmented back, cut at byte boundaries), recording what it got. */
async function wsEchoServer(t: TestContext, perMessageDeflate: WsDeflate | boolean, items: readonly Item[]): Promise<{
  url: string;
  handshakes: Queue<{ offer: string; response: string }>;
  received: Queue<{ data: Buffer; isBinary: boolean }>;
  sockets: Queue<WebSocket>;
}> {
  const srv = await startWsServer({ perMessageDeflate });
  t.after(() => srv.close());
  const handshakes = new Queue<{ offer: string; response: string }>();
  const received = new Queue<{ data: Buffer; isBinary: boolean }>();
  const sockets = new Queue<WebSocket>();
  srv.wss.on('headers', (headers, request) => {
    const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
    handshakes.push({ offer: (request.headers['sec-websocket-extensions'] as string | undefined) ?? '', response: line ? line.slice(line.indexOf(':') + 1).trim() : '' });
  });
  srv.wss.on('connection', (ws) => {
    sockets.push(ws);
    let i = 0;
    ws.on('message', (raw, isBinary) => {
      const data = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
      received.push({ data, isBinary });
      sendWs(ws, { data, binary: isBinary, fragmented: items[i++]?.fragmented ?? false });
    });
  });
  return { url: srv.url, handshakes, received, sockets };
}

async function ourClient(t: TestContext, url: string, perMessageDeflate: boolean | PerMessageDeflateOptions, maxPayload?: number): Promise<Connection> {
  const connection = await withTimeout(connect(url, { perMessageDeflate, ...(maxPayload === undefined ? {} : { maxPayload }) }), 'connect()');
  t.after(() => connection.terminate());
  return connection;
}

/** A raw client offering `offer` (none when undefined), destroyed after the test. */
async function rawClient(t: TestContext, port: number, offer: string | undefined): Promise<{ raw: RawClient; extensions: string }> {
  const client = await rawUpgradeOffering(port, offer);
  t.after(() => client.raw.destroy());
  return client;
}

/** A TCP server answering every upgrade with a 101 carrying `extensions`; hands over the sockets paused. */
async function rawDeflateServer(t: TestContext, extensions: string, after101: Buffer = Buffer.alloc(0)): Promise<{ url: string; sockets: Queue<Socket> }> {
  const raw = await startRawWsServer(after101, { headers: [`Sec-WebSocket-Extensions: ${extensions}`] });
  t.after(() => raw.close());
  return { url: raw.url, sockets: raw.sockets };
}

/** Reads the frames of one message: [frames], the payload joined. */
async function readMessageFrames(raw: RawClient): Promise<{ frames: ServerFrame[]; payload: Buffer }> {
  const frames: ServerFrame[] = [];
  for (;;) {
    const frame = await raw.readFrame(LONG_WAIT);
    frames.push(frame);
    if (frame.fin) break;
  }
  return { frames, payload: Buffer.concat(frames.map((f) => f.payload)) };
}

/** Inflates one message compressed without context (RFC 7692 §7.2.2), with plain zlib. */
function inflateAlone(payload: Buffer): Buffer {
  return inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH });
}

/** A sync-flushed deflate payload without its tail (what a peer puts after RSV1). */
function deflateMessage(data: Buffer): Buffer {
  const out = deflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** Raw deflate data that inflates to `mib` MiB of zeros: one fully flushed 1 MiB block repeated. */
function zeroBomb(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(MiB), { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
  return Buffer.concat(Array.from({ length: mib }, () => block));
}

/** Counts PerMessageDeflate.prototype.compressSync calls while `body` runs. */
async function countCompressSync<T>(body: () => Promise<T>): Promise<{ calls: number; result: T }> {
  const original = PerMessageDeflate.prototype.compressSync;
  let calls = 0;
  PerMessageDeflate.prototype.compressSync = function (this: PerMessageDeflate, data: Buffer): Buffer {
    calls++;
    return original.call(this, data);
  };
  try {
    const result = await body();
    return { calls, result };
  } finally {
    PerMessageDeflate.prototype.compressSync = original;
  }
}

// ---------------------------------------------------------------------------------------------
// Option matrices

const SERVER_VARIANTS: ReadonlyArray<boolean | PerMessageDeflateOptions> = [
  true,
  { serverNoContextTakeover: false },
  { serverMaxWindowBits: 10 },
  { clientNoContextTakeover: true },
  { threshold: 0 },
  { clientMaxWindowBits: 11 },
];

/** ws client options: both flags × threshold × window-bit pairs covering 9..15 and a value-less client_max_window_bits. */
function wsClientMatrix(): WsDeflate[] {
  const windows: Array<[number | undefined, number | boolean | undefined]> = [
    [undefined, undefined],
    [9, true],
    [10, 9],
    [11, 10],
    [12, 11],
    [13, 12],
    [14, 13],
    [15, 14],
    [undefined, 15],
  ];
  const out: WsDeflate[] = [];
  for (const serverNoContextTakeover of [undefined, true]) {
    for (const clientNoContextTakeover of [undefined, true]) {
      for (const threshold of [undefined, 0]) {
        for (const [serverMaxWindowBits, clientMaxWindowBits] of windows) {
          const options: WsDeflate = {};
          if (serverNoContextTakeover !== undefined) options.serverNoContextTakeover = serverNoContextTakeover;
          if (clientNoContextTakeover !== undefined) options.clientNoContextTakeover = clientNoContextTakeover;
          if (threshold !== undefined) options.threshold = threshold;
          if (serverMaxWindowBits !== undefined) options.serverMaxWindowBits = serverMaxWindowBits;
          // ws accepts true (offer the parameter without a value); @types/ws only lists numbers.
          if (clientMaxWindowBits !== undefined) options.clientMaxWindowBits = clientMaxWindowBits as number;
          out.push(options);
        }
      }
    }
  }
  return out;
}

/** ws server options: serverNoContextTakeover unset/true/false × clientNoContextTakeover × threshold × window pairs. */
function wsServerMatrix(): WsDeflate[] {
  const windows: Array<[number | undefined, number | undefined]> = [
    [undefined, undefined],
    [9, 15],
    [10, 14],
    [11, 13],
    [12, 12],
    [13, 11],
    [14, 10],
    [15, 9],
  ];
  const out: WsDeflate[] = [];
  for (const serverNoContextTakeover of [undefined, true, false]) {
    for (const clientNoContextTakeover of [undefined, true]) {
      for (const threshold of [undefined, 0]) {
        for (const [serverMaxWindowBits, clientMaxWindowBits] of windows) {
          const options: WsDeflate = {};
          if (serverNoContextTakeover !== undefined) options.serverNoContextTakeover = serverNoContextTakeover;
          if (clientNoContextTakeover !== undefined) options.clientNoContextTakeover = clientNoContextTakeover;
          if (threshold !== undefined) options.threshold = threshold;
          if (serverMaxWindowBits !== undefined) options.serverMaxWindowBits = serverMaxWindowBits;
          if (clientMaxWindowBits !== undefined) options.clientMaxWindowBits = clientMaxWindowBits;
          out.push(options);
        }
      }
    }
  }
  return out;
}

/** Our client's options: the default, each option alone with every window size, and all together. */
const OUR_CLIENT_OPTIONS: ReadonlyArray<boolean | PerMessageDeflateOptions> = [
  true,
  { threshold: 0 },
  { serverNoContextTakeover: true },
  { clientNoContextTakeover: false },
  ...[9, 10, 11, 12, 13, 14, 15].map((serverMaxWindowBits) => ({ serverMaxWindowBits })),
  { clientMaxWindowBits: true },
  { clientMaxWindowBits: false },
  ...[9, 10, 11, 12, 13, 14, 15].map((clientMaxWindowBits) => ({ clientMaxWindowBits })),
  { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 11, threshold: 0 },
];

const show = (value: unknown): string => JSON.stringify(value);

// ---------------------------------------------------------------------------------------------

describe('ws client ↔ sockwave server, every ws option combination', { timeout: 600_000 }, () => {
  const matrix = wsClientMatrix();
  for (const [v, variant] of SERVER_VARIANTS.entries()) {
    for (const [c, options] of matrix.entries()) {
      test(`server ${show(variant)} ↔ ws client ${show(options)}: agreed extensions, every message exact and in order both ways`, { timeout: 60_000 }, async (t) => {
        const items = sequence(v * 100 + c);
        const srv = await ourServer(t, variant, items);
        const { ws, response } = await wsClient(t, `${srv.url}/`, options);
        const wrec = recordWs(ws, 'the ws client');
        const side = await srv.connections.next('the server-side connection');
        assert.equal(side.connection.extensions, response, 'the server reports the header it sent');
        assert.deepEqual(paramList(response), ourServerAnswer(wsClientOffer(options), variant));
        assert.equal(ws.extensions, 'permessage-deflate');
        for (const item of items) sendWs(ws, item);
        const atServer = await side.rec.messages.take(items.length, 'every message at our server', LONG_WAIT);
        assertMessages(atServer, items, 'at our server');
        const echoes = await wrec.messages.take(items.length, 'every echo at the ws client', LONG_WAIT);
        assertMessages(fromWs(echoes), items, 'at the ws client');
        assert.equal(side.rec.errors.history.length, 0, `server errors: ${side.rec.errors.history.map((e) => e.message).join('; ')}`);
        assert.equal(wrec.errors.history.length, 0, `ws errors: ${wrec.errors.history.map((e) => e.message).join('; ')}`);
        ws.close(1000, 'done');
        assert.equal((await side.rec.closed()).code, 1000);
        assert.equal((await wrec.closed()).code, 1000);
      });
    }
  }

  test('a ws client with perMessageDeflate off gets no extension and plain messages work', async (t) => {
    const items = sequence(7);
    const srv = await ourServer(t, true, items);
    const { ws, response } = await wsClient(t, `${srv.url}/`, false);
    const wrec = recordWs(ws);
    const side = await srv.connections.next('the server-side connection');
    assert.equal(response, '');
    assert.equal(side.connection.extensions, '');
    for (const item of items) sendWs(ws, item);
    assertMessages(await side.rec.messages.take(items.length, 'every message', LONG_WAIT), items, 'at our server');
    assertMessages(fromWs(await wrec.messages.take(items.length, 'every echo', LONG_WAIT)), items, 'at the ws client');
  });

  test('our server with perMessageDeflate off answers a ws client offering it without the extension', async (t) => {
    const items = sequence(8);
    const srv = await ourServer(t, false, items);
    const { ws, response } = await wsClient(t, `${srv.url}/`, { serverNoContextTakeover: true });
    const wrec = recordWs(ws);
    assert.equal(response, '');
    for (const item of items) sendWs(ws, item);
    assertMessages(fromWs(await wrec.messages.take(items.length, 'every echo', LONG_WAIT)), items, 'at the ws client');
  });
});

describe('sockwave client ↔ ws server, every ws option combination', { timeout: 600_000 }, () => {
  const matrix = wsServerMatrix();
  for (const [s, serverOptions] of matrix.entries()) {
    const clientOptions = [true, OUR_CLIENT_OPTIONS[s % OUR_CLIENT_OPTIONS.length]!];
    for (const [k, clientOption] of clientOptions.entries()) {
      if (k === 1 && clientOption === true) continue;
      const offer = ourClientOffer(clientOption);
      const answer = wsServerAnswer(offer, serverOptions);
      const outcome = answer === undefined ? 'is refused by ws (400)' : 'agrees; every message exact and in order both ways';
      test(`client ${show(clientOption)} ↔ ws server ${show(serverOptions)}: ${outcome}`, { timeout: 60_000 }, async (t) => {
        const items = sequence(1000 + s * 2 + k);
        const peer = await wsEchoServer(t, serverOptions, items);
        if (answer === undefined) {
          await assert.rejects(withTimeout(connect(`${peer.url}/`, { perMessageDeflate: clientOption }), 'connect()'), (error: unknown) => {
            assert.ok(error instanceof HandshakeError, String(error));
            assert.equal(error.status, 400);
            return true;
          });
          return;
        }
        const client = await ourClient(t, `${peer.url}/`, clientOption);
        const crec = record(client, 'our client');
        const handshake = await peer.handshakes.next('the ws handshake');
        assert.deepEqual(paramList(handshake.offer), offerList(offer), 'the offer our client sent');
        assert.equal(client.extensions, handshake.response, 'our client reports the header ws sent');
        assert.deepEqual(paramList(client.extensions), answer);
        for (const item of items) sendSockwave(client, item);
        const atServer = await peer.received.take(items.length, 'every message at the ws server', LONG_WAIT);
        assertMessages(fromWs(atServer), items, 'at the ws server');
        const echoes = await crec.messages.take(items.length, 'every echo at our client', LONG_WAIT);
        assertMessages(echoes, items, 'at our client');
        assert.equal(crec.errors.history.length, 0, `client errors: ${crec.errors.history.map((e) => e.message).join('; ')}`);
        client.close(1000, 'done');
        assert.equal((await crec.closed()).code, 1000);
      });
    }
  }

  test('our client with perMessageDeflate false sends no offer and works with a deflate ws server', async (t) => {
    const items = sequence(9);
    const peer = await wsEchoServer(t, true, items);
    const client = await ourClient(t, `${peer.url}/`, false);
    const crec = record(client);
    const handshake = await peer.handshakes.next('the ws handshake');
    assert.equal(handshake.offer, '');
    assert.equal(client.extensions, '');
    for (const item of items) sendSockwave(client, item);
    assertMessages(await crec.messages.take(items.length, 'every echo', LONG_WAIT), items, 'at our client');
  });

  test('our client offering deflate to a ws server without it gets no extension and works', async (t) => {
    const items = sequence(10);
    const peer = await wsEchoServer(t, false, items);
    const client = await ourClient(t, `${peer.url}/`, true);
    const crec = record(client);
    assert.equal(client.extensions, '');
    for (const item of items) sendSockwave(client, item);
    assertMessages(await crec.messages.take(items.length, 'every echo', LONG_WAIT), items, 'at our client');
  });
});

describe('sockwave client ↔ sockwave server with deflate', { timeout: 600_000 }, () => {
  for (const [v, variant] of SERVER_VARIANTS.entries()) {
    for (const [c, clientOption] of OUR_CLIENT_OPTIONS.entries()) {
      test(`server ${show(variant)} ↔ client ${show(clientOption)}: same extensions on both sides, every message exact and in order`, { timeout: 60_000 }, async (t) => {
        const items = sequence(5000 + v * 100 + c);
        const srv = await ourServer(t, variant, items);
        const client = await ourClient(t, `${srv.url}/`, clientOption);
        const crec = record(client, 'our client');
        const side = await srv.connections.next('the server-side connection');
        assert.equal(client.extensions, side.connection.extensions);
        assert.deepEqual(paramList(client.extensions), ourServerAnswer(ourClientOffer(clientOption), variant));
        for (const item of items) sendSockwave(client, item);
        assertMessages(await side.rec.messages.take(items.length, 'every message at the server', LONG_WAIT), items, 'at our server');
        assertMessages(await crec.messages.take(items.length, 'every echo at the client', LONG_WAIT), items, 'at our client');
        assert.equal(side.rec.errors.history.length + crec.errors.history.length, 0);
      });
    }
  }
});

describe('compressed frames on the wire (raw TCP peers)', { timeout: 120_000 }, () => {
  test('our server sends RSV1 on the first frame of a compressed message only, and its payload inflates with plain zlib', async (t) => {
    const srv = await ourServer(t, true);
    const { raw, extensions } = await rawClient(t, srv.port, 'permessage-deflate; client_max_window_bits');
    assert.equal(extensions, 'permessage-deflate; server_no_context_takeover');
    const side = await srv.connections.next('the server-side connection');
    const text = jsonText(20_000, 1);
    side.connection.send(text, { fragmentSize: 512 });
    const fragmented = await readMessageFrames(raw);
    assert.ok(fragmented.frames.length > 1, 'several frames');
    assert.deepEqual(fragmented.frames.map((f) => [f.rsv, f.opcode, f.masked]), fragmented.frames.map((_, i) => [i === 0 ? 4 : 0, i === 0 ? 1 : 0, false]));
    assert.ok(fragmented.payload.length < text.length / 2, `compressed (${fragmented.payload.length} bytes)`);
    assert.equal(inflateAlone(fragmented.payload).toString('utf8'), text);

    side.connection.send('under the threshold');
    const small = await raw.readFrame();
    assert.deepEqual([small.rsv, small.opcode, small.fin], [0, 1, true]);
    assert.equal(small.payload.toString(), 'under the threshold');

    const big = payloadBytes(300 * 1024, 2);
    side.connection.send(big);
    const bigFrame = await raw.readFrame(LONG_WAIT);
    assert.deepEqual([bigFrame.rsv, bigFrame.opcode, bigFrame.fin], [4, 2, true]);
    assert.ok(inflateAlone(bigFrame.payload).equals(big), 'the thread-pool compressed message inflates');
  });

  test('our client sends masked frames with RSV1 on the first frame only, and the payload inflates with plain zlib', async (t) => {
    const peer = await rawDeflateServer(t, 'permessage-deflate; client_no_context_takeover');
    const client = await ourClient(t, peer.url, true);
    const raw = RawClient.wrap(await peer.sockets.next('the server socket'));
    t.after(() => raw.destroy());
    const text = jsonText(20_000, 3);
    client.send(text, { fragmentSize: 700 });
    const message = await readMessageFrames(raw);
    assert.ok(message.frames.length > 1);
    assert.ok(message.frames.every((f) => f.masked));
    assert.deepEqual(message.frames.map((f) => f.rsv), message.frames.map((_, i) => (i === 0 ? 4 : 0)));
    assert.equal(inflateAlone(message.payload).toString('utf8'), text);
    const big = payloadBytes(300 * 1024, 4);
    client.send(big);
    const bigFrame = await raw.readFrame(LONG_WAIT);
    assert.equal(bigFrame.rsv, 4);
    assert.ok(inflateAlone(bigFrame.payload).equals(big));
  });

  test('a corrupt compressed frame from a client fails the connection with 1007 and onError names decompressionError', async (t) => {
    const errors = new Queue<SockwaveError>();
    const messages = new Queue<unknown>();
    const srv = await startServer({
      perMessageDeflate: true,
      onConnection: () => ({ onError: (_connection, error) => errors.push(error), onMessage: (_connection, data) => messages.push(data) }),
    });
    t.after(() => srv.close());
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    raw.write(clientFrame({ opcode: 0x1, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x12, 0x34]) }));
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1007);
    const error = await errors.next('the server-side onError');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1007);
    assert.equal(error.code, 'SW_DECOMPRESSION_ERROR');
    assert.match(error.message, /decompressionError/);
    await raw.waitClosed();
    assert.equal(messages.history.length, 0);
  });

  test('a corrupt compressed frame over the sync limit (thread pool) fails with 1007 too', async (t) => {
    const srv = await ourServer(t, true);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    raw.write(clientFrame({ opcode: 0x2, rsv1: true, payload: Buffer.concat([Buffer.from([0xff]), payloadBytes(SYNC_LIMIT + 1000, 5)]) }));
    const frame = await raw.readFrame(LONG_WAIT);
    assert.equal(closePayload(frame.payload).code, 1007);
    const error = await side.rec.errors.next('the error event');
    assert.equal(error.code, 'SW_DECOMPRESSION_ERROR');
    assert.match(error.message, /decompressionError/);
  });

  test('a compressed text message that inflates to invalid UTF-8 fails with 1007 SW_INVALID_UTF8', async (t) => {
    const srv = await ourServer(t, true);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    raw.write(clientFrame({ opcode: 0x1, rsv1: true, payload: deflateMessage(Buffer.from([0x68, 0x69, 0xc3, 0x28])) }));
    const frame = await raw.readFrame();
    assert.equal(closePayload(frame.payload).code, 1007);
    assert.equal((await side.rec.errors.next('the error event')).code, 'SW_INVALID_UTF8');
  });

  test('a message of exactly maxPayload bytes that does not compress (longer on the wire than maxPayload) is taken, and echoed', async (t) => {
    const limit = 64 * 1024;
    const srv = await ourServer(t, true, [], limit);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    const message = randomBytes(limit);
    const wire = deflateRawSync(message, { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(wire.length > limit, `${wire.length} bytes on the wire`);
    raw.write(clientFrame({ opcode: 0x2, rsv1: true, payload: wire }));
    const received = await side.rec.messages.next('the message at the server');
    assert.deepEqual(received.data, message);
    assert.deepEqual(side.rec.errors.history, []);
  });

  test('a compressed bomb (50 MiB of zeros in ~50 KB) against maxPayload 1 MiB fails with 1009', async (t) => {
    const srv = await ourServer(t, true, [], MiB);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    const bomb = zeroBomb(50);
    assert.ok(bomb.length < MiB);
    raw.write(clientFrame({ opcode: 0x2, rsv1: true, payload: bomb }));
    const frame = await raw.readFrame(LONG_WAIT);
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1009);
    const error = await side.rec.errors.next('the error event');
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.closeCode, 1009);
    assert.equal(error.code, 'SW_MESSAGE_TOO_BIG');
    assert.equal(side.rec.messages.history.length, 0);
  });

  test('a compressed bomb over the sync limit (thread pool) fails with 1009 too', async (t) => {
    const srv = await ourServer(t, true, [], MiB);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    const bomb = zeroBomb(300);
    assert.ok(bomb.length > SYNC_LIMIT && bomb.length < MiB);
    raw.write(clientFrame({ opcode: 0x2, rsv1: true, payload: bomb }));
    const frame = await raw.readFrame(LONG_WAIT);
    assert.equal(closePayload(frame.payload).code, 1009);
    assert.equal((await side.rec.errors.next('the error event')).code, 'SW_MESSAGE_TOO_BIG');
  });

  test('RSV1 on a connection without deflate (server has it off) fails with 1002', async (t) => {
    const srv = await ourServer(t, false);
    const { raw, extensions } = await rawClient(t, srv.port, 'permessage-deflate');
    assert.equal(extensions, '');
    raw.write(clientFrame({ opcode: 0x1, rsv1: true, payload: deflateMessage(Buffer.from('hello')) }));
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1002);
  });

  test('RSV1 on a connection without deflate (client did not offer it) fails with 1002', async (t) => {
    const srv = await ourServer(t, true);
    const { raw, extensions } = await rawClient(t, srv.port, undefined);
    assert.equal(extensions, '');
    raw.write(clientFrame({ opcode: 0x2, rsv1: true, payload: deflateMessage(Buffer.from('hello')) }));
    assert.equal(closePayload((await raw.readFrame()).payload).code, 1002);
  });

  test('RSV1 on a continuation frame or a control frame fails with 1002 even with deflate', async (t) => {
    const srv = await ourServer(t, true);
    const first = await rawClient(t, srv.port, 'permessage-deflate');
    const compressed = deflateMessage(Buffer.from('hello hello'));
    first.raw.write(Buffer.concat([
      clientFrame({ opcode: 0x1, rsv1: true, fin: false, payload: compressed.subarray(0, 3) }),
      clientFrame({ opcode: 0x0, rsv1: true, payload: compressed.subarray(3) }),
    ]));
    assert.equal(closePayload((await first.raw.readFrame()).payload).code, 1002);
    const second = await rawClient(t, srv.port, 'permessage-deflate');
    second.raw.write(clientFrame({ opcode: 0x9, rsv1: true, payload: 'ping' }));
    assert.equal(closePayload((await second.raw.readFrame()).payload).code, 1002);
  });

  test('a compressed message from a raw client, fragmented with RSV1 on the first frame, is delivered whole', async (t) => {
    const srv = await ourServer(t, true);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    const text = jsonText(5000, 6);
    const compressed = deflateMessage(Buffer.from(text));
    raw.write(Buffer.concat([
      clientFrame({ opcode: 0x1, rsv1: true, fin: false, payload: compressed.subarray(0, 10) }),
      clientFrame({ opcode: 0x9, payload: 'between' }),
      clientFrame({ opcode: 0x0, fin: false, payload: compressed.subarray(10, 200) }),
      clientFrame({ opcode: 0x0, payload: compressed.subarray(200) }),
    ]));
    assert.equal((await side.rec.messages.next('the message')).data, text);
    assert.equal((await side.rec.pings.next('the ping')).toString(), 'between');
  });

  test(
    'after a corrupt large (thread-pool) compressed message, a message that followed it in the same packet is not delivered',
    async (t) => {
    const srv = await ourServer(t, true);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const side = await srv.connections.next('the server-side connection');
    const bad = clientFrame({ opcode: 0x2, rsv1: true, payload: Buffer.concat([Buffer.from([0xff]), payloadBytes(SYNC_LIMIT + 1000, 11)]) });
    // The end of the bad frame and the next message travel together, so both are parsed in one go.
    raw.write(bad.subarray(0, bad.length - 16));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.write(Buffer.concat([bad.subarray(bad.length - 16), clientFrame({ opcode: 0x1, payload: 'after the bad one' })]));
    const frame = await raw.readFrame(LONG_WAIT);
    assert.equal(closePayload(frame.payload).code, 1007);
    await side.rec.errors.next('the error event');
    raw.socket.end();
    await side.rec.closed();
    assert.deepEqual(side.rec.messages.history.map((m) => m.data), [], 'RFC 6455 §7.1.7: no data is processed after failing the connection');
    },
  );

  test('our client fails the connection with 1007 on a corrupt compressed frame from the server', async (t) => {
    const peer = await rawDeflateServer(t, 'permessage-deflate; client_no_context_takeover', serverFrame({ opcode: 0x1, rsv1: true, payload: Buffer.from([0xff, 0xee, 0xdd]) }));
    const client = await ourClient(t, peer.url, true);
    const crec = record(client);
    const raw = RawClient.wrap(await peer.sockets.next('the server socket'));
    t.after(() => raw.destroy());
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, 0x8);
    assert.equal(closePayload(frame.payload).code, 1007);
    const error = await crec.errors.next('the client error');
    assert.equal(error.code, 'SW_DECOMPRESSION_ERROR');
    assert.match(error.message, /decompressionError/);
  });

  test('our client fails the connection with 1009 on a compressed bomb past its maxPayload', async (t) => {
    const peer = await rawDeflateServer(t, 'permessage-deflate; client_no_context_takeover', serverFrame({ opcode: 0x2, rsv1: true, payload: zeroBomb(50) }));
    const client = await ourClient(t, peer.url, true, MiB);
    const crec = record(client);
    const raw = RawClient.wrap(await peer.sockets.next('the server socket'));
    t.after(() => raw.destroy());
    assert.equal(closePayload((await raw.readFrame(LONG_WAIT)).payload).code, 1009);
    assert.equal((await crec.errors.next('the client error')).code, 'SW_MESSAGE_TOO_BIG');
  });
});

describe('a message being compressed in the thread pool counts in bufferedAmount', { timeout: 60_000 }, () => {
  test("send() answers 'backpressure' and bufferedAmount includes the message while it is compressed", async (t) => {
    const srv = await startServer({ perMessageDeflate: true, highWaterMark: 1024 * 1024, onConnection: () => ({}) });
    t.after(() => srv.close());
    const client = await ourClient(t, `${srv.url}/`, true);
    const side = await srv.connections.next('the server-side connection');
    const big = randomBytes(3_000_000); // over the 256 KiB sync limit: compressed in the thread pool
    const received = new Promise<number>((resolve) => client.once('message', (data) => resolve((data as Buffer).length)));
    assert.equal(side.connection.send(big), 'backpressure', 'a 3 MB message over a 1 MiB high-water mark');
    assert.ok(side.connection.bufferedAmount >= big.length, `bufferedAmount ${side.connection.bufferedAmount} while compressing`);
    assert.equal(await withTimeout(received, 'the message'), big.length);
  });
});

describe('ordering behind the thread pool', { timeout: 120_000 }, () => {
  /** Records messages and pings of a connection as labels, in arrival order. */
  function arrivals(connection: Connection): Queue<string> {
    const queue = new Queue<string>();
    connection.on('message', (data, isBinary) => queue.push(isBinary ? `binary:${(data as Buffer).length}:${(data as Buffer).readUInt32LE(0)}` : `text:${data as string}`));
    connection.on('ping', (payload) => queue.push(`ping:${payload.toString()}`));
    return queue;
  }

  function label(data: string | Buffer): string {
    return typeof data === 'string' ? `text:${data}` : `binary:${data.length}:${data.readUInt32LE(0)}`;
  }

  for (const takeover of [false, true]) {
    test(`large (thread-pool) compressed messages followed by small ones in the same tick arrive in order, both directions (context takeover ${takeover})`, async (t) => {
      const srv = await startServer({ perMessageDeflate: { serverNoContextTakeover: !takeover, threshold: 0 }, onConnection: () => ({}) });
      t.after(() => srv.close());
      const client = await ourClient(t, `${srv.url}/`, { clientNoContextTakeover: !takeover, threshold: 0 });
      const side = await srv.connections.next('the server-side connection');
      const atServer = arrivals(side.connection);
      const atClient = arrivals(client);
      const big1 = payloadBytes(300 * 1024, 21);
      const big2 = payloadBytes(400 * 1024, 22);
      type Step = string | Buffer | { ping: string };
      const isPing = (step: Step): step is { ping: string } => typeof step === 'object' && !Buffer.isBuffer(step);
      const plan: Step[] = [
        big1,
        { ping: 'p1' },
        'small 1',
        jsonText(3000, 1),
        Buffer.from([9, 9, 9, 9]),
        big2,
        'small 2',
        jsonText(3000, 2),
        '',
      ];
      const expected = plan.map((step) => (isPing(step) ? `ping:${step.ping}` : label(step)));
      for (const [sender, queue] of [[client, atServer], [side.connection, atClient]] as const) {
        for (const step of plan) {
          if (isPing(step)) sender.ping(step.ping);
          else sender.send(step);
        }
        assert.deepEqual(await queue.take(expected.length, 'every message in order', LONG_WAIT), expected);
      }
    });
  }

  test('large compressed messages from our server to a ws client stay in order with small ones sent in the same tick', async (t) => {
    const srv = await ourServer(t, { threshold: 0, serverNoContextTakeover: false });
    const { ws } = await wsClient(t, `${srv.url}/`, true);
    const wrec = recordWs(ws);
    const side = await srv.connections.next('the server-side connection');
    const sent: Array<string | Buffer> = [];
    // Three large ones: what waits behind the first stays under the 1 MiB highWaterMark (see the backpressure test below).
    for (let i = 0; i < 3; i++) sent.push(payloadBytes(280 * 1024 + i, 30 + i), `after big ${i}`, jsonText(2000, i));
    for (const data of sent) side.connection.send(data);
    const got = await wrec.messages.take(sent.length, 'every message at the ws client', LONG_WAIT);
    assert.deepEqual(got.map((m) => (m.isBinary ? label(m.data) : label(m.data.toString()))), sent.map(label));
    assert.ok(got.every((m, i) => (typeof sent[i] === 'string' ? m.data.toString() === sent[i] : m.data.equals(sent[i] as Buffer))));
  });

  test(
    'sends waiting behind a thread-pool compression past highWaterMark report backpressure, then all complete (no event-loop spin)',
    async () => {
      // In a child process: if the event loop starves, no timer of this process could end the test.
      const library = new URL('../../src/index.js', import.meta.url).href;
      const script = `
        import { WebSocketServer, connect } from ${JSON.stringify(library)};
        import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
        let got = 0;
        const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, onConnection: () => ({
          onMessage() { if (++got === 2) { console.log('both delivered'); process.exit(0); } },
        }) });
        const info = await server.listen();
        const client = await connect(info.url, { perMessageDeflate: true, highWaterMark: 1024 });
        console.log(client.send(randomBytes(300 * 1024)), client.send(randomBytes(300 * 1024)));
        setTimeout(() => process.exit(3), 5000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const result = await new Promise<{ code: number | null; hung: boolean }>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve({ code: null, hung: true });
        }, 10_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, hung: false });
        });
      });
      assert.equal(result.hung, false, `the child process hung (its own 5 s timer never fired); output: ${output}`);
      assert.equal(result.code, 0, output);
      // Each 300 KB message is over the 1 KiB mark: the first counts while it is compressed, too.
      assert.match(output, /^backpressure backpressure\nboth delivered/);
    },
  );

  test(
    'a close() right after a large compressed message: the client message arrives before the close frame',
    async (t) => {
    const srv = await ourServer(t, true);
    const client = await ourClient(t, `${srv.url}/`, { threshold: 0 });
    const side = await srv.connections.next('the server-side connection');
    const big = payloadBytes(300 * 1024, 40);
    client.send(big);
    client.close(1000, 'after the big one');
    const message = await side.rec.messages.next('the big message', LONG_WAIT);
    assert.ok((message.data as Buffer).equals(big));
    const info = await side.rec.closed();
    assert.equal(info.code, 1000);
    assert.equal(info.reason, 'after the big one');
    },
  );

  test(
    'a close() right after a large compressed message: the server message reaches a ws client before the close frame',
    async (t) => {
    const srv = await ourServer(t, true);
    const { ws } = await wsClient(t, `${srv.url}/`, true);
    const wrec = recordWs(ws);
    const side = await srv.connections.next('the server-side connection');
    const big = payloadBytes(300 * 1024, 41);
    side.connection.send(big);
    side.connection.send('and a small one');
    side.connection.close(4001, 'bye');
    assert.equal(side.connection.send('too late'), 'dropped');
    const [first, second] = await wrec.messages.take(2, 'both messages', LONG_WAIT);
    assert.ok(first!.data.equals(big));
    assert.equal(second!.data.toString(), 'and a small one');
    assert.deepEqual(await wrec.closed(), { code: 4001, reason: 'bye' });
    assert.equal(wrec.messages.history.length, 2);
    },
  );

  test(
    'a close() right after a large compressed message: our client message reaches a ws server before the close frame',
    async (t) => {
    const peer = await wsEchoServer(t, true, []);
    const client = await ourClient(t, `${peer.url}/`, true);
    const ws = await peer.sockets.next('the ws server socket');
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const big = payloadBytes(300 * 1024, 42);
    client.send(big);
    client.close(4002);
    const message = await peer.received.next('the big message', LONG_WAIT);
    assert.ok(message.data.equals(big));
    assert.equal(await withTimeout(closed, 'the ws server to see the close'), 4002);
    },
  );

  test('a large compressed message followed by a close frame from the peer is delivered before the close event', async (t) => {
    const srv = await ourServer(t, true);
    const { ws } = await wsClient(t, `${srv.url}/`, true);
    const side = await srv.connections.next('the server-side connection');
    const order: string[] = [];
    side.connection.on('message', () => order.push('message'));
    side.connection.on('close', () => order.push('close'));
    const big = payloadBytes(300 * 1024, 43);
    ws.send(big);
    ws.close(1000);
    const info = await side.rec.closed(LONG_WAIT);
    assert.equal(info.code, 1000);
    assert.deepEqual(order, ['message', 'close']);
    assert.ok((side.rec.messages.history[0]!.data as Buffer).equals(big));
  });
});

describe('broadcast with permessage-deflate', { timeout: 120_000 }, () => {
  test('clients that negotiated server_no_context_takeover (the default) get identical compressed frames, compressed once', async (t) => {
    const srv = await ourServer(t, true);
    const raws: RawClient[] = [];
    for (let i = 0; i < 3; i++) raws.push((await rawClient(t, srv.port, 'permessage-deflate; client_max_window_bits')).raw);
    const clients = [await ourClient(t, `${srv.url}/`, true), await ourClient(t, `${srv.url}/`, { threshold: 0 })];
    const crecs = clients.map((c) => record(c));
    const { ws } = await wsClient(t, `${srv.url}/`, true);
    const wrec = recordWs(ws);
    await srv.connections.take(6, 'every server-side connection');
    const messages = [jsonText(20_000, 1), jsonText(20_000, 2)];
    for (const message of messages) {
      const { calls, result } = await countCompressSync(async () => srv.server.broadcast(message));
      assert.equal(result, 6);
      assert.equal(calls, 1, 'one compression for the six receivers');
      const frames = await Promise.all(raws.map((raw) => raw.readFrame()));
      for (const frame of frames) {
        assert.deepEqual([frame.rsv, frame.opcode, frame.fin], [4, 1, true]);
        assert.ok(frame.payload.equals(frames[0]!.payload), 'identical payloads');
      }
      assert.equal(inflateAlone(frames[0]!.payload).toString(), message);
      for (const crec of crecs) assert.equal((await crec.messages.next('the broadcast at our client')).data, message);
      assert.equal((await wrec.messages.next('the broadcast at the ws client')).data.toString(), message);
    }
  });

  test('receivers with different window sizes are compressed once per window size', async (t) => {
    const srv = await ourServer(t, true);
    await ourClient(t, `${srv.url}/`, true);
    await ourClient(t, `${srv.url}/`, true);
    await ourClient(t, `${srv.url}/`, { serverMaxWindowBits: 10 });
    await ourClient(t, `${srv.url}/`, { serverMaxWindowBits: 10 });
    const { ws } = await wsClient(t, `${srv.url}/`, { serverMaxWindowBits: 12 });
    const wrec = recordWs(ws);
    await srv.connections.take(5, 'every server-side connection');
    const message = jsonText(10_000, 3);
    const { calls, result } = await countCompressSync(async () => srv.server.broadcast(message));
    assert.equal(result, 5);
    assert.equal(calls, 3);
    assert.equal((await wrec.messages.next('the broadcast at the ws client')).data.toString(), message);
  });

  test('a mix of receivers (no deflate, server context takeover, shared compression, other window) all get the exact bytes of every broadcast, in order', async (t) => {
    const srv = await ourServer(t, { serverNoContextTakeover: false });
    const ours = [
      await ourClient(t, `${srv.url}/`, false),
      await ourClient(t, `${srv.url}/`, true),
      await ourClient(t, `${srv.url}/`, { serverNoContextTakeover: true }),
      await ourClient(t, `${srv.url}/`, { serverNoContextTakeover: true, serverMaxWindowBits: 11 }),
    ];
    const ourRecs = ours.map((c) => record(c));
    const wsPeers = [
      await wsClient(t, `${srv.url}/`, true),
      await wsClient(t, `${srv.url}/`, { serverNoContextTakeover: true }),
      await wsClient(t, `${srv.url}/`, { serverNoContextTakeover: true, serverMaxWindowBits: 10 }),
      await wsClient(t, `${srv.url}/`, false),
    ];
    const wsRecs = wsPeers.map((p) => recordWs(p.ws));
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate; server_no_context_takeover');
    const sides = await srv.connections.take(9, 'every server-side connection');
    // What each receiver negotiated: takeover kept for the default ones, reset for those that asked.
    assert.deepEqual(ours.map((c) => c.extensions), [
      '',
      'permessage-deflate; client_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11',
    ]);
    assert.deepEqual(wsPeers.map((p) => p.response), [
      'permessage-deflate',
      'permessage-deflate; server_no_context_takeover',
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10',
      '',
    ]);
    assert.equal(sides.filter((s) => s.connection.deflate?.outboundNoContextTakeover === false).length, 2);

    const broadcasts: Array<string | Buffer> = [
      jsonText(20_000, 1),
      jsonText(20_000, 2),
      'tick',
      payloadBytes(300 * 1024, 3),
      jsonText(20_000, 1),
      '',
      Buffer.from([1, 2, 3]),
      jsonText(5_000, 4),
    ];
    // All in one tick: large ones take the thread pool on the takeover connections, later ones wait behind.
    for (const data of broadcasts) {
      const report = srv.server.broadcast(data, { report: true });
      assert.equal(report.length, 9);
      assert.ok(report.every((r) => r.success), `every receiver accepted it: ${show(report)}`);
    }
    // Exact bytes and order here; whether text stays text is checked by the test below.
    const bytesOf = (data: string | Buffer): Buffer => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    for (const [i, rec] of ourRecs.entries()) {
      const got = await rec.messages.take(broadcasts.length, `every broadcast at our client ${i}`, LONG_WAIT);
      got.forEach((m, j) => assert.ok(bytesOf(m.data).equals(bytesOf(broadcasts[j]!)), `our client ${i}, broadcast ${j}`));
    }
    for (const [i, rec] of wsRecs.entries()) {
      const got = await rec.messages.take(broadcasts.length, `every broadcast at ws client ${i}`, LONG_WAIT);
      got.forEach((m, j) => assert.ok(m.data.equals(bytesOf(broadcasts[j]!)), `ws client ${i}, broadcast ${j}`));
    }
    for (const [j, data] of broadcasts.entries()) {
      const frame = await raw.readFrame(LONG_WAIT);
      const payload = frame.rsv === 4 ? inflateAlone(frame.payload) : frame.payload;
      assert.ok(payload.equals(typeof data === 'string' ? Buffer.from(data) : data), `raw client, broadcast ${j}`);
      assert.equal(frame.opcode, typeof data === 'string' ? 1 : 2);
    }
  });

  test(
    'a text broadcast arrives as text (and binary as binary) at every receiver, including those that kept server context takeover',
    async (t) => {
      const srv = await ourServer(t, { serverNoContextTakeover: false });
      const ours = [await ourClient(t, `${srv.url}/`, false), await ourClient(t, `${srv.url}/`, true), await ourClient(t, `${srv.url}/`, { serverNoContextTakeover: true })];
      const ourRecs = ours.map((c) => record(c));
      const wsPeers = [await wsClient(t, `${srv.url}/`, true), await wsClient(t, `${srv.url}/`, { serverNoContextTakeover: true })];
      const wsRecs = wsPeers.map((p) => recordWs(p.ws));
      await srv.connections.take(5, 'every server-side connection');
      const text = jsonText(5000, 7);
      const binary = payloadBytes(5000, 7);
      srv.server.broadcast(text);
      srv.server.broadcast(binary);
      for (const [i, rec] of ourRecs.entries()) {
        const [a, b] = await rec.messages.take(2, `both broadcasts at our client ${i}`);
        assert.deepEqual([a!.isBinary, typeof a!.data], [false, 'string'], `our client ${i} (${ours[i]!.extensions || 'no deflate'}): the text broadcast`);
        assert.equal(a!.data, text);
        assert.equal(b!.isBinary, true);
        assert.ok((b!.data as Buffer).equals(binary));
      }
      for (const [i, rec] of wsRecs.entries()) {
        const [a, b] = await rec.messages.take(2, `both broadcasts at ws client ${i}`);
        assert.equal(a!.isBinary, false, `ws client ${i} (${wsPeers[i]!.response}): the text broadcast`);
        assert.equal(a!.data.toString(), text);
        assert.equal(b!.isBinary, true);
      }
    },
  );

  test(
    'broadcast() counts receivers that kept server context takeover (compressed in their own context)',
    async (t) => {
      const srv = await ourServer(t, { serverNoContextTakeover: false });
      const takeover = record(await ourClient(t, `${srv.url}/`, true));
      const reset = record(await ourClient(t, `${srv.url}/`, { serverNoContextTakeover: true }));
      const plain = record(await ourClient(t, `${srv.url}/`, false));
      await srv.connections.take(3, 'every server-side connection');
      const message = jsonText(5000, 6);
      const count = srv.server.broadcast(message);
      for (const rec of [takeover, reset, plain]) {
        const got = (await rec.messages.next('the broadcast')).data;
        assert.ok(Buffer.from(got).equals(Buffer.from(message)), 'the broadcast arrived');
      }
      assert.equal(count, 3, 'all three received it');
    },
  );

  test('broadcast with fragmentSize sends compressed fragments with RSV1 on the first only, and every receiver reassembles it', async (t) => {
    const srv = await ourServer(t, true);
    const { raw } = await rawClient(t, srv.port, 'permessage-deflate');
    const client = await ourClient(t, `${srv.url}/`, true);
    const crec = record(client);
    const { ws } = await wsClient(t, `${srv.url}/`, true);
    const wrec = recordWs(ws);
    await srv.connections.take(3, 'every server-side connection');
    const message = jsonText(30_000, 5);
    assert.equal(srv.server.broadcast(message, { fragmentSize: 300 }), 3);
    const { frames, payload } = await readMessageFrames(raw);
    assert.ok(frames.length > 1);
    assert.deepEqual(frames.map((f) => f.rsv), frames.map((_, i) => (i === 0 ? 4 : 0)));
    assert.equal(inflateAlone(payload).toString(), message);
    assert.equal((await crec.messages.next('the broadcast at our client')).data, message);
    assert.equal((await wrec.messages.next('the broadcast at the ws client')).data.toString(), message);
  });
});
