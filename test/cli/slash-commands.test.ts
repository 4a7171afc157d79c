import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { parseSlashCommand } from '../../src/cli/slash-commands.js';

describe('connect: slash commands', () => {
  test('plain lines are sent; a leading // sends one /', () => {
    assert.deepEqual(parseSlashCommand('hello /there'), { kind: 'send', line: 'hello /there' });
    assert.deepEqual(parseSlashCommand('//ping'), { kind: 'send', line: '/ping' });
    assert.deepEqual(parseSlashCommand(''), { kind: 'send', line: '' });
  });

  test('/ping with and without a payload; at most 125 bytes', () => {
    assert.deepEqual(parseSlashCommand('/ping'), { kind: 'ping', payload: '' });
    assert.deepEqual(parseSlashCommand('/ping  a b'), { kind: 'ping', payload: 'a b' });
    assert.equal(parseSlashCommand(`/ping ${'x'.repeat(126)}`).kind, 'invalid');
  });

  test('/close CODE REASON, /quit and /exit; codes that may not be sent are refused', () => {
    assert.deepEqual(parseSlashCommand('/close'), { kind: 'close', code: 1000, reason: '' });
    assert.deepEqual(parseSlashCommand('/close 4000 bye now'), { kind: 'close', code: 4000, reason: 'bye now' });
    assert.deepEqual(parseSlashCommand('/close 1001'), { kind: 'close', code: 1001, reason: '' });
    assert.deepEqual(parseSlashCommand('/quit'), { kind: 'close', code: 1000, reason: '' });
    assert.deepEqual(parseSlashCommand('/exit'), { kind: 'close', code: 1000, reason: '' });
    for (const line of ['/close 1005', '/close 1006', '/close 999', '/close 5000', '/close 2000', '/close bye', `/close 1000 ${'r'.repeat(124)}`]) {
      assert.equal(parseSlashCommand(line).kind, 'invalid', line);
    }
  });

  test('/help and unknown commands', () => {
    assert.deepEqual(parseSlashCommand('/help'), { kind: 'help' });
    const unknown = parseSlashCommand('/frobnicate now');
    assert.equal(unknown.kind, 'invalid');
    assert.match((unknown as { message: string }).message, /unknown command \/frobnicate/);
  });
});
