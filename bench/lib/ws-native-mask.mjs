// 1 when the `ws` in node_modules masks natively in this process (bufferutil, or Node's own
// websocketMask where it exists), 0 when in JS. Found by looking at the function ws picked at load time (lib/buffer-util.js is not in ws's exports map, so it
// is loaded by path). ws skips bufferutil when WS_NO_BUFFER_UTIL is set.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function wsNativeMask() {
  const require = createRequire(import.meta.url);
  const wsDir = dirname(require.resolve('ws/package.json'));
  const { unmask } = require(join(wsDir, 'lib', 'buffer-util.js'));
  return /bufferUtil\.unmask|websocketUnmask/.test(unmask.toString()) ? 1 : 0;
}
