import { listHasToken, type HeaderMap } from './http-head.js';

/** How long a client waits for the body of a refusal (a server's or a proxy's) once its head arrived. */
export const BODY_PREVIEW_WAIT = 250;

/**
 * The start of a refused handshake's response body (at most `limit` bytes), to report with the
 * status. Sans-I/O: given the bytes after the head and whether more can come, it returns the
 * preview, or undefined while it needs more bytes. Handles Content-Length, chunked transfer coding
 * (RFC 9112 §7.1) and close-delimited bodies.
 */
export function bodyPreview(headers: Readonly<HeaderMap>, bytes: Buffer, ended: boolean, limit = 1024): string | undefined {
  if (listHasToken(headers['transfer-encoding'], 'chunked')) return chunkedPreview(bytes, ended, limit);
  const declared = headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared)) {
    const want = Math.min(Number(declared), limit);
    if (bytes.length < want && !ended) return undefined;
    return bytes.subarray(0, want).toString('utf8');
  }
  if (bytes.length < limit && !ended) return undefined;
  return bytes.subarray(0, limit).toString('utf8');
}

function chunkedPreview(bytes: Buffer, ended: boolean, limit: number): string | undefined {
  const parts: Buffer[] = [];
  let size = 0;
  let pos = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', pos);
    if (lineEnd === -1) break;
    const chunkSize = parseInt(bytes.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(chunkSize)) return Buffer.concat(parts).toString('utf8');
    if (chunkSize === 0) return Buffer.concat(parts).toString('utf8');
    const start = lineEnd + 2;
    const available = Math.min(chunkSize, bytes.length - start);
    const take = Math.min(available, limit - size);
    parts.push(bytes.subarray(start, start + take));
    size += take;
    if (size >= limit) return Buffer.concat(parts).toString('utf8');
    if (available < chunkSize) break;
    pos = start + chunkSize + 2;
  }
  return ended ? Buffer.concat(parts).toString('utf8') : undefined;
}
