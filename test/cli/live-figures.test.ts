import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FigureSampler, summarizeRtt } from '../../src/cli/live-figures.js';
import { type ServerStats } from '../../src/server/stats.js';
import { LimitCounters } from '../../src/io/limits.js';

function stats(overrides: Partial<ServerStats>): ServerStats {
  return {
    connections: 0, connectionsTotal: 0, refused: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0,
    wireBytesIn: 0, wireBytesOut: 0, dropped: 0, heartbeatTimeouts: 0, idleTimeouts: 0, closeCodes: {},
    limits: new LimitCounters().snapshot(), ...overrides,
  };
}

describe('serve: the live figures', () => {
  test('rates are the change of the counters over the time between samples', () => {
    const readings = [stats({}), stats({ connections: 3, messagesIn: 10, messagesOut: 30, bytesIn: 1000, bytesOut: 3000, wireBytesIn: 500, wireBytesOut: 1500 })];
    const times = [0, 2000];
    let i = 0;
    let j = 0;
    const sampler = new FigureSampler(() => readings[i++]!, true, () => times[j++]!);
    const figures = sampler.sample([5, 1, 3], 2);
    assert.deepEqual(
      { ...figures, time: 0 },
      {
        type: 'figures', time: 0, connections: 3, connectionsTotal: 0, chatMembers: 2,
        messagesInPerSecond: 5, messagesOutPerSecond: 15, bytesInPerSecond: 500, bytesOutPerSecond: 1500,
        compressionRatio: 2, deflate: true, rtt: { min: 1, median: 3, max: 5, samples: 3 },
      },
    );
  });

  test('no traffic yet: no compression ratio; no round trips: no rtt', () => {
    const sampler = new FigureSampler(() => stats({}), false, () => 0);
    const figures = sampler.sample([], 0);
    assert.equal(figures.compressionRatio, null);
    assert.equal(figures.rtt, null);
    assert.equal(figures.messagesInPerSecond, 0);
  });

  test('summarizeRtt: the median of an even count is the lower middle', () => {
    assert.deepEqual(summarizeRtt([4, 1, 2, 3]), { min: 1, median: 2, max: 4, samples: 4 });
    assert.deepEqual(summarizeRtt([0.123456]), { min: 0.12, median: 0.12, max: 0.12, samples: 1 });
  });
});
