/**
 * Every fuzz property, with its share of a long run. `test/protocol/fuzz.test.ts` runs each briefly
 * in `npm test`; `npm run fuzz` (fuzz/run.mjs) runs them for a million cases or more.
 */
import { type IRawProperty } from 'fast-check';
import { connectionEchoProperty, connectionHostileProperty } from './connection-properties.js';
import { hostileExtensionHeaderProperty, hostileInflateProperty, negotiationRoundTripProperty } from './deflate-properties.js';
import { hostileParserProperty, hostileSessionProperty, roundTripProperty } from './frame-properties.js';
import { hostileRequestProperty, responseInjectionProperty, validRequestProperty } from './handshake-properties.js';

export interface FuzzTarget {
  name: string;
  /** Fraction of a long run's cases. */
  share: number;
  /** Cases in the short run of `npm test`. */
  quick: number;
  property(): IRawProperty<never, boolean>;
}

function target<T extends unknown[], A extends boolean>(name: string, share: number, quick: number, make: () => IRawProperty<T, A>): FuzzTarget {
  return { name, share, quick, property: make as unknown as () => IRawProperty<never, boolean> };
}

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  target('frames: serialize, chunk, parse round trip', 0.2, 150, roundTripProperty),
  target('frames: hostile bytes to the parser', 0.25, 300, hostileParserProperty),
  target('frames: hostile bytes to the session', 0.2, 200, hostileSessionProperty),
  target('handshake: valid requests parse to what was sent', 0.05, 150, validRequestProperty),
  target('handshake: hostile request heads', 0.1, 300, hostileRequestProperty),
  target('handshake: no header injection in responses', 0.05, 150, responseInjectionProperty),
  target('deflate: negotiation round trip', 0.05, 200, negotiationRoundTripProperty),
  target('deflate: hostile extension headers', 0.05, 300, hostileExtensionHeaderProperty),
  target('deflate: hostile compressed payloads and bombs', 0.03, 100, hostileInflateProperty),
  target('connection: echo of random messages (deflate, fragments, pings) in random chunks', 0.005, 25, connectionEchoProperty),
  target('connection: hostile bytes to a server connection', 0.015, 60, connectionHostileProperty),
];
