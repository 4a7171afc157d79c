// Runs the outside conformance suite (this folder, modelled on the Autobahn TestSuite) against the
// built CLI, in both modes: `sockwave serve --deflate` as the server under test and
// `sockwave connect --deflate --echo` as the client under test, categories 1-7, 10, 12 and 13.
// Any failing case fails the test; the suite's report is the assertion message.
// `npm test` runs this after the unit and end-to-end tests, alone, so that machine load from other
// tests does not trip the cases' 1-second timers (tripled here with --time-scale 3, for loaded machines).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../', import.meta.url));

function runSuite(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['conformance/run.mjs', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 570_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

for (const mode of ['server', 'client']) {
  test(`the Autobahn-modelled suite (1-7, 10, 12, 13) finds no failure in ${mode} mode`, { timeout: 600_000 }, async () => {
    const { code, output } = await runSuite(['--mode', mode, '--time-scale', '3']);
    const summary = output.trim().split('\n').pop() ?? '';
    assert.match(summary, /^\d+ passed, 0 failed$/, output);
    assert.equal(code, 0, output);
    const passed = Number(/^(\d+) passed/.exec(summary)?.[1]);
    assert.ok(passed >= 463, `only ${passed} cases ran:\n${output}`);
  });
}
