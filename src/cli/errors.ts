import { HandshakeError, SockwaveError } from '../errors.js';

const TRUST = 'trust its authority with --ca FILE, or skip the check with --insecure';
const SKIP = 'skip the check with --insecure';
/** Certificate problems, and the advice that can help with each. */
const CERTIFICATE_PROBLEMS: Readonly<Record<string, readonly [string, string]>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: ['is self-signed', TRUST],
  SELF_SIGNED_CERT_IN_CHAIN: ['has a self-signed certificate in its chain', TRUST],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['is signed by an authority that is not trusted', TRUST],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['is signed by an authority that is not trusted', TRUST],
  UNABLE_TO_GET_ISSUER_CERT: ['is signed by an authority that is not trusted', TRUST],
  CERT_HAS_EXPIRED: ['has expired', SKIP],
  CERT_NOT_YET_VALID: ['is not valid yet', SKIP],
  ERR_TLS_CERT_ALTNAME_INVALID: ['does not name this host', 'connect with a name it was issued for, or skip the check with --insecure'],
};

/** What was asked of the command line that changes the advice an error gets. */
export interface ErrorContext {
  /** The --ca file given, if any: an untrusted certificate then means it holds the wrong authority. */
  caFile?: string | undefined;
}

/**
 * One line a person understands, naming the URL; never a stack trace. Covers connection refused,
 * an unknown host, TLS certificate problems, a non-101 answer (status and reason), a timeout.
 */
export function describeError(error: unknown, url: string, context: ErrorContext = {}): string {
  if (error instanceof HandshakeError && error.status >= 200 && error.code !== 'SW_PROXY_REFUSED') {
    // (The message ends with the URL that answered: after redirects, not the one asked for.)
    const reason = /^unexpected server response: \d+(?: (.+?))??(?: \(\w+:\/\/\S*\))?$/.exec(error.message)?.[1];
    const body = error.body ? `: ${firstLine(error.body)}` : '';
    return `the server answered ${error.status}${reason ? ` ${reason}` : ''} instead of upgrading to a WebSocket (${error.url ?? url})${body}`;
  }
  const code = errnoCode(error);
  // The proxy failed, not the server: its message names it.
  if (error instanceof SockwaveError && error.message.startsWith('the proxy ')) {
    const problem = certificateProblem(code, context);
    // A certificate problem in our words, not Node's (whose wording and advice vary by version).
    // (The client may have named the URL after Node's message: that stays.)
    const parts = problem ? /^(the proxy \S+?): TLS error: .*?( \(\w+:\/\/.*\))?$/s.exec(error.message) : null;
    const message = parts && problem ? `${parts[1]}: its TLS certificate ${problem[0]}${parts[2] ?? ''}` : error.message;
    const named = message.includes(url) ? message : `${message} (${url})`;
    return `${named}${problem ? `; ${problem[1]}` : ''}`;
  }
  if (code !== undefined) {
    const problem = certificateProblem(code, context);
    if (problem) return `the server's TLS certificate ${problem[0]} (${url}); ${problem[1]}`;
    if (code === 'ECONNREFUSED') return `connection refused (${url}): is the server running?`;
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER') return `the server does not speak TLS (${url}): is it a ws:// server?`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found: ${hostOf(url)} (${url})`;
  }
  if (error instanceof SockwaveError) {
    if (error.code === 'SW_HANDSHAKE_TIMEOUT') return `timed out waiting for the server to answer (${url})`;
    return error.message.includes(url) ? error.message : `${error.message} (${url})`;
  }
  if (error instanceof Error) return error.message.includes(url) ? error.message : `${error.message} (${url})`;
  return String(error);
}

/**
 * What is wrong with a certificate and the advice; with a --ca file given, "trust its authority
 * with --ca" would send the person round in a circle: the file holds some other authority.
 */
function certificateProblem(code: string | undefined, context: ErrorContext): readonly [string, string] | undefined {
  const problem = code === undefined ? undefined : CERTIFICATE_PROBLEMS[code];
  if (problem === undefined || problem[1] !== TRUST || context.caFile === undefined) return problem;
  return [problem[0], `${context.caFile} does not hold the authority that signed it: give that one with --ca, or skip the check with --insecure`];
}

/** The first errno-style `code` along an error's cause chain (bounded). */
function errnoCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && !code.startsWith('SW_')) return code;
    current = current.cause;
  }
  return undefined;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}
