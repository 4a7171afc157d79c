import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { tlsFailureInWords } from '../../src/io/tls-failure.js';

test('tlsFailureInWords: a peer without TLS, or one that wants a client certificate, in words for the server or the proxy; other codes are left alone', () => {
  assert.equal(tlsFailureInWords('ERR_SSL_WRONG_VERSION_NUMBER', 'server'), 'the server does not speak TLS on this port (a ws:// server?)');
  assert.equal(tlsFailureInWords('ERR_SSL_PACKET_LENGTH_TOO_LONG', 'proxy'), 'it does not speak TLS on this port (an http:// proxy?)');
  assert.equal(tlsFailureInWords('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'server'), 'the server requires a client certificate (tls.cert and .key)');
  assert.equal(tlsFailureInWords('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'proxy'), 'the proxy requires a client certificate (proxyTls.cert and .key)');
  assert.equal(tlsFailureInWords('DEPTH_ZERO_SELF_SIGNED_CERT', 'server'), undefined);
  assert.equal(tlsFailureInWords(undefined, 'proxy'), undefined);
});
