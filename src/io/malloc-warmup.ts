/**
 * Once per process, when its connections have received 64 MiB: one large allocation, never
 * touched, dropped.
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
 * apart (anything over 128 KiB): it takes that block's size as its new mapping threshold and
 * twice it as its trim threshold (malloc's documented dynamic M_MMAP_THRESHOLD). Long-running
 * processes usually get there sooner or later, at a moment no one chooses. This makes it happen
 * once messages flow: a 16 MiB Buffer is allocated and dropped; the garbage collector frees it at
 * its next pass. The memory is never written, so it never becomes resident. Afterwards glibc keeps
 * up to 32 MiB of freed memory at the top of its heap rather than returning it, and serves blocks
 * up to 16 MiB from the heap. Elsewhere (another C library, an explicit GLIBC_TUNABLES malloc
 * setting, which turns the adjustment off) the allocation is harmless and changes nothing.
 *
 * Not before 64 MiB were received: a process that mostly holds idle connections trims nothing
 * under churn, and memory kept after its handshakes would only raise its resident size (by about
 * 330 bytes per connection at 10,000 idle connections, measured with the warm-up at the first
 * connection). `SOCKWAVE_MALLOC_WARMUP=0` in the environment turns it off.
 */

const WARMUP_BYTES = 16 * 1024 * 1024;
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
    Buffer.allocUnsafeSlow(WARMUP_BYTES);
  } catch {
    // No 16 MiB of address space to spare (a strict overcommit limit): the warm-up is an
    // optimisation, and the read that triggered it goes on as if it had not been tried.
  }
}
