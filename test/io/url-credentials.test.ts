/**
 * A URL's user and password: percent-decoded for the Authorization header (kept as given when not
 * valid percent-encoding), and replaced by *** in messages, even in text that does not parse.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { decodeOrKeep, withoutCredentials } from '../../src/io/url-credentials.js';

describe('decodeOrKeep', () => {
  test('percent-decodes, and keeps a part that is not valid percent-encoding as it is', () => {
    assert.equal(decodeOrKeep('a%40b%3Ac'), 'a@b:c');
    assert.equal(decodeOrKeep('plain'), 'plain');
    assert.equal(decodeOrKeep('100%'), '100%');
    assert.equal(decodeOrKeep('%E2%82'), '%E2%82');
  });
});

describe('withoutCredentials', () => {
  test('replaces the user and password after any scheme, keeping the scheme, host and the rest', () => {
    assert.equal(withoutCredentials('wss://user:secret@example.com/chat?x=1'), 'wss://***@example.com/chat?x=1');
    assert.equal(withoutCredentials('WS://user@example.com'), 'WS://***@example.com');
    assert.equal(withoutCredentials('git+ssh.v-2://u:p@h/'), 'git+ssh.v-2://***@h/');
    assert.equal(withoutCredentials('x9://u:p@h/'), 'x9://***@h/');
    assert.equal(withoutCredentials('ws://us er:p w@bad host/'), 'ws://***@bad host/');
  });

  test('leaves text without credentials alone: an @ in the path, query or fragment is not a user', () => {
    for (const text of ['ws://example.com/a@b', 'ws://example.com?to=a@b', 'ws://example.com#a@b', 'ws://example.com', 'not a url', '']) {
      assert.equal(withoutCredentials(text), text, JSON.stringify(text));
    }
  });

  test('only a scheme at the start counts: an embedded URL is not rewritten from its middle', () => {
    assert.equal(withoutCredentials('see ws://u:p@h/'), 'see ws://u:p@h/');
    assert.equal(withoutCredentials('1ws://u:p@h/'), '1ws://u:p@h/');
  });
});
