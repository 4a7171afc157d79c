/**
 * Once per process, when its connections have received 64 MiB: one large allocation, never
 * touched, freed.
 *
 * Why: a message delivered to the application is memory from the C allocator (a Buffer, or Node's
 * 8 KiB pool it is cut from), and the garbage collector frees many of them at once. glibc's
 * malloc gives the free memory at the top of its heap back to the kernel as soon as it passes its
 * trim threshold (128 KiB in a fresh process) and takes it again with brk() a moment later: under
 * traffic the process then spends its time in brk() and in faulting the same pages back in. On
 * the benchmark machine a 1 KiB echo server ran at 270k–410k msg/s in that state (1,200–2,000
 * brk() calls and 40k–70k page faults in 2 s) and at 560k–640k msg/s without it, and which state
 * a run got was a matter of chance.
 *
 * glibc leaves that state by itself the first time the process frees a block it had mapped
 * apart (anything over 128 KiB, up to 32 MiB): it takes that block's size as its new mapping
 * threshold and twice it as its trim threshold (malloc's documented dynamic M_MMAP_THRESHOLD).
 * Long-running processes usually get there sooner or later, at a moment no one chooses. This
 * makes it happen once messages flow: a 31 MiB Buffer is allocated and freed. The memory is never
 * written, so it never becomes resident. Afterwards glibc keeps up to 62 MiB of freed memory at
 * the top of its heap rather than returning it, and serves blocks up to 31 MiB from the heap.
 * Elsewhere (another C library, an explicit GLIBC_TUNABLES malloc setting, which turns the
 * adjustment off) the allocation is harmless and changes nothing.
 *
 * Why 31 MiB, the largest block under glibc's 32 MiB cap with its header: on Node 26 a process
 * whose garbage is mostly large buffers collects it in mark-compacts that each free some 45–70 MiB
 * of them, more than a 16 MiB block's 32 MiB trim threshold. In the 64 KiB client echo on Node 26
 * (four interleaved runs of 4 s each way) the median went from 7.0k to 9.9k msg/s; glibc's heap
 * still trims in some runs (up to 2,200 brk() calls a run, against 2,400 before), and with no
 * trimming at all (GLIBC_TUNABLES) it makes about 14.7k. On Node 20, whose scavenges free less at
 * a time, it measured better or level: the same client 13.8k–21.4k msg/s before, 20.4k–26.4k
 * after, with a third of the page faults; echo 1 KiB level.
 *
 * Not before 64 MiB were received: a process that mostly holds idle connections trims nothing
 * under churn, and memory kept after its handshakes would only raise its resident size (by about
 * 330 bytes per connection at 10,000 idle connections, measured with the warm-up at the first
 * connection). `SOCKWAVE_MALLOC_WARMUP=0` in the environment turns it off.
 */

const WARMUP_BYTES = 31 * 1024 * 1024;
const WARMUP_AFTER_BYTES = 64 * 1024 * 1024;

/** Bytes still to be received before the warm-up; Infinity once it was done (or turned off). */
export const allocatorWarmup = { countdown: process.env['SOCKWAVE_MALLOC_WARMUP'] === '0' ? Infinity : WARMUP_AFTER_BYTES };

/**
 * Called when `allocatorWarmup.countdown` went below zero (a connection counts what it receives
 * down): performs the warm-up, once.
 */
export function warmUpAllocator(): void {
  if (allocatorWarmup.countdown === Infinity) return;
  allocatorWarmup.countdown = Infinity;
  try {
    // (Allocated uninitialized, so never written: glibc maps it apart and the kernel backs no page of it.)
    const block = Buffer.allocUnsafeSlow(WARMUP_BYTES);
    releaseNow(block.buffer);
  } catch {
    // No 31 MiB of address space to spare (a strict overcommit limit): the warm-up is an
    // optimisation, and the read that triggered it goes on as if it had not been tried.
  }
}

/** `ArrayBuffer.prototype.transfer` (ES2024; Node 21 and later), which ES2022's types lack. */
type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };

/**
 * Frees the block's memory at once where the runtime can (Node 22 and later: transferring it to
 * an empty ArrayBuffer detaches it, and its memory goes back to malloc in the same call); on Node
 * 20 the garbage collector frees it at its next pass. Waiting for the collector is not enough on
 * Node 22 and later: there a process whose garbage is mostly large buffers may run only
 * mark-compacts for seconds, and in the 64 KiB client echo on Node 26 the block was still
 * unfreed after 3 s, with glibc trimming its heap all the while.
 */
function releaseNow(block: ArrayBuffer): void {
  const transfer = (block as Transferable).transfer;
  if (typeof transfer === 'function') transfer.call(block, 0);
}
