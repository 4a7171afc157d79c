// The two Autobahn modes:
//  - server mode: the suite is a fuzzing *client* connecting to a server
//    under test (one fresh connection per case);
//  - client mode: the suite is a fuzzing *server*; for every case it launches
//    the client under test as a child process pointed at
//    ws://127.0.0.1:PORT/runCase?case=N and judges it.

import net from 'node:net';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import { acceptKey } from './wire.mjs';
import { FuzzConnection, notOpened } from './fuzzer.mjs';
import { DeflateState, offerString, validateResponse, parseClientOffers, applyAccept, describeAgreed } from './deflate.mjs';

const MAX_HEADER = 16 * 1024;

/** Run `worker` over `items` with at most `limit` in flight; keeps order. */
export async function pool(items, limit, worker) {
  const out = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await worker(items[i], i);
    }
  });
  await Promise.all(runners);
  return out;
}

function parseHeaders(lines) {
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] != null ? `${headers[k]}, ${v}` : v;
  }
  return headers;
}

const hasToken = (value, token) => (value || '').split(',').some((t) => t.trim().toLowerCase() === token);

/** Read an HTTP head (up to CRLFCRLF) from a socket. */
function readHead(socket, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no complete HTTP head within ${timeoutMs} ms`)), timeoutMs);
    function finish(err, val) {
      clearTimeout(timer);
      socket.pause(); // resumed by FuzzConnection.run(); no data may slip by
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) reject(err); else resolve(val);
    }
    function onData(d) {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        finish(null, { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
      } else if (buf.length > MAX_HEADER) {
        finish(new Error('HTTP head too large'));
      }
    }
    const onClose = () => finish(new Error(`connection closed during opening handshake${buf.length ? ` (got ${JSON.stringify(buf.toString('latin1').slice(0, 200))})` : ''}`));
    const onError = (e) => finish(e);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}

// ---------------------------------------------------------------- server mode

/** One case against a server: open a fresh connection and fuzz it. */
export async function runCaseAgainstServer(caseDef, url, opts) {
  const u = new URL(url);
  const port = Number(u.port || 80);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const path = (u.pathname || '/') + (u.search || '');
  const socket = net.connect({ host, port });
  socket.on('error', () => {});
  try {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('TCP connect timeout')), 5000);
      socket.once('connect', () => { clearTimeout(t); resolve(); });
      socket.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  } catch (e) {
    socket.destroy();
    return notOpened(caseDef, `cannot connect to ${url}: ${e.message}`);
  }
  const key = crypto.randomBytes(16).toString('base64');
  const offers = caseDef.deflate ? caseDef.deflate.offers : null;
  const offerHeader = offers ? offers.map(offerString).join(', ') : null;
  socket.write(
    `GET ${path} HTTP/1.1\r\n` +
    `Host: ${u.host}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n' +
    (offerHeader ? `Sec-WebSocket-Extensions: ${offerHeader}\r\n` : '') +
    'User-Agent: sockwave-conformance\r\n\r\n');
  let head;
  try {
    head = await readHead(socket, 5000);
  } catch (e) {
    socket.destroy();
    return notOpened(caseDef, e.message);
  }
  const [status, ...lines] = head.head.split('\r\n');
  const h = parseHeaders(lines);
  const problems = [];
  if (!/^HTTP\/1\.1 101\b/.test(status)) problems.push(`status line is ${JSON.stringify(status)} (expected 101)`);
  if ((h.upgrade || '').toLowerCase() !== 'websocket') problems.push(`Upgrade header is ${JSON.stringify(h.upgrade)}`);
  if (!hasToken(h.connection, 'upgrade')) problems.push(`Connection header is ${JSON.stringify(h.connection)}`);
  if (h['sec-websocket-accept'] !== acceptKey(key)) problems.push(`Sec-WebSocket-Accept is ${JSON.stringify(h['sec-websocket-accept'])}, expected ${acceptKey(key)}`);
  let agreed = null;
  if (offers) {
    // RFC 7692 7.1: a response the offers did not allow fails the connection
    const v = validateResponse(h['sec-websocket-extensions'], offers);
    problems.push(...v.problems.map((p) => `permessage-deflate: ${p} (offered: ${offerHeader})`));
    agreed = v.agreed;
  } else if (h['sec-websocket-extensions'] != null) problems.push(`server accepted extensions that were not offered: ${h['sec-websocket-extensions']}`);
  if (h['sec-websocket-protocol'] != null) problems.push(`server selected a subprotocol that was not offered: ${h['sec-websocket-protocol']}`);
  if (problems.length) {
    socket.destroy();
    return notOpened(caseDef, `invalid handshake response: ${problems.join('; ')}`);
  }
  const deflate = agreed ? new DeflateState(agreed, false) : null;
  const conn = new FuzzConnection({ socket, isServer: false, caseDef, leftover: head.rest, timeScale: opts.timeScale, hardTimeout: opts.hardTimeout, deflate });
  if (offers) conn.notes.push(`offered: ${offerHeader}; server response: ${h['sec-websocket-extensions'] ?? '(no extension)'}; agreed: ${describeAgreed(agreed)}`);
  return conn.run();
}

// ---------------------------------------------------------------- client mode

/** Minimal shell-like split: whitespace separated, single/double quotes. */
export function splitCommand(cmd) {
  const out = [];
  let cur = '';
  let q = null;
  let has = false;
  for (const ch of cmd) {
    if (q) {
      if (ch === q) q = null; else cur += ch;
    } else if (ch === '"' || ch === "'") { q = ch; has = true; }
    else if (/\s/.test(ch)) { if (has || cur) out.push(cur); cur = ''; has = false; }
    else { cur += ch; }
  }
  if (has || cur) out.push(cur);
  return out;
}

function validateClientHandshake(head) {
  const [reqLine, ...lines] = head.split('\r\n');
  const h = parseHeaders(lines);
  const problems = [];
  const m = /^GET (\S+) HTTP\/1\.1$/.exec(reqLine);
  if (!m) problems.push(`request line is ${JSON.stringify(reqLine)}`);
  if (!h.host) problems.push('missing Host header');
  if (!hasToken(h.upgrade, 'websocket')) problems.push(`Upgrade header is ${JSON.stringify(h.upgrade)}`);
  if (!hasToken(h.connection, 'upgrade')) problems.push(`Connection header is ${JSON.stringify(h.connection)}`);
  if (h['sec-websocket-version'] !== '13') problems.push(`Sec-WebSocket-Version is ${JSON.stringify(h['sec-websocket-version'])}`);
  const key = h['sec-websocket-key'];
  if (!key || !/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) {
    problems.push(`Sec-WebSocket-Key is ${JSON.stringify(key)} (must be base64 of 16 octets)`);
  }
  // permessage-deflate offers (RFC 7692 7.1); malformed offers are declined
  // (as RFC 7692 requires of a server) and reported as client violations
  const ext = parseClientOffers(h['sec-websocket-extensions']);
  return { target: m ? m[1] : null, headers: h, key, problems, offers: ext.offers, offerProblems: ext.problems };
}

export class FuzzingServer {
  constructor(opts) {
    this.opts = opts;
    this.slots = new Map(); // case number -> slot
    this.server = net.createServer((s) => this.onConnection(s));
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port;
      resolve(this.port);
    }));
  }

  close() { return new Promise((r) => this.server.close(() => r())); }

  async onConnection(socket) {
    socket.on('error', () => {});
    let head;
    try {
      head = await readHead(socket, 5000);
    } catch {
      socket.destroy();
      return;
    }
    const v = validateClientHandshake(head.head);
    let slot = null;
    if (v.target) {
      const u = new URL(v.target, 'http://x');
      const n = Number(u.searchParams.get('case'));
      if (u.pathname === '/runCase' && this.slots.has(n)) slot = this.slots.get(n);
    }
    if (!slot || slot.connected) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      if (slot) slot.notes.push('client opened a second connection for the same case');
      return;
    }
    slot.connected = true;
    slot.connectedAt = Date.now();
    if (v.problems.length) {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      slot.resolve(notOpened(slot.caseDef, `invalid client opening handshake: ${v.problems.join('; ')}`));
      return;
    }
    const caseDef = slot.caseDef;
    // Autobahn's fuzzing server accepts permessage-deflate only in the
    // compression cases, with the case's accept policy
    const agreed = caseDef.deflate ? applyAccept(caseDef.deflate.accept, v.offers) : null;
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptKey(v.key)}\r\n` +
      (agreed ? `Sec-WebSocket-Extensions: ${agreed.response}\r\n` : '') +
      'Server: sockwave-conformance\r\n\r\n');
    const deflate = agreed ? new DeflateState(agreed, true) : null;
    const conn = new FuzzConnection({
      socket, isServer: true, caseDef, leftover: head.rest, timeScale: this.opts.timeScale, hardTimeout: this.opts.hardTimeout, deflate,
      violations: v.offerProblems.map((p) => `client handshake: ${p}`),
    });
    if (caseDef.deflate) {
      conn.notes.push(`client offered: ${v.headers['sec-websocket-extensions'] ?? '(nothing)'}; suite answered: ${agreed ? agreed.response : '(no extension)'}; agreed: ${describeAgreed(agreed)}`);
    }
    slot.conn = conn;
    slot.resolve(await conn.run());
  }

  /** Run one case: spawn the client under test and wait for the verdict. */
  async runCase(caseDef, n) {
    const url = `ws://127.0.0.1:${this.port}/runCase?case=${n}`;
    const spawnedAt = Date.now();
    const [cmd, ...args] = splitCommand(this.opts.clientCmd);
    const slot = { caseDef, connected: false, notes: [] };
    const result = new Promise((resolve) => { slot.resolve = resolve; });
    this.slots.set(n, slot);
    const child = spawn(cmd, [...args, url], { cwd: this.opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => { if (stdout.length < 4000) stdout += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 4000) stderr += d; });
    const exited = new Promise((resolve) => {
      child.on('error', (e) => resolve({ code: null, signal: null, error: e.message }));
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    exited.then((ex) => {
      // the client went away without ever completing the handshake
      if (!slot.connected) {
        slot.connected = true;
        const what = ex.error ? `could not start client: ${ex.error}` : `client exited (code ${ex.code}, signal ${ex.signal}) before the opening handshake`;
        slot.resolve(notOpened(caseDef, `${what}${stderr.trim() ? `; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
      }
    });
    const limit = setTimeout(() => {
      // time limit for the child: stop the case
      const limitS = Math.max(this.opts.clientTimeout, caseDef.clientTimeout ?? 0);
      slot.notes.push(`client process exceeded the ${limitS}s time limit`);
      if (slot.conn && !slot.conn.finished) {
        slot.conn.notes.push(`client process exceeded the ${limitS}s time limit`);
        slot.conn.socket.destroy();
      } else if (!slot.connected) {
        slot.connected = true;
        slot.resolve(notOpened(caseDef, `client did not connect within ${limitS}s`));
      }
    }, Math.max(this.opts.clientTimeout, caseDef.clientTimeout ?? 0) * 1000);
    const res = await result;
    const endedAt = Date.now();
    clearTimeout(limit);
    // give the client a moment to exit on its own, then kill it by PID
    let ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 1000))]);
    if (!ex) {
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
      ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 1000))]);
      if (!ex) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
        ex = await exited;
      }
      res.notes.push('client process had to be killed after the case ended');
    }
    this.slots.delete(n);
    res.notes.push(...slot.notes);
    res.client = { wallMs: Date.now() - spawnedAt, connectMs: slot.connectedAt ? slot.connectedAt - spawnedAt : null, exitMs: Date.now() - endedAt, exitCode: ex.code, signal: ex.signal, stderr: stderr.trim().slice(0, 1000), stdout: stdout.trim().slice(0, 1000) };
    return res;
  }
}
