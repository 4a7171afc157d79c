// Shared by the client drivers: options, the payload, the measuring window and the RESULT line.
// A driver opens C connections, keeps P messages in flight on each (one new message per echo
// received), and counts echoes during T seconds after W seconds of warm-up.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export function clientOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      conns: { type: 'string', default: '64' },
      inflight: { type: 'string', default: '16' },
      size: { type: 'string', default: '16' },
      binary: { type: 'boolean', default: false },
      time: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'srv-pid': { type: 'string' },
    },
  });
  const size = Number(values.size);
  return {
    url: `ws://127.0.0.1:${values.port}/echo`,
    conns: Number(values.conns),
    inflight: Number(values.inflight),
    size,
    binary: values.binary,
    time: Number(values.time),
    warmup: Number(values.warmup),
    srvPid: values['srv-pid'] ? Number(values['srv-pid']) : 0,
    // The same message every time: ASCII text, or bytes for binary.
    message: values.binary ? Buffer.alloc(size, 0x5a) : 'x'.repeat(size),
  };
}

/** CPU seconds used so far by process `pid` (utime + stime from /proc), or NaN. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** CPU seconds the whole machine was busy so far (all cores; as wsload's sys_busy), or NaN. */
function machineBusySeconds() {
  try {
    const v = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Starts the warm-up/measure clock once every connection is open. `counter()` returns the
 * messages received so far. Prints the RESULT line and exits when the window closes.
 */
export function measure(options, counter, label, extra = '') {
  setTimeout(() => {
    const m0 = counter();
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    const srv0 = options.srvPid ? cpuSeconds(options.srvPid) : NaN;
    const busy0 = machineBusySeconds();
    setTimeout(() => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const msgs = counter() - m0;
      const cpu = process.cpuUsage(cpu0);
      const srv = options.srvPid ? (cpuSeconds(options.srvPid) - srv0) / seconds : -1;
      const busy = (machineBusySeconds() - busy0) / seconds;
      console.log(
        `RESULT mode=client impl=${label} conns=${options.conns} inflight=${options.inflight} size=${options.size} ` +
          `binary=${options.binary ? 1 : 0} duration=${seconds.toFixed(3)} msgs=${msgs} msgs_per_s=${Math.round(msgs / seconds)} ` +
          `client_cpu=${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} srv_cpu=${srv.toFixed(2)} sys_busy=${busy.toFixed(2)}${extra ? ` ${extra}` : ''}`,
      );
      process.exit(0);
    }, options.time * 1000);
  }, options.warmup * 1000);
}

/** A hard stop, so that a stuck client never outlives its run. */
export function watchdog(options) {
  setTimeout(() => {
    console.log('RESULT error=client_watchdog');
    process.exit(1);
  }, (options.warmup + options.time + 20) * 1000).unref();
}
