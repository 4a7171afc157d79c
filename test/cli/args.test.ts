import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ArgumentError, numberOption, parseArgs } from '../../src/cli/args.js';

const SPEC = { port: { type: 'string' }, wait: { type: 'string' } } as const;

function number(argv: readonly string[], fallback = 7): number {
  return numberOption(parseArgs(argv, SPEC), 'port', fallback);
}

describe('numberOption', () => {
  test('decimal numbers, with or without a fraction; the fallback when the option is absent', () => {
    assert.equal(number(['--port', '8080']), 8080);
    assert.equal(number(['--port=0']), 0);
    assert.equal(number(['--port', '0.5']), 0.5);
    assert.equal(number(['--port', '.25']), 0.25);
    assert.equal(number([]), 7);
  });

  test("what Number() would also take is refused: '' and blanks (0), hex, exponents, signs, Infinity", () => {
    for (const raw of ['', ' ', '0x2550', '1e3', '+5', '-1', 'Infinity', '5 ', '1_000', 'abc']) {
      assert.throws(() => number([`--port=${raw}`]), (error: unknown) => error instanceof ArgumentError && error.message === `--port must be a non-negative number, not ${JSON.stringify(raw)}`, JSON.stringify(raw));
    }
  });
});

describe('parseArgs: an option where a value should be', () => {
  const spec = { subprotocol: { type: 'list' }, origin: { type: 'string' }, deflate: { type: 'boolean' }, execute: { type: 'list' } } as const;

  test('an option of the spec after one that needs a value is an error naming both, with or without its own value', () => {
    assert.throws(() => parseArgs(['--subprotocol', '--deflate'], spec), { name: 'Error', message: /^--subprotocol needs a value, not the option --deflate \(write --subprotocol=--deflate/ });
    assert.throws(() => parseArgs(['--origin', '--subprotocol=chat'], spec), /^Error: --origin needs a value, not the option --subprotocol=chat/);
    assert.throws(() => parseArgs(['--origin', '--deflate'], spec), ArgumentError);
  });

  test('written with =, or not an option of the spec, such a value is taken as it is', () => {
    assert.deepEqual(parseArgs(['--subprotocol=--deflate', '--execute', '--hello', '--execute', '-v'], spec).lists, { subprotocol: ['--deflate'], execute: ['--hello', '-v'] });
    assert.deepEqual(parseArgs(['--origin', 'https://a.example', '--deflate'], spec), {
      positionals: [],
      flags: { deflate: true },
      values: { origin: 'https://a.example' },
      lists: {},
    });
  });
});

describe('parseArgs: short options', () => {
  const spec = { help: { type: 'boolean' }, echo: { type: 'boolean' } } as const;

  test('-h is --help; any other short option is an unknown option, not an argument', () => {
    assert.deepEqual(parseArgs(['ws://a.example/', '-h'], spec).flags, { help: true });
    for (const arg of ['-x', '-e', '-1', '-help']) {
      assert.throws(() => parseArgs(['ws://a.example/', arg], spec), (error: unknown) => error instanceof ArgumentError && error.message === `unknown option ${arg}: options are long ones, --name`, arg);
    }
    assert.throws(() => parseArgs(['-h'], { echo: { type: 'boolean' } }), /unknown option -h/, 'without a --help, -h is unknown too');
  });

  test("'-' alone, and anything after '--', are arguments", () => {
    assert.deepEqual(parseArgs(['-', '--', '-x', '--echo'], spec).positionals, ['-', '-x', '--echo']);
  });
});
