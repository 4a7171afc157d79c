/**
 * The allocator warm-up (malloc-warmup.ts) comes once the process's connections have received
 * 64 MiB, not with handshakes or idle connections, and never when turned off. (What it does to
 * glibc is measured by the benchmarks, not asserted here.)
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { connect } from '../../src/index.js';
import { allocatorWarmup } from '../../src/io/malloc-warmup.js';
import { eventually, serve } from '../support/server-kit.js';

test('connections count what they receive down to the warm-up, which happens once, after 64 MiB', async (t) => {
  const start = allocatorWarmup.countdown;
  assert.ok(start > 60 * 1024 * 1024 && start <= 64 * 1024 * 1024, `the countdown starts at 64 MiB (${start})`);
  let received = 0;
  const srv = await serve(t, { maxPayload: 2 * 1024 * 1024, onConnection: () => ({ onMessage: () => void received++ }) });
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(`ws://127.0.0.1:${srv.port}/`, { proxy: false })));
  t.after(() => clients.forEach((client) => client.terminate()));
  assert.ok(allocatorWarmup.countdown > 0 && allocatorWarmup.countdown !== Infinity, 'handshakes alone leave it to come');
  const payload = Buffer.alloc(1024 * 1024, 7);
  // 48 MiB: not yet.
  for (let i = 0; i < 48; i++) clients[i % clients.length]!.send(payload);
  await eventually(() => received >= 48, 'the server to receive 48 MiB', 20_000);
  const left = allocatorWarmup.countdown;
  assert.ok(left > 0 && left < start - 48 * 1024 * 1024 + 1, `counted down by what the server received (${left} left)`);
  // 24 MiB more: past the mark.
  for (let i = 0; i < 24; i++) clients[i % clients.length]!.send(payload);
  await eventually(() => received >= 72, 'the server to receive 72 MiB', 20_000);
  assert.equal(allocatorWarmup.countdown, Infinity, 'done, and never again');
});

test('SOCKWAVE_MALLOC_WARMUP=0 turns it off from the start', () => {
  const module = new URL('../../src/io/malloc-warmup.js', import.meta.url).href;
  const script = `import { allocatorWarmup } from ${JSON.stringify(module)}; console.log(String(allocatorWarmup.countdown));`;
  const run = (value: string | undefined): string => {
    const env = { ...process.env };
    if (value === undefined) delete env['SOCKWAVE_MALLOC_WARMUP'];
    else env['SOCKWAVE_MALLOC_WARMUP'] = value;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    return child.stdout.trim();
  };
  assert.equal(run('0'), 'Infinity');
  assert.equal(run(undefined), String(64 * 1024 * 1024));
});

test('an allocation that fails (no address space to spare) is swallowed: the read goes on', () => {
  const module = new URL('../../src/io/malloc-warmup.js', import.meta.url).href;
  const script = [
    `import { allocatorWarmup, warmUpAllocator } from ${JSON.stringify(module)};`,
    `Buffer.allocUnsafeSlow = () => { throw new RangeError('Array buffer allocation failed'); };`,
    `allocatorWarmup.countdown = -1;`,
    `warmUpAllocator();`,
    `console.log(String(allocatorWarmup.countdown));`,
  ].join('\n');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim(), 'Infinity', 'tried once, not again at every read');
});

test("the block is under glibc's 32 MiB cap for its dynamic threshold, and freed at once where ArrayBuffer.transfer exists", () => {
  const module = new URL('../../src/io/malloc-warmup.js', import.meta.url).href;
  const script = [
    `import { allocatorWarmup, warmUpAllocator } from ${JSON.stringify(module)};`,
    `const made = [];`,
    `const original = Buffer.allocUnsafeSlow;`,
    `Buffer.allocUnsafeSlow = (size) => { const block = original(size); made.push({ size, block }); return block; };`,
    `allocatorWarmup.countdown = -1;`,
    `warmUpAllocator();`,
    `console.log(JSON.stringify({ sizes: made.map((m) => m.size), freed: made.map((m) => m.block.buffer.byteLength === 0) }));`,
  ].join('\n');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  const { sizes, freed } = JSON.parse(child.stdout) as { sizes: number[]; freed: boolean[] };
  assert.equal(sizes.length, 1, 'one block');
  // glibc adjusts its thresholds only for a freed mapped chunk of at most 32 MiB, header and page rounding included.
  assert.ok(sizes[0]! > 16 * 1024 * 1024 && sizes[0]! <= 32 * 1024 * 1024 - 64 * 1024, `size ${sizes[0]}`);
  const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';
  assert.deepEqual(freed, [canTransfer], canTransfer ? 'detached (its memory freed) in the same call' : 'left to the collector (Node 20)');
});
