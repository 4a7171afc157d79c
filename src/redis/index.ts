/**
 * `sockwave/redis`: a `RedisBackplane` that lets several servers (processes, machines) share
 * topics, broadcasts and `sendTo`. Needs the `ioredis` package (an optional peer dependency).
 * @packageDocumentation
 */
export { RedisBackplane, type RedisBackplaneOptions } from './redis-backplane.js';
