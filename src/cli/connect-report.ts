import { type CloseInfo } from '../io/connection.js';
import { describeError } from './errors.js';
import { oneLine, type Screen } from './screen.js';

/**
 * How a `sockwave connect` session ended, told to the person (or script) that ran it: a note for
 * a normal close, one line on stderr otherwise, and the exit status (0 or 1).
 */

/** The session ends with the last close (no reconnection after it) or a failure. */
export type Outcome = CloseInfo | Error;

/** Close codes after which the session counts as a success (exit 0). */
const NORMAL_CODES = new Set([1000, 1001, 1005]);

/** What else the report needs to know about the session. */
export interface SessionFacts {
  /** The URL as messages show it. */
  url: string;
  /** Lines read from stdin that never went out. */
  unsentLines: number;
  /** The close asked for with /close, reported as sent (the server may echo the code alone). */
  requested?: { code: number; reason: string } | undefined;
  /** What was reported before a 1006 (a socket error, a dead peer), told in place of the reason a 1006 cannot have. */
  dropCause?: Error | undefined;
  /** The --ca file given, if any (it changes the advice for an untrusted certificate). */
  caFile?: string | undefined;
}

/** Reports `outcome` and returns the exit status. */
export function reportOutcome(screen: Screen, outcome: Outcome, facts: SessionFacts): number {
  const { url, unsentLines, requested, dropCause } = facts;
  const unsent = unsentLines === 0 ? '' : `; ${unsentLines} line${unsentLines === 1 ? '' : 's'} not sent`;
  if (outcome instanceof Error) {
    screen.fatal(`${describeError(outcome, url, { caFile: facts.caFile })}${unsent}`);
    return 1;
  }
  const why = closeReason(outcome, dropCause);
  const reason = why ? ` (${oneLine(why)})` : '';
  const by = outcome.remote ? 'the server' : 'us';
  // Lines read and never sent make the session a failure, unless the server ended it normally
  // (it wanted no more: like the lines of stdin not read yet, they are moot).
  if (unsent && !(outcome.remote && NORMAL_CODES.has(outcome.code))) {
    screen.fatal(`closed by ${by} with ${outcome.code}${reason}${unsent} (${url})`);
    return 1;
  }
  if (!outcome.remote && outcome.wasClean && requested) {
    const answer = requested.code === outcome.code && (outcome.reason === '' || outcome.reason === requested.reason) ? '' : `; the server answered ${outcome.code}${reason}`;
    screen.note(`closed by us: ${requested.code}${requested.reason ? ` (${requested.reason})` : ''}${answer}`);
    return 0;
  }
  // Normal: the server's (or our) 1000/1001/no-status close, or any code we chose (/close) and
  // the server answered cleanly.
  if ((NORMAL_CODES.has(outcome.code) && (outcome.wasClean || outcome.code === 1000)) || (!outcome.remote && outcome.wasClean)) {
    screen.note(`closed by ${by}: ${outcome.code}${reason}${unsent}`);
    return 0;
  }
  // (A 1009 of ours: a message received was larger than --max-payload allows.)
  const advice = !outcome.remote && outcome.code === 1009 ? '; --max-payload takes larger ones' : '';
  // (A 1006 is nobody's close frame: the connection dropped.)
  screen.fatal(`connection closed ${outcome.remote && outcome.code !== 1006 ? 'by the server ' : ''}with ${outcome.code}${reason}${advice} (${url})`);
  return 1;
}

/** A close's reason; for a 1006, which has none, why the connection dropped. */
export function closeReason(info: CloseInfo, dropCause: Error | undefined): string {
  if (info.code !== 1006 || info.reason !== '') return info.reason;
  return dropCause?.message ?? 'dropped without a close frame';
}
