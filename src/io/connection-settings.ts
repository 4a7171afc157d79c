import { CloseCode } from '../protocol/close-codes.js';
import { type SlowConsumerPolicy } from './connection-stats.js';
import { type ConnectionInit } from './connection-types.js';
import { RateLimiter, type RateLimitOptions } from './rate-limiter.js';
import { timerDelay } from './timer-delay.js';

/**
 * Internal: the settings of a connection past its handshake, defaults applied: the close
 * handshake's timeout, the rate limit, backpressure and the slow-consumer policy. A server makes
 * one for all its connections (an idle connection holds a pointer, not six fields).
 */
export interface ConnectionSettings {
  readonly closeTimeout: number;
  /** undefined when off. */
  readonly rateLimit: RateLimitOptions | undefined;
  readonly highWaterMark: number;
  readonly maxBufferedAmount: number;
  readonly slowConsumer: SlowConsumerPolicy;
  readonly slowConsumerCloseCode: number;
}

/** The settings `init` asks for, defaults applied (a server's side protects itself from slow readers). */
export function resolveSettings(init: Omit<ConnectionInit<unknown>, 'url' | 'headers' | 'maxPayload'>): ConnectionSettings {
  return {
    closeTimeout: timerDelay(init.closeTimeout ?? 5000),
    rateLimit: RateLimiter.enabled(init.rateLimit) ? init.rateLimit : undefined,
    highWaterMark: init.highWaterMark ?? 1024 * 1024,
    maxBufferedAmount: init.maxBufferedAmount ?? (init.role === 'server' ? 16 * 1024 * 1024 : Infinity),
    slowConsumer: init.slowConsumer ?? 'close',
    slowConsumerCloseCode: init.slowConsumerCloseCode ?? CloseCode.TryAgainLater,
  };
}
