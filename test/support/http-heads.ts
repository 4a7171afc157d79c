/** An HTTP head from its lines (request or status line first): CRLF after each, then the blank line. */
export function head(...lines: string[]): Buffer {
  return Buffer.from(lines.map((line) => `${line}\r\n`).join('') + '\r\n', 'latin1');
}
