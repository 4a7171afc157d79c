/**
 * The Sec-WebSocket-Extensions grammar (RFC 6455 §9.1) and its serialization.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { ExtensionHeaderError, formatExtension, parseExtensionHeader, type ExtensionOffer } from '../../src/handshake/extension-header.js';

function parsed(header: string): ExtensionOffer[] {
  return parseExtensionHeader(header);
}

describe('parseExtensionHeader: valid headers', () => {
  test('a single extension without parameters', () => {
    assert.deepEqual(parsed('permessage-deflate'), [{ name: 'permessage-deflate', params: [] }]);
  });

  test('several extensions separated by commas keep their order and their own parameters', () => {
    assert.deepEqual(parsed('foo; a=1, bar, baz; b; c=x'), [
      { name: 'foo', params: [['a', '1']] },
      { name: 'bar', params: [] },
      { name: 'baz', params: [['b', true], ['c', 'x']] },
    ]);
  });

  test('a parameter without a value is reported as true, one with a value as its text, in order', () => {
    assert.deepEqual(parsed('permessage-deflate; client_max_window_bits; server_max_window_bits=10; server_no_context_takeover'), [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
          ['server_no_context_takeover', true],
        ],
      },
    ]);
  });

  test('the same extension offered twice gives two elements (RFC 7692 §5: fallback offers)', () => {
    assert.deepEqual(parsed('permessage-deflate; server_max_window_bits=10, permessage-deflate'), [
      { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
      { name: 'permessage-deflate', params: [] },
    ]);
  });

  test('a repeated parameter is kept twice (validation belongs to the extension)', () => {
    assert.deepEqual(parsed('x; a=1; a=2'), [{ name: 'x', params: [['a', '1'], ['a', '2']] }]);
  });

  test('whitespace around separators is ignored', () => {
    assert.deepEqual(parsed('  foo ;  a=1 ;b  ,   bar  '), [
      { name: 'foo', params: [['a', '1'], ['b', true]] },
      { name: 'bar', params: [] },
    ]);
  });

  test('headers joined with ", " (several header lines) parse as one list; empty list elements are skipped', () => {
    assert.deepEqual(parsed('foo, , bar,'), [
      { name: 'foo', params: [] },
      { name: 'bar', params: [] },
    ]);
    assert.deepEqual(parsed(''), []);
  });

  test('an empty element at the very start is skipped too (a header line that was empty, joined first)', () => {
    assert.deepEqual(parsed(', foo'), [{ name: 'foo', params: [] }]);
    assert.deepEqual(parsed(',foo; a=1'), [{ name: 'foo', params: [['a', '1']] }]);
  });

  test('a quoted value is unquoted when it is a token', () => {
    assert.deepEqual(parsed('permessage-deflate; client_max_window_bits="10"'), [
      { name: 'permessage-deflate', params: [['client_max_window_bits', '10']] },
    ]);
  });

  test('backslash escapes inside a quoted value are removed', () => {
    assert.deepEqual(parsed('x; a="1\\0"; b="\\a\\b"'), [{ name: 'x', params: [['a', '10'], ['b', 'ab']] }]);
  });

  test('a comma or semicolon inside quotes does not split the header (the value is then rejected as a non-token)', () => {
    // Split at the comma, `x; a="1` would be an unterminated quoted string instead.
    const notSplit = (error: unknown): boolean => error instanceof ExtensionHeaderError && !/unterminated/.test(error.message);
    assert.throws(() => parsed('x; a="1,2"'), notSplit);
    assert.throws(() => parsed('x; a="1;2"'), notSplit);
  });

  test('token characters allowed by RFC 9110 are accepted in names and values', () => {
    assert.deepEqual(parsed("x-ext!#$%&'*+.^_`|~9; p-1=v.2~"), [{ name: "x-ext!#$%&'*+.^_`|~9", params: [['p-1', 'v.2~']] }]);
  });
});

describe('parseExtensionHeader: invalid headers throw ExtensionHeaderError', () => {
  const invalid: Array<[string, string]> = [
    ['an empty extension name before parameters', '; a=1'],
    ['a name with a space in it', 'per message'],
    ['a name with a separator character', 'foo/bar'],
    ['a name that is a quoted string', '"foo"'],
    ['an empty parameter name', 'foo; =1'],
    ['an empty parameter (trailing semicolon)', 'foo;'],
    ['a parameter name with a space in it', 'foo; a b=1'],
    ['a parameter name with a non-token character', 'foo; a@b=1'],
    ['an empty value', 'foo; a='],
    ['a value with a non-token character', 'foo; a=1/2'],
    ['a value with a space in it', 'foo; a=1 2'],
    ['a quoted value that unquotes to an empty string', 'foo; a=""'],
    ['a quoted value that unquotes to a non-token', 'foo; a="1 2"'],
    ['a quoted value with an escaped quote (not a token once unquoted)', 'foo; a="x\\"y"'],
    ['an unterminated quoted value', 'foo; a="10'],
    ['an unterminated quoted value whose last quote is escaped', 'foo; a="10\\"'],
    ['a lone quote as a value', 'foo; a="'],
    ['text after the closing quote', 'foo; a="10"x'],
    ['a quote in the middle of a token value', 'foo; a=1"0"'],
    ['a non-ASCII name', 'fé'],
  ];
  for (const [what, header] of invalid) {
    test(`${what}: ${JSON.stringify(header)}`, () => {
      assert.throws(() => parseExtensionHeader(header), ExtensionHeaderError);
    });
  }

  test('one bad extension makes the whole header invalid, even after valid ones', () => {
    assert.throws(() => parseExtensionHeader('permessage-deflate, foo; a="x'), ExtensionHeaderError);
    assert.throws(() => parseExtensionHeader('permessage-deflate, b@d'), ExtensionHeaderError);
  });

  test('the error is an Error with a message', () => {
    try {
      parseExtensionHeader('foo; a="x');
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(error instanceof Error);
      assert.ok(error instanceof ExtensionHeaderError);
      assert.match((error as Error).message, /unterminated/);
    }
  });
});

describe('formatExtension', () => {
  test('writes the name, then each parameter after "; ", value-less ones bare', () => {
    assert.equal(formatExtension({ name: 'permessage-deflate', params: [] }), 'permessage-deflate');
    assert.equal(
      formatExtension({ name: 'permessage-deflate', params: [['server_no_context_takeover', true], ['client_max_window_bits', '10']] }),
      'permessage-deflate; server_no_context_takeover; client_max_window_bits=10',
    );
  });

  const samples: ExtensionOffer[] = [
    { name: 'permessage-deflate', params: [] },
    { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
    {
      name: 'permessage-deflate',
      params: [
        ['server_no_context_takeover', true],
        ['client_no_context_takeover', true],
        ['server_max_window_bits', '9'],
        ['client_max_window_bits', '15'],
      ],
    },
    { name: "x!#$%&'*+-.^_`|~", params: [['a', 'b'], ['c', true], ['a', 'd']] },
  ];
  for (const sample of samples) {
    test(`parse(format(x)) gives x back: ${formatExtension(sample)}`, () => {
      assert.deepEqual(parseExtensionHeader(formatExtension(sample)), [sample]);
    });
  }

  test('several formatted extensions joined with ", " parse back to the same list', () => {
    const header = samples.map(formatExtension).join(', ');
    assert.deepEqual(parseExtensionHeader(header), samples);
  });
});
