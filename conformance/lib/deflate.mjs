// permessage-deflate (RFC 7692) for the suite: Sec-WebSocket-Extensions
// parsing, offer/response validation (RFC 7692 7.1), the offers and accept
// policies of Autobahn's categories 12/13, the suite's own compressor and
// the strict per-direction decompression state (lib/inflate.mjs).

import zlib from 'node:zlib';
import { strictInflate, TRAILER } from './inflate.mjs';

export const PMD = 'permessage-deflate';
const PARAMS = ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits'];

// ------------------------------------------------------------ header syntax

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parse a Sec-WebSocket-Extensions value (RFC 6455 9.1):
 *   extension = token *( ";" param ), param = token [ "=" (token | quoted-string) ]
 * Returns { elements: [{ name, params: [[key, value|true]], raw }], error }.
 * Quoted-string values are unquoted (RFC 6455 9.1: they must then be tokens too).
 */
export function parseExtensions(value) {
  const elements = [];
  const s = value;
  let i = 0;
  const ws = () => { while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++; };
  const token = () => { const b = i; while (i < s.length && TCHAR.test(s[i])) i++; return s.slice(b, i); };
  try {
    for (;;) {
      ws();
      if (i >= s.length) break;
      if (s[i] === ',') { i++; continue; } // empty list elements are allowed (RFC 7230 #rule)
      const b = i;
      const name = token();
      if (!name) throw new Error(`expected an extension token at offset ${i}`);
      const params = [];
      ws();
      while (s[i] === ';') {
        i++;
        ws();
        const key = token();
        if (!key) throw new Error(`expected a parameter token at offset ${i}`);
        ws();
        let val = true;
        if (s[i] === '=') {
          i++;
          ws();
          if (s[i] === '"') {
            i++;
            let v = '';
            while (i < s.length && s[i] !== '"') {
              if (s[i] === '\\') i++;
              v += s[i++] ?? '';
            }
            if (s[i] !== '"') throw new Error('unterminated quoted-string');
            i++;
            if (!v || ![...v].every((ch) => TCHAR.test(ch))) throw new Error(`quoted parameter value ${JSON.stringify(v)} is not a token`);
            val = v;
          } else {
            val = token();
            if (!val) throw new Error(`expected a parameter value at offset ${i}`);
          }
          ws();
        }
        params.push([key, val]);
      }
      if (i < s.length && s[i] !== ',') throw new Error(`unexpected ${JSON.stringify(s[i])} at offset ${i}`);
      elements.push({ name, params, raw: s.slice(b, i).trim() });
    }
  } catch (e) {
    return { elements, error: `malformed Sec-WebSocket-Extensions ${JSON.stringify(value)}: ${e.message}` };
  }
  return { elements, error: null };
}

const WINDOW_RE = /^(8|9|1[0-5])$/; // RFC 7692 7.1.2: decimal 8..15 without leading zeroes

/**
 * Validate the parameters of one permessage-deflate element.
 * role 'offer' (client -> server) or 'response' (server -> client).
 * Returns { problems: [...], p: { serverNoContextTakeover, clientNoContextTakeover,
 *   serverMaxWindowBits: n|null, clientMaxWindowBits: n|true|null } }.
 */
export function checkParams(params, role) {
  const problems = [];
  const seen = new Set();
  const p = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: null };
  for (const [k, v] of params) {
    const key = k.toLowerCase();
    if (!PARAMS.includes(key)) { problems.push(`unknown parameter ${JSON.stringify(k)}`); continue; }
    if (seen.has(key)) { problems.push(`parameter ${key} given more than once`); continue; }
    seen.add(key);
    if (key === 'server_no_context_takeover' || key === 'client_no_context_takeover') {
      if (v !== true) problems.push(`${key} must not have a value (got ${JSON.stringify(v)})`);
      else if (key === 'server_no_context_takeover') p.serverNoContextTakeover = true;
      else p.clientNoContextTakeover = true;
    } else if (key === 'server_max_window_bits') {
      if (v === true) problems.push('server_max_window_bits without a value');
      else if (!WINDOW_RE.test(v)) problems.push(`server_max_window_bits has invalid value ${JSON.stringify(v)} (must be 8..15 without leading zeroes)`);
      else p.serverMaxWindowBits = Number(v);
    } else {
      if (v === true) {
        if (role === 'response') problems.push('client_max_window_bits without a value in a response');
        else p.clientMaxWindowBits = true;
      } else if (!WINDOW_RE.test(v)) problems.push(`client_max_window_bits has invalid value ${JSON.stringify(v)} (must be 8..15 without leading zeroes)`);
      else p.clientMaxWindowBits = Number(v);
    }
  }
  return { problems, p };
}

// ------------------------------------------------------------ Autobahn offers

/**
 * An Autobahn PerMessageDeflateOffer (autobahn.websocket.compress_deflate):
 * acceptNoContextTakeover -> "client_no_context_takeover" (a hint),
 * acceptMaxWindowBits -> value-less "client_max_window_bits",
 * requestNoContextTakeover -> "server_no_context_takeover",
 * requestMaxWindowBits (8..15, 0 = none) -> "server_max_window_bits=N".
 */
export function autobahnOffer({ acceptNoContextTakeover = true, acceptMaxWindowBits = true, requestNoContextTakeover = false, requestMaxWindowBits = 0 } = {}) {
  return { acceptNoContextTakeover, acceptMaxWindowBits, requestNoContextTakeover, requestMaxWindowBits };
}

export function offerString(o) {
  let s = PMD;
  if (o.acceptNoContextTakeover) s += '; client_no_context_takeover';
  if (o.acceptMaxWindowBits) s += '; client_max_window_bits';
  if (o.requestNoContextTakeover) s += '; server_no_context_takeover';
  if (o.requestMaxWindowBits) s += `; server_max_window_bits=${o.requestMaxWindowBits}`;
  return s;
}

/**
 * Server mode: validate the server's response against our offers (RFC 7692 7.1).
 * Returns { problems, agreed } where agreed is null when the server declined
 * permessage-deflate (no extension in the response).
 */
export function validateResponse(headerValue, offers) {
  if (headerValue == null) return { problems: [], agreed: null };
  const { elements, error } = parseExtensions(headerValue);
  if (error) return { problems: [error], agreed: null };
  const problems = [];
  if (elements.length === 0) return { problems: ['empty Sec-WebSocket-Extensions header in the response'], agreed: null };
  const others = elements.filter((e) => e.name.toLowerCase() !== PMD);
  if (others.length) problems.push(`server accepted extension(s) that were not offered: ${others.map((e) => e.raw).join(', ')}`);
  const pm = elements.filter((e) => e.name.toLowerCase() === PMD);
  if (pm.length > 1) problems.push(`server accepted ${PMD} ${pm.length} times (RFC 7692 5: at most one element)`);
  if (!pm.length) return { problems, agreed: null };
  const { problems: pp, p } = checkParams(pm[0].params, 'response');
  problems.push(...pp);
  if (pp.length) return { problems, agreed: null };
  // the response must accept one of the offers (RFC 7692 7.1.1 / 7.1.2)
  const why = [];
  const matches = offers.filter((o, idx) => {
    const r = [];
    if (o.requestNoContextTakeover && !p.serverNoContextTakeover) r.push('server_no_context_takeover was offered but is missing in the response');
    if (o.requestMaxWindowBits) {
      if (p.serverMaxWindowBits == null) r.push(`server_max_window_bits=${o.requestMaxWindowBits} was offered but is missing in the response`);
      else if (p.serverMaxWindowBits > o.requestMaxWindowBits) r.push(`server_max_window_bits=${p.serverMaxWindowBits} is larger than the offered ${o.requestMaxWindowBits}`);
    }
    if (p.clientMaxWindowBits != null && !o.acceptMaxWindowBits) r.push('client_max_window_bits in the response but not in the offer');
    if (r.length) why.push(`offer ${idx + 1} (${offerString(o)}): ${r.join(', ')}`);
    return r.length === 0;
  });
  if (!matches.length) problems.push(`the response ${JSON.stringify(pm[0].raw)} does not accept any offer: ${why.join('; ')}`);
  if (problems.length) return { problems, agreed: null };
  return { problems, agreed: { ...p, response: pm[0].raw } };
}

/**
 * Client mode: parse and validate the client's offers (RFC 7692 7.1).
 * Returns { offers: [{ raw, p }], problems } (problems = malformed offers;
 * per RFC 7692 7.1 the server declines those; the suite also reports them).
 */
export function parseClientOffers(headerValue) {
  if (headerValue == null) return { offers: [], problems: [] };
  const { elements, error } = parseExtensions(headerValue);
  const problems = error ? [error] : [];
  const offers = [];
  for (const e of elements) {
    if (e.name.toLowerCase() !== PMD) continue;
    const { problems: pp, p } = checkParams(e.params, 'offer');
    if (pp.length) problems.push(`invalid ${PMD} offer ${JSON.stringify(e.raw)}: ${pp.join('; ')}`);
    else offers.push({ raw: e.raw, p });
  }
  return { offers, problems };
}

/**
 * Autobahn's server-side view of a client offer (PerMessageDeflateOffer.parse):
 * acceptNoContextTakeover is always true (RFC 7692 7.1.1.2: a client must
 * support client_no_context_takeover), acceptMaxWindowBits only when the offer
 * has client_max_window_bits.
 */
function serverView(offer) {
  return {
    acceptNoContextTakeover: true,
    acceptMaxWindowBits: offer.p.clientMaxWindowBits != null,
    requestNoContextTakeover: offer.p.serverNoContextTakeover,
    requestMaxWindowBits: offer.p.serverMaxWindowBits ?? 0,
  };
}

/**
 * The server accept policies of Autobahn case 12/13 (accept_deflate / accept1..7):
 * each is a list of (requestNoContextTakeover, requestMaxWindowBits) tried in
 * order; for each, the first offer that allows it is accepted. The response
 * echoes the offer's server_* parameters and adds the requested client_* ones.
 */
export const ACCEPTS = {
  accept1: [[false, 0]],
  accept2: [[true, 0]],
  accept3: [[false, 8]],
  accept4: [[false, 15]],
  accept5: [[true, 8]],
  accept6: [[true, 15]],
  accept7: [[true, 8], [true, 0], [false, 0]],
};

export function acceptDescription(name) {
  return `server accept (requestNoContextTakeover, requestMaxWindowBits): [${ACCEPTS[name].map(([n, w]) => `(${n ? 'True' : 'False'}, ${w})`).join(', ')}]`;
}

/** Apply an accept policy to the client's offers; null = decline. */
export function applyAccept(name, offers) {
  for (const [noCtx, maxBits] of ACCEPTS[name]) {
    for (const offer of offers) {
      const v = serverView(offer);
      if (noCtx && !v.acceptNoContextTakeover) continue;
      if (maxBits && !v.acceptMaxWindowBits) continue;
      let clientBits = maxBits || null;
      // an offered client_max_window_bits value is a hint; stay within it
      if (clientBits && typeof offer.p.clientMaxWindowBits === 'number') clientBits = Math.min(clientBits, offer.p.clientMaxWindowBits);
      const agreed = {
        serverNoContextTakeover: offer.p.serverNoContextTakeover,
        clientNoContextTakeover: noCtx,
        serverMaxWindowBits: offer.p.serverMaxWindowBits,
        clientMaxWindowBits: clientBits,
      };
      let s = PMD;
      if (agreed.serverNoContextTakeover) s += '; server_no_context_takeover';
      if (agreed.serverMaxWindowBits) s += `; server_max_window_bits=${agreed.serverMaxWindowBits}`;
      if (agreed.clientNoContextTakeover) s += '; client_no_context_takeover';
      if (agreed.clientMaxWindowBits) s += `; client_max_window_bits=${agreed.clientMaxWindowBits}`;
      return { ...agreed, response: s, offer: offer.raw };
    }
  }
  return null;
}

export function describeAgreed(a) {
  if (!a) return 'none';
  const parts = [];
  if (a.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (a.clientNoContextTakeover) parts.push('client_no_context_takeover');
  if (a.serverMaxWindowBits) parts.push(`server_max_window_bits=${a.serverMaxWindowBits}`);
  if (a.clientMaxWindowBits) parts.push(`client_max_window_bits=${a.clientMaxWindowBits}`);
  return parts.length ? parts.join('; ') : '(no parameters)';
}

// ------------------------------------------------------------ per-connection state

/**
 * Compression state of one connection, from the suite's side.
 * `isServer`: the suite's role. `agreed`: negotiated parameters.
 * tx = what the suite sends (uses the agreed parameters of its own direction,
 * with context takeover whenever allowed, like Autobahn);
 * rx = what the peer sends (judged strictly against the peer's parameters).
 */
export class DeflateState {
  constructor(agreed, isServer) {
    this.agreed = agreed;
    const own = isServer ? 'server' : 'client';
    const peer = isServer ? 'client' : 'server';
    this.tx = {
      noContext: isServer ? agreed.serverNoContextTakeover : agreed.clientNoContextTakeover,
      windowBits: (isServer ? agreed.serverMaxWindowBits : agreed.clientMaxWindowBits) || 15,
    };
    this.rx = {
      noContext: isServer ? agreed.clientNoContextTakeover : agreed.serverNoContextTakeover,
      windowBits: (isServer ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits) || 15,
      declared: isServer ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits,
    };
    this.own = own;
    this.peer = peer;
    this.history = Buffer.alloc(0);
    this.txHistory = Buffer.alloc(0);
    this.rxMessages = 0;
    this.rxCompressed = 0;
    this.rxOctets = 0; // compressed octets received
    this.rxPlain = 0; // decompressed octets
  }

  /**
   * Compress one message (RFC 7692 7.2.1) and return the frame payload.
   * Synchronous: each message is one raw DEFLATE stream ended with a sync
   * flush (trailing 00 00 ff ff removed). With context takeover the stream
   * is primed with the previous messages as preset dictionary (the last
   * 2^window_bits octets), so it back-references earlier messages exactly as
   * a continuous compressor would; without it every message stands alone.
   */
  compress(data) {
    // zlib raises windowBits 8 to 9 for raw deflate; its encoder never emits
    // distances beyond 2^9 - 262 = 250, so it stays within a 256-octet window
    const windowBits = Math.max(9, this.tx.windowBits);
    const opts = { windowBits, memLevel: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH };
    if (!this.tx.noContext && this.txHistory.length) opts.dictionary = this.txHistory;
    const out = zlib.deflateRawSync(data, opts);
    if (out.length < 4 || !out.subarray(out.length - 4).equals(TRAILER)) throw new Error('internal: sync flush did not end with 00 00 ff ff');
    if (!this.tx.noContext) {
      const keep = 1 << this.tx.windowBits;
      const h = data.length >= keep ? data.subarray(data.length - keep) : Buffer.concat([this.txHistory, data]);
      this.txHistory = Buffer.from(h.length > keep ? h.subarray(h.length - keep) : h);
    }
    return out.subarray(0, out.length - 4);
  }

  /** Strictly decompress one received compressed message. */
  decompress(payload, maxOutput) {
    this.rxCompressed++;
    this.rxOctets += payload.length;
    const note = `${this.peer} agreed to ${this.peer}_no_context_takeover but its compressor did not reset the LZ77 window between messages`;
    const r = strictInflate(Buffer.concat([payload, TRAILER]), {
      history: this.rx.noContext ? Buffer.alloc(0) : this.history,
      windowBits: this.rx.windowBits,
      maxOutput,
      contextNote: this.rx.noContext ? note : '',
    });
    if (r.error) {
      let e = r.error;
      if (/exceeds the negotiated LZ77 window/.test(e)) {
        e += this.rx.declared ? ` (${this.peer}_max_window_bits=${this.rx.declared} was agreed)` : '';
      }
      return { error: e };
    }
    if (!this.rx.noContext) {
      const h = Buffer.concat([this.history, r.output]);
      this.history = h.length > 32768 ? Buffer.from(h.subarray(h.length - 32768)) : h;
    }
    this.rxPlain += r.output.length;
    return { output: r.output };
  }

  close() {}
}
