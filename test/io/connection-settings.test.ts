/**
 * resolveSettings(): the defaults it applies, and the values it keeps as given.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { resolveSettings } from '../../src/io/connection-settings.js';

test('the defaults: closeTimeout 5 s, 1 MiB highWaterMark, 16 MiB maxBufferedAmount on a server and none on a client, close with 1013', () => {
  assert.deepEqual(resolveSettings({ role: 'server' }), {
    closeTimeout: 5000,
    rateLimit: undefined,
    highWaterMark: 1024 * 1024,
    maxBufferedAmount: 16 * 1024 * 1024,
    slowConsumer: 'close',
    slowConsumerCloseCode: 1013,
  });
  assert.equal(resolveSettings({ role: 'client' }).maxBufferedAmount, Infinity);
});

test('zeros are values, not absent: closeTimeout, highWaterMark and maxBufferedAmount of 0 stay 0', () => {
  const settings = resolveSettings({ role: 'server', closeTimeout: 0, highWaterMark: 0, maxBufferedAmount: 0 });
  assert.equal(settings.closeTimeout, 0);
  assert.equal(settings.highWaterMark, 0);
  assert.equal(settings.maxBufferedAmount, 0);
});

test('a rate limit is kept only when it limits something; a closeTimeout past the timer range is capped', () => {
  const rateLimit = { messagesPerSecond: 10 };
  assert.equal(resolveSettings({ role: 'server', rateLimit }).rateLimit, rateLimit);
  assert.equal(resolveSettings({ role: 'server', rateLimit: { messagesPerSecond: 0 } }).rateLimit, undefined);
  assert.equal(resolveSettings({ role: 'server', rateLimit: false }).rateLimit, undefined);
  assert.equal(resolveSettings({ role: 'server', closeTimeout: Infinity }).closeTimeout, 2 ** 31 - 1);
});
