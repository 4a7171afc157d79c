import { CloseCode } from '../protocol/close-codes.js';
import { type ProtocolSession } from '../protocol/session.js';
import { type CloseInfo } from './connection-types.js';

/**
 * How a connection ended, from the session's close handshake state: the peer's code and reason
 * when its close frame arrived, else the code we failed the connection with, else 1006.
 */
export function describeClose(session: ProtocolSession, terminated: boolean, socketError: boolean): CloseInfo {
  let code: number = CloseCode.Abnormal;
  let reason = '';
  if (session.closeReceived) {
    code = session.receivedCloseCode;
    reason = session.receivedCloseReason;
  } else if (session.failure !== undefined) {
    code = session.failure.closeCode;
    reason = session.failure.message;
  }
  return {
    code,
    reason,
    wasClean: session.closeHandshakeDone && !socketError && !terminated,
    remote: session.closeReceived ? session.closedByPeer : !terminated && !session.closeSent,
  };
}
