// Raw TCP and WebSocket wire helpers for the robustness suite. Nothing here imports sockwave: the
// suite speaks bytes to a `sockwave serve` child process, as any hostile client would.
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A TCP connection whose received bytes accumulate in `data`; `closed` resolves on close. */
export function rawConnect(port, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    const conn = { socket, data: Buffer.alloc(0), ended: false, isClosed: false, waiters: new Set() };
    conn.closed = new Promise((done) => socket.once('close', () => { conn.isClosed = true; notify(conn); done(); }));
    socket.on('data', (chunk) => { conn.data = Buffer.concat([conn.data, chunk]); notify(conn); });
    socket.on('end', () => { conn.ended = true; notify(conn); });
    socket.on('error', () => {});
    socket.once('connect', () => { socket.removeListener('error', reject); resolve(conn); });
    socket.once('error', reject);
  });
}

function notify(conn) {
  for (const waiter of conn.waiters) waiter();
}

/** Waits until `check(conn)` returns a value other than undefined, or the connection closes. */
export function waitFor(conn, check, ms, label) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { conn.waiters.delete(poll); reject(new Error(`timed out after ${ms} ms waiting for ${label}`)); }, ms);
    const poll = () => {
      const value = check(conn);
      if (value !== undefined) { clearTimeout(timer); conn.waiters.delete(poll); resolve(value); }
      else if (conn.isClosed) { clearTimeout(timer); conn.waiters.delete(poll); reject(new Error(`connection closed while waiting for ${label}`)); }
    };
    conn.waiters.add(poll);
    poll();
  });
}

/** The HTTP response head once complete: { status, headers, head, rest }. */
export function responseHead(conn, ms = 5000) {
  return waitFor(conn, (c) => {
    const end = c.data.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const head = c.data.subarray(0, end).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), statusLine, headers, head, rest: c.data.subarray(end + 4) };
  }, ms, 'an HTTP response head');
}

export function upgradeRequest({ path = '/echo', key = randomBytes(16).toString('base64'), extra = [] } = {}) {
  return [
    `GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', ...extra, '', '',
  ].join('\r\n');
}

export function acceptFor(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Opens a WebSocket by hand; resolves to the connection once a valid 101 arrived. */
export async function wsOpen(port, { path = '/echo', extra = [] } = {}) {
  const conn = await rawConnect(port);
  const key = randomBytes(16).toString('base64');
  conn.socket.write(upgradeRequest({ path, key, extra }));
  const head = await responseHead(conn).catch((error) => {
    conn.socket.destroy();
    throw error;
  });
  const fail = (message) => {
    conn.socket.destroy();
    throw new Error(message);
  };
  if (head.status !== 101) fail(`expected 101, got ${head.statusLine}`);
  if (head.headers['sec-websocket-accept'] !== acceptFor(key)) fail('bad Sec-WebSocket-Accept');
  conn.data = head.rest;
  conn.response = head;
  return conn;
}

/** One frame. `mask`: a 4-byte key, true for a random one, false for none; `length` overrides the declared length. */
export function frame({ opcode, payload = Buffer.alloc(0), fin = true, rsv1 = false, mask = true, length }) {
  const body = Buffer.from(payload);
  const declared = BigInt(length ?? body.length);
  const key = mask === true ? randomBytes(4) : mask || null;
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  const maskBit = key ? 0x80 : 0;
  if (declared < 126n) head.push(maskBit | Number(declared));
  else if (declared < 0x10000n) head.push(maskBit | 126, Number(declared >> 8n), Number(declared & 0xffn));
  else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((declared >> shift) & 0xffn));
  }
  if (key) {
    head.push(...key);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([Buffer.from(head), body]);
}

export const text = (s, options = {}) => frame({ opcode: 1, payload: Buffer.from(s), ...options });

/** Parses the unmasked frames at the start of `buffer`: [{ opcode, fin, payload }], and the bytes used. */
export function parseFrames(buffer) {
  const frames = [];
  let at = 0;
  while (buffer.length - at >= 2) {
    const b0 = buffer[at];
    let length = buffer[at + 1] & 0x7f;
    let p = at + 2;
    if (length === 126) { if (buffer.length < p + 2) break; length = buffer.readUInt16BE(p); p += 2; }
    else if (length === 127) { if (buffer.length < p + 8) break; length = Number(buffer.readBigUInt64BE(p)); p += 8; }
    if (buffer.length < p + length) break;
    frames.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload: buffer.subarray(p, p + length) });
    at = p + length;
  }
  return { frames, used: at };
}

/** Waits for the server's close frame; resolves to its code (1005 without one). */
export function closeCode(conn, ms = 5000) {
  return waitFor(conn, (c) => {
    const close = parseFrames(c.data).frames.find((f) => f.opcode === 8);
    if (!close) return undefined;
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : 1005;
  }, ms, 'a close frame');
}

/** Waits for the first data frames' payloads to total `count` messages; resolves to their texts. */
export function messages(conn, count, ms = 5000) {
  return waitFor(conn, (c) => {
    const data = parseFrames(c.data).frames.filter((f) => f.opcode === 1 || f.opcode === 2);
    return data.length >= count ? data.slice(0, count).map((f) => f.payload.toString()) : undefined;
  }, ms, `${count} messages`);
}
