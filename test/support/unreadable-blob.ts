/** A Blob whose contents cannot be read: `arrayBuffer()` rejects, as a file that vanished would. */
export class UnreadableBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('gone'));
  }
}
