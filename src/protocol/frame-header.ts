/** The longest frame header: 2 bytes, 8 of extended length, 4 of masking key (RFC 6455 §5.2). */
export const MAX_HEADER = 14;

/** Total header size implied by the second header byte: 2, plus 2 or 8 length bytes, plus 4 if masked. */
export function headerSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}
