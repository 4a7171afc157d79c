/**
 * The most wire bytes a compressed message (RSV1, RFC 7692) of at most `maxPayload` bytes may
 * take: deflate stores what does not compress, with a few bytes of framing per block, so such a
 * message is slightly longer than the message itself. zlib's own worst case for raw deflate
 * (deflateBound: n + n/2^12 + n/2^14 + n/2^25 + 7), plus room for a sender that flushes each
 * fragment (an empty stored block, 5 bytes, for each of up to 200 frames). The inflated size is
 * held to `maxPayload` by the inflater itself.
 */
export function compressedLimit(maxPayload: number): number {
  if (!Number.isFinite(maxPayload)) return maxPayload;
  return maxPayload + Math.floor(maxPayload / 4096) + Math.floor(maxPayload / 16384) + Math.floor(maxPayload / 33554432) + 7 + 1024;
}
