import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { decodeUtf8, encodeUtf8Into, isValidUtf8, Utf8Validator } from '../../src/protocol/utf8.js';
import { mulberry32, randInt } from '../support/chunking.js';
import { hex } from '../support/frames.js';

/** Runs the validator over `pieces`; true when every push and finish() accepted. */
function validate(pieces: readonly Uint8Array[]): boolean {
  const v = new Utf8Validator();
  for (const piece of pieces) if (!v.push(piece)) return false;
  return v.finish();
}

function byteByByte(data: Buffer): Buffer[] {
  return [...data].map((b) => Buffer.from([b]));
}

/** Every way to cut `data` into 2 pieces, and into 3 pieces. */
function allSplits(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= data.length; i++) {
    out.push([data.subarray(0, i), data.subarray(i)]);
    for (let j = i; j <= data.length; j++) out.push([data.subarray(0, i), data.subarray(i, j), data.subarray(j)]);
  }
  return out;
}

function fatalDecode(data: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

const VALID: Array<[string, string]> = [
  ['empty', ''],
  ['ASCII', '48 65 6c 6c 6f 00 7f'],
  ['2-byte U+0080', 'c2 80'],
  ['2-byte U+07FF', 'df bf'],
  ['3-byte U+0800', 'e0 a0 80'],
  ['3-byte U+20AC (euro)', 'e2 82 ac'],
  ['3-byte U+D7FF (last before surrogates)', 'ed 9f bf'],
  ['3-byte U+E000 (first after surrogates)', 'ee 80 80'],
  ['3-byte U+FFFF', 'ef bf bf'],
  ['4-byte U+10000', 'f0 90 80 80'],
  ['4-byte U+1F600 (emoji)', 'f0 9f 98 80'],
  ['4-byte U+10FFFF', 'f4 8f bf bf'],
  ['mixed text', Buffer.from('κόσμε — €, 𝄞 and 😀 in a row', 'utf8').toString('hex')],
];

const INVALID: Array<[string, string]> = [
  ['overlong 2-byte C0 80', 'c0 80'],
  ['overlong 2-byte C1 BF', 'c1 bf'],
  ['overlong 3-byte E0 80 80', 'e0 80 80'],
  ['overlong 3-byte E0 9F BF', 'e0 9f bf'],
  ['overlong 4-byte F0 80 80 80', 'f0 80 80 80'],
  ['overlong 4-byte F0 8F BF BF', 'f0 8f bf bf'],
  ['surrogate U+D800 ED A0 80', 'ed a0 80'],
  ['surrogate U+DFFF ED BF BF', 'ed bf bf'],
  ['surrogate pair as CESU-8', 'ed a0 bd ed b2 a9'],
  ['above U+10FFFF F4 90 80 80', 'f4 90 80 80'],
  ['lead byte F5', 'f5 80 80 80'],
  ['lead byte F8 (5-byte form)', 'f8 88 80 80 80'],
  ['byte FE', 'fe'],
  ['byte FF', 'ff'],
  ['lone continuation 80', '80'],
  ['lone continuation BF after ASCII', '41 bf'],
  ['2-byte lead followed by ASCII', 'c2 41'],
  ['3-byte sequence cut by ASCII', 'e2 82 41'],
  ['4-byte sequence cut by ASCII', 'f0 90 80 41'],
  ['too many continuations', 'c2 80 80'],
  ['truncated 2-byte at the end', '41 c2'],
  ['truncated 3-byte at the end', 'e2 82'],
  ['truncated 4-byte at the end', 'f0 90 80'],
  ['invalid after valid text', Buffer.from('héllo wörld ', 'utf8').toString('hex') + ' ed a0 80'],
];

/** Bytes chosen to hit boundaries often: ASCII, continuations, every lead class, invalid bytes. */
const INTERESTING_BYTES = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff];
/** Code points at the edges of each UTF-8 length, U+FFFD (valid text, and the decoder's replacement) among them. */
const EDGE_CODE_POINTS = [0x41, 0xe9, 0x3b1, 0x7ff, 0x800, 0x20ac, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff];

/** Up to `maxParts` pieces, each a whole edge code point, an interesting byte, or any byte: valid about half the time. */
function nearlyUtf8(rng: () => number, maxParts: number): Buffer {
  const parts: number[] = [];
  const count = randInt(rng, 0, maxParts);
  for (let k = 0; k < count; k++) {
    const r = rng();
    if (r < 0.55) parts.push(...Buffer.from(String.fromCodePoint(EDGE_CODE_POINTS[randInt(rng, 0, EDGE_CODE_POINTS.length - 1)]!), 'utf8'));
    else if (r < 0.8) parts.push(INTERESTING_BYTES[randInt(rng, 0, INTERESTING_BYTES.length - 1)]!);
    else parts.push(randInt(rng, 0, 255));
  }
  return Buffer.from(parts);
}

describe('Utf8Validator', () => {
  for (const [name, bytes] of VALID) {
    test(`accepts ${name} whole, byte by byte and split at every position`, () => {
      const data = hex(bytes);
      assert.equal(fatalDecode(data), true, 'reference decoder disagrees with the test table');
      assert.equal(validate([data]), true, 'whole');
      assert.equal(validate(byteByByte(data)), true, 'byte by byte');
      for (const pieces of allSplits(data)) assert.equal(validate(pieces), true, `split ${pieces.map((p) => p.length).join('+')}`);
    });
  }

  for (const [name, bytes] of INVALID) {
    test(`rejects ${name} whole, byte by byte and split at every position`, () => {
      const data = hex(bytes);
      assert.equal(fatalDecode(data), false, 'reference decoder disagrees with the test table');
      assert.equal(validate([data]), false, 'whole');
      assert.equal(validate(byteByByte(data)), false, 'byte by byte');
      for (const pieces of allSplits(data)) assert.equal(validate(pieces), false, `split ${pieces.map((p) => p.length).join('+')}`);
    });
  }

  const FAIL_FAST: Array<[string, string]> = [
    ['E0 80 (overlong 3-byte)', 'e0 80'],
    ['ED A0 (surrogate)', 'ed a0'],
    ['F0 80 (overlong 4-byte)', 'f0 80'],
    ['F4 90 (above U+10FFFF)', 'f4 90'],
    ['C0', 'c0'],
    ['C1', 'c1'],
    ['F5', 'f5'],
    ['FF', 'ff'],
  ];
  for (const [name, bytes] of FAIL_FAST) {
    test(`fails fast on the invalid prefix ${name} before the sequence is complete`, () => {
      const prefix = hex(bytes);
      // Whole prefix in one push, alone and after valid text.
      assert.equal(new Utf8Validator().push(prefix), false, 'whole');
      assert.equal(new Utf8Validator().push(Buffer.concat([Buffer.from('abc é '), prefix])), false, 'after text');
      // Byte by byte: accepted until the offending byte, rejected on it.
      const v = new Utf8Validator();
      for (let i = 0; i < prefix.length - 1; i++) assert.equal(v.push(prefix.subarray(i, i + 1)), true, `byte ${i}`);
      assert.equal(v.push(prefix.subarray(prefix.length - 1)), false, 'offending byte');
      // The lead byte carried over from a previous piece that ended with valid text.
      if (prefix.length === 2) {
        const w = new Utf8Validator();
        assert.equal(w.push(Buffer.concat([Buffer.from('ok '), prefix.subarray(0, 1)])), true);
        assert.equal(w.push(prefix.subarray(1)), false);
      }
    });
  }

  test('accepts valid prefixes that are still incomplete, then finish() reports false', () => {
    for (const bytes of ['c2', 'df', 'e0 a0', 'e2 82', 'ed 9f', 'f0 90', 'f0 90 80', 'f4 8f bf', '41 42 f0 9f 98']) {
      const v = new Utf8Validator();
      assert.equal(v.push(hex(bytes)), true, bytes);
      assert.equal(v.pending, true, `${bytes} pending`);
      assert.equal(v.finish(), false, `${bytes} finish`);
      assert.equal(v.pending, false, `${bytes} reset by finish`);
    }
  });

  test('finish() resets the validator for the next text', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('e2 82')), true);
    assert.equal(v.finish(), false);
    assert.equal(v.push(hex('41')), true, 'the carried bytes are gone');
    assert.equal(v.finish(), true);
  });

  test('reset() drops a carried incomplete sequence', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('f0 9f')), true);
    v.reset();
    assert.equal(v.pending, false);
    assert.equal(v.push(hex('41')), true);
    assert.equal(v.finish(), true);
  });

  test('a code point completed across three pieces is accepted', () => {
    const v = new Utf8Validator();
    assert.equal(v.push(hex('41 f0')), true);
    assert.equal(v.push(hex('9f')), true);
    assert.equal(v.push(hex('98 80 42')), true);
    assert.equal(v.finish(), true);
  });

  test('validates only bytes[start, end) when given a range', () => {
    const data = hex('ff e2 82 ac ff');
    const v = new Utf8Validator();
    assert.equal(v.push(data, 1, 4), true);
    assert.equal(v.finish(), true);
    const w = new Utf8Validator();
    assert.equal(w.push(data, 1, 3), true, 'E2 82 carried');
    assert.equal(w.push(data, 3, 4), true, 'AC completes it');
    assert.equal(w.finish(), true);
    assert.equal(new Utf8Validator().push(data, 0, 2), false, 'FF is in range');
  });

  test('a carried lead byte followed by a byte below 0x80 fails at the piece that brings it', () => {
    for (const lead of [0xc2, 0xdf, 0xe1, 0xed, 0xee, 0xf1, 0xf4]) {
      const v = new Utf8Validator();
      assert.equal(v.push(Buffer.from([0x61, lead])), true, `${lead.toString(16)} carried`);
      assert.equal(v.push(Buffer.from([0x7f, 0x80, 0x80])), false, `${lead.toString(16)} 7f`);
    }
  });

  test('a lead byte just before the range is not read as the start of the range\'s sequence', () => {
    // F0 9F 98 is a valid incomplete prefix, but the range 9F 98 alone starts with continuation bytes.
    assert.equal(new Utf8Validator().push(hex('f0 9f 98'), 1, 3), false);
    // An empty range after a lead byte carries nothing.
    for (const [bytes, at] of [[hex('e2'), 1], [hex('61 f0'), 2]] as const) {
      const v = new Utf8Validator();
      assert.equal(v.push(bytes, at, at), true);
      assert.equal(v.pending, false, 'nothing carried from outside the range');
      assert.equal(v.finish(), true);
    }
  });

  test('agrees with a fatal TextDecoder on random byte strings split at random points, failing at the same piece', () => {
    const rng = mulberry32(0x5eed);
    let valid = 0;
    let invalid = 0;
    for (let iter = 0; iter < 5000; iter++) {
      const data = nearlyUtf8(rng, 24);
      // Random split points.
      const cuts = new Set<number>();
      const cutCount = randInt(rng, 0, 6);
      for (let k = 0; k < cutCount; k++) cuts.add(randInt(rng, 0, data.length));
      const sorted = [...cuts].sort((a, b) => a - b);
      const pieces: Buffer[] = [];
      let prev = 0;
      for (const c of sorted) {
        pieces.push(data.subarray(prev, c));
        prev = c;
      }
      pieces.push(data.subarray(prev));

      // Streaming reference: the WHATWG decoder reports an error at the first byte that makes the
      // stream invalid, which is what fail-fast validation must match.
      const decoder = new TextDecoder('utf-8', { fatal: true });
      let refFail = -1;
      for (let k = 0; k < pieces.length && refFail === -1; k++) {
        try {
          decoder.decode(pieces[k]!, { stream: true });
        } catch {
          refFail = k;
        }
      }
      let refValid = refFail === -1;
      if (refValid) {
        try {
          decoder.decode();
        } catch {
          refValid = false;
        }
      }
      const v = new Utf8Validator();
      let ourFail = -1;
      for (let k = 0; k < pieces.length; k++) {
        if (!v.push(pieces[k]!)) {
          ourFail = k;
          break;
        }
      }
      const ourValid = ourFail === -1 && v.finish();
      const label = `${data.toString('hex')} split ${pieces.map((p) => p.length).join('+')}`;
      assert.equal(ourValid, refValid, `validity: ${label}`);
      assert.equal(ourFail, refFail, `first rejected piece: ${label}`);
      assert.equal(isValidUtf8(data), fatalDecode(data), `isValidUtf8: ${label}`);
      if (refValid) valid++;
      else invalid++;
    }
    assert.ok(valid > 500 && invalid > 500, `both outcomes exercised (${valid} valid, ${invalid} invalid)`);
  });
});

describe('isValidUtf8', () => {
  test('accepts valid text and rejects surrogates, overlongs and code points above U+10FFFF', () => {
    assert.equal(isValidUtf8(Buffer.alloc(0)), true);
    assert.equal(isValidUtf8(Buffer.from('héllo 😀')), true);
    assert.equal(isValidUtf8(hex('ed a0 80')), false);
    assert.equal(isValidUtf8(hex('c0 80')), false);
    assert.equal(isValidUtf8(hex('f4 90 80 80')), false);
    assert.equal(isValidUtf8(hex('e2 82')), false);
  });
});

describe('decodeUtf8', () => {
  test('returns the text for valid UTF-8 and null for invalid, agreeing with a fatal TextDecoder on random bytes', () => {
    const rng = mulberry32(0xdec0de);
    let valid = 0;
    let invalid = 0;
    let withReplacement = 0;
    for (let iter = 0; iter < 5000; iter++) {
      const pad = randInt(rng, 0, 3);
      const data = Buffer.concat([Buffer.alloc(pad, 0xff), nearlyUtf8(rng, 20), Buffer.alloc(2, 0xff)]);
      const end = data.length - 2;
      const bytes = data.subarray(pad, end);
      const expected = fatalDecode(bytes) ? bytes.toString('utf8') : null;
      assert.equal(decodeUtf8(data, pad, end), expected, bytes.toString('hex'));
      if (expected === null) invalid++;
      else {
        valid++;
        if (expected.includes('\uFFFD')) withReplacement++;
      }
    }
    assert.ok(valid > 500 && invalid > 500 && withReplacement > 40, `all outcomes exercised (${valid} valid, ${invalid} invalid, ${withReplacement} with U+FFFD)`);
  });

  test('rejects surrogates, overlongs, code points past U+10FFFF and a truncated sequence; keeps a real U+FFFD', () => {
    for (const bad of ['ed a0 80', 'c0 80', 'e0 80 80', 'f4 90 80 80', 'e2 82', 'f0 9f 98']) {
      const data = hex(`61 ${bad} 62`);
      assert.equal(decodeUtf8(data, 0, data.length), null, bad);
    }
    const replacement = Buffer.from('a\uFFFDb');
    assert.equal(decodeUtf8(replacement, 0, replacement.length), 'a\uFFFDb');
    assert.equal(decodeUtf8(Buffer.alloc(0), 0, 0), '');
  });
});

describe('encodeUtf8Into', () => {
  test('writes what Buffer.write writes, lone surrogates included, and returns the byte count', () => {
    for (const text of ['', 'abc', 'héllo € 😀', '\uD800 lone', 'x\uDFFF', 'a'.repeat(300)]) {
      const ours = Buffer.alloc(1000, 0xaa);
      const theirs = Buffer.alloc(1000, 0xaa);
      const n = encodeUtf8Into(ours, text, 5);
      assert.equal(n, theirs.write(text, 5, 'utf8'), text);
      assert.deepStrictEqual(ours, theirs, text);
    }
  });

  test('near the end of the buffer, writes whole characters only', () => {
    const target = Buffer.alloc(6, 0);
    assert.equal(encodeUtf8Into(target, '€€', 1), 3, 'one 3-byte character fits in 5 bytes, not two');
    assert.deepStrictEqual(target, Buffer.from([0, 0xe2, 0x82, 0xac, 0, 0]));
  });
});
