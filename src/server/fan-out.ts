import { type Connection } from '../io/connection.js';
import { serialOf } from '../io/connection-id.js';
import { toPayload, type SendData } from '../io/payload.js';
import { checkSendOptions } from '../io/send-checks.js';
import { encodeMessage } from '../protocol/frame-serializer.js';
import { Opcode } from '../protocol/opcodes.js';
import { frameIntoSlab, shareSlab, SLAB_PAYLOAD_LIMIT, slabFrame } from '../io/frame-slab.js';

/** The outcome of a message for one receiver of a fan-out (`report: true`: one per receiver). */
export interface TargetResult {
  id: string;
  /** Written (or queued behind earlier messages) to this receiver. */
  success: boolean;
  /** Message bytes (before compression). */
  payloadSize: number;
  /**
   * Bytes of the frame(s) written for this receiver: 0 when not sent, and also when it was sent
   * but its size is not known yet (a large message compressed for this receiver alone, in the
   * thread pool: `success` is true then).
   */
  wireSize: number;
  compressed: boolean;
  /** Handed to the backplane for a connection on another node (`sendTo`); its fate there is not reported. */
  remote?: boolean;
}

export interface BroadcastOptions<Data> extends FanOutOptions {
  /**
   * Connections (or ids) that do not receive it (on every node): one (`except: conn`, the sender)
   * or an iterable of them.
   */
  except?: Connection<Data> | string | Iterable<Connection<Data> | string> | undefined;
  /** Only connections for which this returns true receive it (on this node only: a function does not cross the backplane). */
  filter?: ((connection: Connection<Data>) => boolean) | undefined;
  /** Return a result per receiver (on this node) instead of a count. */
  report?: boolean | undefined;
}

export interface FanOutOptions {
  /** Send a string as binary. */
  binary?: boolean | undefined;
  fragmentSize?: number | undefined;
}

/**
 * One message for many receivers: framed once, and with permessage-deflate compressed once per
 * compression key among receivers whose outgoing context resets per message; the same bytes are
 * written to every receiver. Receivers that kept context takeover compress it in their context.
 */
export class FanOut {
  private readonly opcode: typeof Opcode.Text | typeof Opcode.Binary;
  private readonly bytes: Buffer;
  private readonly binary: boolean;
  private readonly fragmentSize: number | undefined;
  private plain: Buffer | undefined;
  private compressed: Map<string, Buffer> | undefined;

  /** Throws, having sent nothing, for options of the wrong type or range (`owner` names the method). */
  constructor(owner: string, data: SendData, options: FanOutOptions = {}) {
    checkSendOptions(owner, options);
    const payload = toPayload(data, options.binary);
    this.binary = payload.binary;
    this.opcode = payload.binary ? Opcode.Binary : Opcode.Text;
    this.bytes = payload.bytes;
    this.fragmentSize = options.fragmentSize ?? undefined;
  }

  get payloadSize(): number {
    return this.bytes.length;
  }

  /** The message as it crosses the backplane: payload bytes and type. */
  get payload(): { data: Buffer; binary: boolean } {
    return { data: this.bytes, binary: this.binary };
  }

  /** Writes the message to one receiver; returns whether it was accepted. */
  deliver(connection: Connection<unknown>): boolean {
    return this.deliverReport(connection) !== 0;
  }

  /** Writes the message to one receiver; returns the wire size written (0: dropped, -1: accepted, size unknown). */
  deliverReport(connection: Connection<unknown>): number {
    const codec = connection.deflate;
    const bytes = this.bytes;
    if (codec !== undefined && codec.shouldCompress(bytes.length)) {
      if (!codec.outboundNoContextTakeover) {
        // Its own context: compressed for it alone. The frames are written synchronously unless
        // they wait behind a thread-pool compression (then the size is not known yet: -1).
        const before = connection.stats.wireBytesOut;
        if (connection.send(bytes, { binary: this.binary, fragmentSize: this.fragmentSize }) === 'dropped') return 0;
        return connection.stats.wireBytesOut - before || -1;
      }
      this.compressed ??= new Map();
      let frame = this.compressed.get(codec.compressionKey);
      if (frame === undefined) {
        frame = join(encodeMessage(this.opcode, codec.compressSync(bytes), { fragmentSize: this.fragmentSize, rsv1: true }));
        this.compressed.set(codec.compressionKey, frame);
      }
      return connection.sendEncoded(frame, bytes.length) === 'dropped' ? 0 : frame.length;
    }
    const frame = (this.plain ??= this.framePlain());
    return connection.sendEncoded(frame, bytes.length) === 'dropped' ? 0 : frame.length;
  }

  /**
   * The uncompressed frame(s). A small message is framed in the shared slab, where successive
   * broadcasts land side by side: a receiver getting several in one turn writes them as one view
   * of the slab (see WriteBatcher), not copied together for each receiver. The frame is kept
   * by this message and by every receiver's queue: the slab is shared, never reused.
   */
  private framePlain(): Buffer {
    const bytes = this.bytes;
    if (this.fragmentSize === undefined && bytes.length <= SLAB_PAYLOAD_LIMIT) {
      frameIntoSlab(this.opcode, bytes, null);
      shareSlab(slabFrame.slab);
      return slabFrame.slab.buffer.subarray(slabFrame.start, slabFrame.end);
    }
    return join(encodeMessage(this.opcode, bytes, { fragmentSize: this.fragmentSize }));
  }

  /** Writes to one receiver and describes what happened. */
  report(connection: Connection<unknown>): TargetResult {
    const wire = this.deliverReport(connection);
    return {
      id: connection.id,
      success: wire !== 0,
      payloadSize: this.bytes.length,
      wireSize: Math.max(0, wire),
      compressed: wire !== 0 && connection.deflate !== undefined && connection.deflate.shouldCompress(this.bytes.length),
    };
  }
}

/**
 * Sends `message` to each target not excluded by `except` or `filter`. Returns the number of
 * receivers that accepted it, or with `report: true` a result per receiver.
 */
export function fanOutTo<Data>(targets: Iterable<Connection<Data>>, message: FanOut, options: BroadcastOptions<Data>): number | TargetResult[] {
  // By serial number: no id string is made per receiver.
  // (The server read `except` into an array already: see exceptList.)
  const except = options.except === undefined ? undefined : new Set([...(options.except as Iterable<Connection<Data> | string>)].map((item) => (typeof item === 'string' ? serialOf(item) : item.serial)));
  const filter = options.filter;
  const results: TargetResult[] | undefined = options.report ? [] : undefined;
  let count = 0;
  for (const connection of targets) {
    if (except?.has(connection.serial) || (filter && !filter(connection))) continue;
    if (results) results.push(message.report(connection as Connection<unknown>));
    else if (message.deliver(connection as Connection<unknown>)) count++;
  }
  return results ?? count;
}

function join(frames: Buffer[]): Buffer {
  return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
}
