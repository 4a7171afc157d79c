/**
 * TLS failures whose OpenSSL text names a record function and a source file, not the cause: what
 * to say instead, by error code, for the server or proxy at the other end (`peer`).
 */
export function tlsFailureInWords(code: string | undefined, peer: 'server' | 'proxy'): string | undefined {
  switch (code) {
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return peer === 'server' ? 'the server does not speak TLS on this port (a ws:// server?)' : 'it does not speak TLS on this port (an http:// proxy?)';
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return `the ${peer} requires a client certificate (${peer === 'server' ? 'tls' : 'proxyTls'}.cert and .key)`;
    default:
      return undefined;
  }
}
