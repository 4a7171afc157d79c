import { HandshakeError, SockwaveError } from '../errors.js';

/** One line a person understands, naming the URL; never a stack trace. */
export function describeError(error: unknown, url: string): string {
  if (error instanceof HandshakeError && error.status >= 200) {
    return `the server answered ${error.status} instead of upgrading (${url})${error.body ? `: ${firstLine(error.body)}` : ''}`;
  }
  if (error instanceof SockwaveError) return error.message.includes(url) ? error.message : `${error.message} (${url})`;
  if (error instanceof SyntaxError || error instanceof TypeError) return `${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}
