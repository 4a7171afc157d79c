/**
 * `data`, or a copy of it in memory of its own when it is under `limit` bytes and views memory
 * at least twice its size (a frame in a 64 KiB read, a slice of Node's buffer pool): what is kept
 * for later then holds its own bytes, not every larger piece of memory it touched.
 */
export function unpinned(data: Buffer, limit: number): Buffer {
  if (data.length >= limit || data.buffer.byteLength < 2 * data.length) return data;
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}
