import { HandshakeError, SockwaveError } from '../errors.js';
import { bodyPreview } from '../handshake/body-preview.js';
import { findResponseHeadEnd, parseResponseHead, type ResponseHead } from '../handshake/http-head.js';

/** The largest answer head a proxy may send to CONNECT; also what is kept of a refusal's body at most. */
const PROXY_HEAD_LIMIT = 16 * 1024;

/** How a proxy's answer to CONNECT ended: the tunnel is open (with its first bytes), or it is not. */
export type ProxyAnswerOutcome = { readonly opened: true; readonly rest: Buffer } | { readonly opened: false; readonly error: SockwaveError };

/**
 * A proxy's answer to CONNECT, read as it arrives (no I/O here): interim 1xx answers are skipped
 * (RFC 9110 §15.2), any 2xx opens the tunnel (RFC 9110 §9.3.6), and anything else (a 101
 * included) refuses it: a HandshakeError SW_PROXY_REFUSED with the status, the headers and the
 * start of the body (at most 1 KiB, as for a server's refusal), where proxies explain a refusal.
 */
export class ProxyAnswer {
  #buffered: Buffer = Buffer.alloc(0);
  #refusal: ResponseHead | undefined;

  /** Whether a refusal's head has come and its body is awaited: see end(). */
  get refusing(): boolean {
    return this.#refusal !== undefined;
  }

  /** Takes the next bytes from the proxy: the outcome, or undefined while more are needed. */
  push(chunk: Buffer): ProxyAnswerOutcome | undefined {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    if (this.#refusal !== undefined) return this.#refused(false);
    return this.#head();
  }

  /**
   * No more bytes will be read (the proxy closed, or took too long with a refusal's body): the
   * refusal with what came of its body, or, before any answer, that the proxy closed the connection.
   */
  end(): SockwaveError {
    return this.#refused(true)?.error ?? new SockwaveError('SW_SOCKET_ERROR', 'the proxy closed the connection');
  }

  #head(): ProxyAnswerOutcome | undefined {
    for (;;) {
      const end = findResponseHeadEnd(this.#buffered);
      if (end === -1 || end > PROXY_HEAD_LIMIT) {
        if (end > PROXY_HEAD_LIMIT || this.#buffered.length > PROXY_HEAD_LIMIT) return failed('the proxy answered with a head too large');
        return undefined;
      }
      let head: ResponseHead;
      try {
        head = parseResponseHead(this.#buffered.subarray(0, end));
      } catch {
        return failed('the proxy did not answer with HTTP');
      }
      // Bytes after a 2xx answer belong to the tunnel; after a refusal, to its body.
      this.#buffered = this.#buffered.subarray(end);
      if (head.status >= 200 && head.status <= 299) return { opened: true, rest: this.#buffered };
      if (head.status < 100 || head.status > 199 || head.status === 101) {
        this.#refusal = head;
        return this.#refused(false);
      }
    }
  }

  #refused(ended: boolean): { opened: false; error: HandshakeError } | undefined {
    if (this.#refusal === undefined) return undefined;
    const { status, statusText, headers, rawHeaders } = this.#refusal;
    // A 1xx or 304 answer has no body (RFC 9112 §6.3). What comes is not kept beyond the limit.
    const body = status < 200 || status === 304 ? '' : bodyPreview(headers, this.#buffered, ended || this.#buffered.length > PROXY_HEAD_LIMIT);
    if (body === undefined) return undefined;
    return { opened: false, error: new HandshakeError(status, `the proxy refused the tunnel: ${status} ${statusText}`.trim(), headers, body, 'SW_PROXY_REFUSED', { rawHeaders }) };
  }
}

function failed(message: string): ProxyAnswerOutcome {
  return { opened: false, error: new SockwaveError('SW_SOCKET_ERROR', message) };
}
