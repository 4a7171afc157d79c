// A strict raw-DEFLATE (RFC 1951) decoder for judging permessage-deflate
// (RFC 7692) payloads sent by the peer under test.
//
// zlib cannot be used for this: when the output of a call is kept in one
// buffer, zlib's inflate resolves back-references against that buffer and
// never checks them against the window size the stream was declared with, and
// a fresh zlib inflater cannot tell "references a previous message" apart
// from any other corruption. This decoder checks every back-reference:
//   - its distance must not exceed the negotiated LZ77 window (2^max_window_bits);
//   - it must not reach before the start of the message when the sender agreed
//     to X_no_context_takeover (the history is empty then);
//   - it must not reach before the data the receiver can have (history kept
//     from earlier compressed messages when context takeover is allowed).
// It also rejects invalid block types, invalid/over-subscribed Huffman codes,
// invalid symbols, stored-block LEN/NLEN mismatches, truncated data and data
// after a final block, and limits the output size.

const LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

export const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

class InflateError extends Error {}

/**
 * Canonical Huffman decoding table (RFC 1951 3.2.2): a direct lookup table
 * indexed by the next `bits` input bits (LSB first); entry = symbol << 4 | length,
 * 0 = no code.
 */
function buildTable(lengths, n, what) {
  const count = new Int32Array(16);
  let maxLen = 0;
  for (let i = 0; i < n; i++) {
    const l = lengths[i];
    count[l]++;
    if (l > maxLen) maxLen = l;
  }
  if (maxLen === 0) return { table: null, bits: 0 };
  let left = 1;
  for (let l = 1; l <= 15; l++) {
    left = (left << 1) - count[l];
    if (left < 0) throw new InflateError(`over-subscribed ${what} Huffman code`);
  }
  const next = new Int32Array(16);
  let code = 0;
  count[0] = 0;
  for (let l = 1; l <= maxLen; l++) {
    code = (code + count[l - 1]) << 1;
    next[l] = code;
  }
  const size = 1 << maxLen;
  const table = new Int32Array(size);
  for (let sym = 0; sym < n; sym++) {
    const l = lengths[sym];
    if (!l) continue;
    let c = next[l]++;
    let rev = 0;
    for (let i = 0; i < l; i++) { rev = (rev << 1) | (c & 1); c >>= 1; }
    const entry = (sym << 4) | l;
    for (let j = rev; j < size; j += 1 << l) table[j] = entry;
  }
  return { table, bits: maxLen };
}

let FIXED = null;
function fixedTables() {
  if (!FIXED) {
    const l = new Uint8Array(288);
    for (let i = 0; i < 144; i++) l[i] = 8;
    for (let i = 144; i < 256; i++) l[i] = 9;
    for (let i = 256; i < 280; i++) l[i] = 7;
    for (let i = 280; i < 288; i++) l[i] = 8;
    const d = new Uint8Array(30).fill(5);
    FIXED = { lit: buildTable(l, 288, 'literal/length'), dist: buildTable(d, 30, 'distance') };
  }
  return FIXED;
}

/**
 * Decode one raw DEFLATE stream.
 * @param {Buffer} input       compressed data (message payload + 00 00 ff ff)
 * @param {object} o
 * @param {Buffer} o.history    decompressed data available from earlier messages
 *                              (empty when the sender agreed to no context takeover)
 * @param {number} o.windowBits negotiated max_window_bits of the sender (8..15)
 * @param {number} o.maxOutput  output limit in octets
 * @param {string} o.contextNote text explaining why the history is empty
 * @returns {{ output: Buffer|null, error: string|null, maxDistance: number, blocks: number, finalBlock: boolean }}
 */
export function strictInflate(input, { history = Buffer.alloc(0), windowBits = 15, maxOutput = 64 * 1024 * 1024, contextNote = '' } = {}) {
  const win = 1 << windowBits;
  const hist = history.length > 32768 ? history.subarray(history.length - 32768) : history;
  let out = new Uint8Array(Math.min(maxOutput + hist.length, Math.max(1024, hist.length + input.length * 4)));
  out.set(hist, 0);
  const start = hist.length;
  let op = start;
  let ip = 0;
  let bitbuf = 0;
  let bitcnt = 0;
  let maxDistance = 0;
  let blocks = 0;
  let finalBlock = false;
  const inLen = input.length;

  const grow = (need) => {
    if (op + need - start > maxOutput) throw new InflateError(`decompressed message exceeds ${maxOutput} octets`);
    let size = out.length;
    while (size < op + need) size *= 2;
    const n = new Uint8Array(Math.min(size, maxOutput + start));
    n.set(out.subarray(0, op));
    out = n;
  };
  const bits = (n) => {
    while (bitcnt < n) {
      if (ip >= inLen) throw new InflateError('compressed data ends within a DEFLATE block (truncated)');
      bitbuf |= input[ip++] << bitcnt;
      bitcnt += 8;
    }
    const v = bitbuf & ((1 << n) - 1);
    bitbuf >>>= n;
    bitcnt -= n;
    return v;
  };
  const decodeSym = (t, what) => {
    if (!t.table) throw new InflateError(`${what} code used but the block defines no ${what} codes`);
    while (bitcnt < t.bits && ip < inLen) { bitbuf |= input[ip++] << bitcnt; bitcnt += 8; }
    const e = t.table[bitbuf & ((1 << t.bits) - 1)];
    const l = e & 15;
    if (l === 0) throw new InflateError(`invalid ${what} Huffman code`);
    if (l > bitcnt) throw new InflateError('compressed data ends within a DEFLATE block (truncated)');
    bitbuf >>>= l;
    bitcnt -= l;
    return e >> 4;
  };

  try {
    for (;;) {
      if (finalBlock) break;
      // end of data on a block boundary: everything consumed, only zero padding left
      if (ip >= inLen && bitcnt < 8) {
        if (bitbuf & ((1 << bitcnt) - 1)) throw new InflateError('compressed data ends within a DEFLATE block (truncated)');
        if (blocks === 0) throw new InflateError('compressed message contains no DEFLATE block');
        break;
      }
      const bfinal = bits(1);
      const btype = bits(2);
      blocks++;
      if (bfinal) finalBlock = true;
      if (btype === 0) {
        // stored block: skip to the byte boundary; give back whole bytes the
        // bit reader has already taken from the input
        const drop = bitcnt & 7;
        bitbuf >>>= drop;
        bitcnt -= drop;
        ip -= bitcnt >> 3;
        bitbuf = 0;
        bitcnt = 0;
        if (ip + 4 > inLen) throw new InflateError('compressed data ends within a stored DEFLATE block header (truncated)');
        const len = input[ip] | (input[ip + 1] << 8);
        const nlen = input[ip + 2] | (input[ip + 3] << 8);
        ip += 4;
        if (len !== (~nlen & 0xffff)) throw new InflateError(`stored DEFLATE block with LEN ${len} not matching NLEN ${nlen}`);
        if (ip + len > inLen) throw new InflateError('compressed data ends within a stored DEFLATE block (truncated)');
        if (op + len > out.length) grow(len);
        out.set(input.subarray(ip, ip + len), op);
        op += len;
        ip += len;
        continue;
      }
      if (btype === 3) throw new InflateError('invalid DEFLATE block type 3');
      let lit;
      let dist;
      if (btype === 1) {
        ({ lit, dist } = fixedTables());
      } else {
        const hlit = bits(5) + 257;
        const hdist = bits(5) + 1;
        const hclen = bits(4) + 4;
        if (hlit > 286) throw new InflateError(`invalid HLIT ${hlit}`);
        if (hdist > 30) throw new InflateError(`invalid HDIST ${hdist}`);
        const cl = new Uint8Array(19);
        for (let i = 0; i < hclen; i++) cl[CL_ORDER[i]] = bits(3);
        const clt = buildTable(cl, 19, 'code length');
        const lens = new Uint8Array(hlit + hdist);
        for (let i = 0; i < hlit + hdist;) {
          const sym = decodeSym(clt, 'code length');
          if (sym < 16) lens[i++] = sym;
          else {
            let rep;
            let val = 0;
            if (sym === 16) {
              if (i === 0) throw new InflateError('code length repeat (16) without a previous length');
              val = lens[i - 1];
              rep = 3 + bits(2);
            } else if (sym === 17) rep = 3 + bits(3);
            else rep = 11 + bits(7);
            if (i + rep > hlit + hdist) throw new InflateError('code lengths overflow HLIT + HDIST');
            lens.fill(val, i, i + rep);
            i += rep;
          }
        }
        if (lens[256] === 0) throw new InflateError('dynamic block without an end-of-block code');
        lit = buildTable(lens.subarray(0, hlit), hlit, 'literal/length');
        dist = buildTable(lens.subarray(hlit), hdist, 'distance');
      }
      for (;;) {
        const sym = decodeSym(lit, 'literal/length');
        if (sym < 256) {
          if (op >= out.length) grow(1);
          out[op++] = sym;
        } else if (sym === 256) {
          break;
        } else {
          const li = sym - 257;
          if (li >= 29) throw new InflateError(`invalid length symbol ${sym}`);
          const len = LEN_BASE[li] + (LEN_EXTRA[li] ? bits(LEN_EXTRA[li]) : 0);
          const ds = decodeSym(dist, 'distance');
          if (ds >= 30) throw new InflateError(`invalid distance symbol ${ds}`);
          const d = DIST_BASE[ds] + (DIST_EXTRA[ds] ? bits(DIST_EXTRA[ds]) : 0);
          if (d > maxDistance) maxDistance = d;
          if (d > win) {
            throw new InflateError(`back-reference distance ${d} exceeds the negotiated LZ77 window of ${win} octets (max_window_bits=${windowBits}) at decompressed offset ${op - start}`);
          }
          if (d > op) {
            if (start === 0 && op - start < d) {
              throw new InflateError(`back-reference distance ${d} at decompressed offset ${op - start} reaches before the start of this message${contextNote ? ` (${contextNote})` : ''}`);
            }
            throw new InflateError(`back-reference distance ${d} at decompressed offset ${op - start} reaches before all data decompressed so far on this connection`);
          }
          if (op + len > out.length) grow(len);
          let from = op - d;
          for (let k = 0; k < len; k++) out[op++] = out[from++];
        }
      }
    }
    if (finalBlock) {
      // RFC 7692 7.2.3.4: a final block may be followed by an empty stored
      // block (minus its LEN/NLEN) and the appended 00 00 ff ff
      const rest = inLen - ip + (bitcnt >> 3);
      if (rest > 5) throw new InflateError(`${rest} octets of data after the final DEFLATE block`);
    }
  } catch (e) {
    if (!(e instanceof InflateError)) throw e;
    return { output: null, error: e.message, maxDistance, blocks, finalBlock };
  }
  return { output: Buffer.from(out.buffer, out.byteOffset + start, op - start), error: null, maxDistance, blocks, finalBlock };
}
