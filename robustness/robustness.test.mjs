// Runs the outside robustness suite (robustness/run.mjs) against the built `sockwave serve`: every
// attack must get its expected answer, the server must stay up, and a fresh client and a bystander
// client must be served throughout. The suite's report is the assertion message.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../', import.meta.url));

test('the robustness suite finds no failure against sockwave serve', { timeout: 180_000 }, async () => {
  const { code, output } = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['robustness/run.mjs', '--verbose'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, output: out });
    });
  });
  const summary = output.trim().split('\n').pop() ?? '';
  assert.match(summary, /^\d+ passed, 0 failed$/, output);
  assert.equal(code, 0, output);
  assert.ok(Number(/^(\d+) passed/.exec(summary)?.[1]) >= 40, output);
});
