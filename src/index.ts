/**
 * sockwave: a WebSocket client and server for Node.js (RFC 6455).
 * @packageDocumentation
 */
export { connect, type ClientOptions, type ClientOptionsArgument } from './client/connect.js';
export { tryConnect, type ConnectFailure, type ConnectResult, type ConnectSuccess } from './client/try-connect.js';
export {
  WebSocket,
  type BinaryType,
  type WebSocketCloseEvent,
  type WebSocketEventHandler,
  type WebSocketEventListener,
  type WebSocketEventMap,
  type WebSocketListenerOptions,
  type WebSocketMessageData,
  type WebSocketMessageEvent,
  type WebSocketOptions,
  type WebSocketReadyState,
  type WebSocketSendData,
} from './client/websocket.js';
export { CloseEvent, type CloseEventConstructor, type CloseEventInit, type WebSocketErrorEvent } from './client/dom-events.js';
export {
  createClient,
  WebSocketClient,
  type ClientCloseInfo,
  type ClientErrorInfo,
  type ClientSendResult,
  type ClientStatus,
  type CreateClientOptions,
  type DataType,
  type MessageOf,
  type ReconnectOptions,
  type Target,
} from './client/reconnecting-client.js';
export { Outbox, OutboxFullError, UnsentMessagesError, type OutboxEntry, type OutboxOptions, type OutboxPolicy } from './client/outbox.js';
export { backoffDelay, type BackoffOptions } from './client/backoff.js';
export { parseWebSocketUrl, type ParsedWebSocketUrl } from './client/url.js';
export {
  BackplaneError,
  ConnectionClosedError,
  HandshakeError,
  ProtocolError,
  SockwaveError,
  UsageError,
  type ErrorCode,
  type HandshakeErrorCode,
  type HandshakeErrorOptions,
  type ProtocolErrorCode,
  type SockwaveErrorOptions,
  type UsageErrorCode,
} from './errors.js';
export { type HeaderMap } from './handshake/http-head.js';
export { type UpgradeRequest } from './handshake/upgrade-request.js';
export {
  Connection,
  type CloseInfo,
  type ConnectionEvents,
  type ConnectionHandler,
  type ConnectionStatus,
  type DataRequired,
  type SendCallback,
  type SendOptions,
  type SendReport,
  type SendResult,
} from './io/connection.js';
export { type JsonObject, type JsonValue, type SendData } from './io/payload.js';
export { MessageReader, type MessageReaderOptions, type NextMessageOptions, type PulledMessage } from './io/message-reader.js';
export { CloseCode } from './protocol/close-codes.js';
export { ReadyState } from './protocol/session.js';
export { Refusal, refuse, type AdmissionResult, type ConnectionSetup, type OnConnection } from './server/admission.js';
export { type ServerOptions } from './server/options.js';
export { type PlainHttpHandler, type PlainHttpRequest, type PlainHttpResponse } from './server/plain-http.js';
export { ClientRegistry } from './server/registry.js';
export { WebSocketServer, type BroadcastOptions, type CloseServerOptions, type ListenInfo, type ServerEvents } from './server/server.js';
export { type ServerStats } from './server/stats.js';
export { LIMIT_NAMES, type LimitEvent, type LimitName } from './io/limits.js';
export { type RateLimitOptions } from './io/rate-limiter.js';
export { type FanOutOptions, type TargetResult } from './server/fan-out.js';
export { type Backplane, type BackplaneEvent, type BackplaneNode, type Envelope, type NodePresence } from './server/backplane.js';
export { MemoryBackplane, MemoryBus } from './server/memory-backplane.js';
export { ConnectionStats, type SlowConsumerPolicy } from './io/connection-stats.js';
export { type PerMessageDeflateOptions } from './extensions/permessage-deflate/negotiation.js';
