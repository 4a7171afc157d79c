import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.1: a Sec-WebSocket-Key is 16 random bytes, base64-encoded (24 characters). */
const KEY_PATTERN = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

export function isValidKey(key: string | undefined): key is string {
  return key !== undefined && KEY_PATTERN.test(key);
}

/** A fresh Sec-WebSocket-Key from the CSPRNG. */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/** RFC 6455 §4.2.2 step 5.4: base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return oneShotHash !== undefined ? oneShotHash('sha1', key + WEBSOCKET_GUID, 'base64') : createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** `crypto.hash()` (Node 20.12 and later): one call, no Hash object. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;
