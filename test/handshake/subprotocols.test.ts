import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { HandshakeError } from '../../src/errors.js';
import { checkSubprotocolNames, parseSubprotocols, selectSubprotocol } from '../../src/handshake/subprotocols.js';

function throws400(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${String(error)}`);
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  });
}

describe('parseSubprotocols', () => {
  test('returns no protocols for a missing or empty header', () => {
    assert.deepEqual(parseSubprotocols(undefined), []);
    assert.deepEqual(parseSubprotocols(''), []);
    assert.deepEqual(parseSubprotocols(' , '), []);
  });

  test('returns the offered protocols in the client order, trimmed', () => {
    assert.deepEqual(parseSubprotocols('chat'), ['chat']);
    assert.deepEqual(parseSubprotocols('superchat, chat'), ['superchat', 'chat']);
    assert.deepEqual(parseSubprotocols(' v2.json.example.com ,\tv1.json ,, mqtt'), ['v2.json.example.com', 'v1.json', 'mqtt']);
  });

  test('treats names differing only in case as distinct', () => {
    assert.deepEqual(parseSubprotocols('chat, Chat'), ['chat', 'Chat']);
  });

  for (const header of ['chat room', 'a/b', 'chat;v=1', '"chat"', 'chat, s(o)ap', 'ché', 'a=b', '[x]']) {
    test(`rejects the malformed list ${JSON.stringify(header)} with 400`, () => {
      throws400(() => parseSubprotocols(header), /invalid subprotocol name/);
    });
  }

  for (const header of ['chat, chat', 'chat,superchat,chat', ' chat ,chat']) {
    test(`rejects the duplicate offer ${JSON.stringify(header)} with 400`, () => {
      throws400(() => parseSubprotocols(header), /offered twice/);
    });
  }
});

describe('checkSubprotocolNames', () => {
  test('accepts no names and distinct token names', () => {
    assert.doesNotThrow(() => checkSubprotocolNames([]));
    assert.doesNotThrow(() => checkSubprotocolNames(['chat', 'superchat', 'v1.json.example.com', "!#$%&'*+-.^_`|~"]));
    assert.doesNotThrow(() => checkSubprotocolNames(['chat', 'Chat']));
  });

  for (const name of ['', ' ', 'chat room', 'a,b', 'a;b', 'chat\r\nX-Injected: 1', 'ché', '"q"', 'a\x00']) {
    test(`throws a SyntaxError for the name ${JSON.stringify(name)}`, () => {
      assert.throws(() => checkSubprotocolNames(['ok', name]), SyntaxError);
    });
  }

  test('throws a SyntaxError for a name given twice', () => {
    assert.throws(() => checkSubprotocolNames(['a', 'b', 'a']), { name: 'SyntaxError', message: /given twice/ });
  });
});

describe('selectSubprotocol', () => {
  test('picks the first of the client offers that the server supports', () => {
    assert.equal(selectSubprotocol(['b', 'a'], ['a', 'b']), 'b');
    assert.equal(selectSubprotocol(['x', 'a', 'b'], ['b', 'a']), 'a');
    assert.equal(selectSubprotocol(['chat'], ['superchat', 'chat']), 'chat');
  });

  test('returns undefined when nothing is in common', () => {
    assert.equal(selectSubprotocol(['a'], ['b']), undefined);
    assert.equal(selectSubprotocol([], ['a']), undefined);
    assert.equal(selectSubprotocol(['a'], []), undefined);
    assert.equal(selectSubprotocol([], []), undefined);
  });

  test('matches names case-sensitively', () => {
    assert.equal(selectSubprotocol(['Chat'], ['chat']), undefined);
  });
});
