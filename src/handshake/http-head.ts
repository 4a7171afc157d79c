import { HandshakeError } from '../errors.js';
import { originForm } from './upgrade-request.js';

/**
 * Parsing of an HTTP/1.1 message head (RFC 9112 §2–§5), just far enough for the WebSocket opening
 * handshake. Sans-I/O: the caller buffers bytes and asks {@link findHeadEnd} where the head ends.
 */

/** Header names lower-cased; repeated headers joined with ", " (RFC 9110 §5.3), `cookie` with "; ". */
export type HeaderMap = Record<string, string>;

export interface RequestHead {
  method: string;
  /** The request target as sent, e.g. `/chat?room=1`. */
  target: string;
  /** `HTTP/1.1` */
  version: string;
  headers: HeaderMap;
  /** Every header line as [name lower-cased, value], in order (repeated keys kept apart). */
  readonly rawHeaders: Array<[string, string]>;
  /** More than one Host line (RFC 9112 §3.2: a bad request). */
  duplicateHost: boolean;
  /** The head as received (latin1), when it was parsed from bytes: {@link parseHeaderText} rebuilds `headers`. */
  text?: string;
}

export interface ResponseHead {
  version: string;
  status: number;
  statusText: string;
  headers: HeaderMap;
  rawHeaders: Array<[string, string]>;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** RFC 9110 §5.6.2 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible characters, spaces and tabs, obs-text; never CR, LF or NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * A whole block of well-formed header lines up to the blank line (from `lastIndex`): one pass of
 * the regular expression engine checks every name and value, and the lines are then cut with
 * indexOf alone. A block it rejects goes through the line-by-line parser, which says what is wrong.
 */
const HEADER_BLOCK = /(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*\r\n$/y;

export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Whether `value` may be written as a header value (no CR, LF, NUL: no header injection). */
export function isSafeHeaderValue(value: string): boolean {
  return FIELD_VALUE.test(value);
}

/**
 * Index just past the blank line ending the head in `buffer`, or -1 while it is incomplete.
 * `from` is how many bytes were already searched without finding it (the search restarts 3 bytes
 * before, in case the blank line straddles the boundary).
 */
export function findHeadEnd(buffer: Buffer, from = 0): number {
  const at = buffer.indexOf(CRLFCRLF, Math.max(0, from - 3));
  return at === -1 ? -1 : at + 4;
}

/**
 * {@link findHeadEnd} for a response the client reads (the 101, a proxy's answer to CONNECT),
 * where a bare LF also ends a line (RFC 9112 §2.2: a recipient MAY recognize one, ignoring a CR
 * before it): a server that writes LF alone gets an answer, not a wait until the timeout.
 */
export function findResponseHeadEnd(buffer: Buffer): number {
  for (let lf = buffer.indexOf(0x0a); lf !== -1; lf = buffer.indexOf(0x0a, lf + 1)) {
    if (buffer[lf + 1] === 0x0a) return lf + 2;
    if (buffer[lf + 1] === 0x0d && buffer[lf + 2] === 0x0a) return lf + 3;
  }
  return -1;
}

/**
 * A header value, `text` from `start` to `stop`, without the optional whitespace (spaces and tabs)
 * around it (RFC 9112 §5.1). Scanned from both ends, in time linear in the value: a regular
 * expression such as /[ \t]+$/ backtracks on a long run of inner spaces, quadratically.
 */
function withoutOws(text: string, start: number, stop: number): string {
  let code = text.charCodeAt(start);
  while (start < stop && (code === 0x20 || code === 0x09)) code = text.charCodeAt(++start);
  code = text.charCodeAt(stop - 1);
  while (stop > start && (code === 0x20 || code === 0x09)) code = text.charCodeAt(--stop - 1);
  return text.slice(start, stop);
}

function bad(message: string): HandshakeError {
  return new HandshakeError(400, message);
}

/**
 * Records one header line: kept apart in `rawHeaders`, joined in `headers` (RFC 9110 §5.3), either
 * of them when given. Returns whether `headers` had the name already (a repeated Host is an error).
 */
function addHeader(headers: HeaderMap | null, rawHeaders: Array<[string, string]> | null, name: string, value: string): boolean {
  if (rawHeaders !== null) rawHeaders.push([name, value]);
  if (headers === null) return false;
  const previous = headers[name];
  headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
  return previous !== undefined;
}

function parseHeaderLines(lines: string[]): { headers: HeaderMap; rawHeaders: Array<[string, string]>; duplicateHost: boolean } {
  const headers: HeaderMap = Object.create(null) as HeaderMap;
  const rawHeaders: Array<[string, string]> = [];
  let duplicateHost = false;
  for (const line of lines) {
    if (line === '') continue;
    // RFC 9112 §5.2: obsolete line folding is rejected.
    if (line[0] === ' ' || line[0] === '\t') throw bad('obsolete header line folding');
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad('malformed header line');
    const name = line.slice(0, colon);
    if (!isToken(name)) throw bad('invalid header name');
    // A bare CR or LF in the value is invalid.
    const value = withoutOws(line, colon + 1, line.length);
    if (!isSafeHeaderValue(value)) throw bad('invalid header value');
    const lower = name.toLowerCase();
    if (addHeader(headers, rawHeaders, lower, value) && lower === 'host') duplicateHost = true;
  }
  return { headers, rawHeaders, duplicateHost };
}

/**
 * Reads the header lines of `text` from `from` up to the blank line, which {@link HEADER_BLOCK}
 * has checked: into `headers` (joined, see {@link addHeader}) and/or `pairs`. Returns whether Host
 * came more than once.
 */
function readCheckedLines(text: string, from: number, headers: HeaderMap | null, pairs: Array<[string, string]> | null): boolean {
  let duplicateHost = false;
  let at = from;
  for (;;) {
    const end = text.indexOf('\r\n', at);
    if (end === at) return duplicateHost;
    const colon = text.indexOf(':', at);
    const name = text.slice(at, colon).toLowerCase();
    if (addHeader(headers, pairs, name, withoutOws(text, colon + 1, end)) && name === 'host') duplicateHost = true;
    at = end + 2;
  }
}

/** Where the header lines of `text` start, when its whole header block is well formed ({@link HEADER_BLOCK}); else -1. */
function checkedLinesAt(text: string): number {
  const lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) return -1;
  HEADER_BLOCK.lastIndex = lineEnd + 2;
  return HEADER_BLOCK.test(text) ? lineEnd + 2 : -1;
}

/** A well-formed request line: a token, a target without spaces or controls, an HTTP version. */
const REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^\x00-\x20\x7f]+ HTTP\/\d\.\d$/;

function parseRequestLine(line: string): [method: string, target: string, version: string] {
  if (REQUEST_LINE.test(line)) {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    return [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)];
  }
  // Something is wrong with it: the checks one by one, to say what.
  const parts = line.split(' ');
  if (parts.length !== 3) throw bad('malformed request line');
  const [method, target, version] = parts as [string, string, string];
  if (!isToken(method)) throw bad('invalid method');
  if (!/^HTTP\/\d\.\d$/.test(version)) throw bad('invalid HTTP version');
  if (target === '' || /[\x00-\x20\x7f]/.test(target)) throw bad('invalid request target');
  return parts as [string, string, string];
}

/** Parses a request head (the bytes up to and including the blank line). Throws HandshakeError(400). */
export function parseRequestHead(head: Buffer): RequestHead {
  const text = head.toString('latin1');
  const linesAt = checkedLinesAt(text);
  if (linesAt !== -1) {
    const [method, target, version] = parseRequestLine(text.slice(0, linesAt - 2));
    const headers = Object.create(null) as HeaderMap;
    // The header lines as pairs too, in the same pass: admission's request carries them, and
    // making them there on first use (a getter) cost more than making them here.
    const rawHeaders: Array<[string, string]> = [];
    const duplicateHost = readCheckedLines(text, linesAt, headers, rawHeaders);
    return { method, target, version, headers, rawHeaders, duplicateHost, text };
  }
  // Something is malformed: line by line, to say what.
  const lines = text.split('\r\n');
  const [method, target, version] = parseRequestLine(lines.shift() ?? '');
  return { method, target, version, ...parseHeaderLines(lines), text };
}

/** The request target of a request head that {@link parseRequestHead} accepted, in origin form (path and query). */
export function requestTarget(text: string): string {
  const first = text.indexOf(' ');
  const target = text.slice(first + 1, text.indexOf(' ', first + 1));
  // (An absolute-form target, as the upgrade was routed by it; no other form is upgraded.)
  return originForm(target) ?? target;
}

/**
 * The header lines when a name repeats (the joined headers no longer hold them apart); undefined
 * otherwise, as the headers' entries are then the same lines, in the same order.
 */
export function linesIfRepeated(headers: Readonly<HeaderMap>, lines: ReadonlyArray<readonly [string, string]>): ReadonlyArray<readonly [string, string]> | undefined {
  let names = 0;
  for (const _name in headers) names++;
  return lines.length > names ? lines : undefined;
}

/**
 * The headers of a request head that {@link parseRequestHead} accepted, parsed again from its
 * text: a connection keeps that one string rather than a header object, and parses it only if
 * someone asks. The lines apart go to `rawHeaders` when given.
 */
export function parseHeaderText(text: string, rawHeaders: Array<[string, string]> | null = null): HeaderMap {
  const linesAt = checkedLinesAt(text);
  if (linesAt !== -1) {
    const headers = Object.create(null) as HeaderMap;
    readCheckedLines(text, linesAt, headers, rawHeaders);
    return headers;
  }
  const lines = text.split('\r\n');
  lines.shift();
  const parsed = parseHeaderLines(lines);
  rawHeaders?.push(...parsed.rawHeaders);
  return parsed.headers;
}

/** Parses a response head. Throws HandshakeError (status 0: no valid HTTP response). */
export function parseResponseHead(head: Buffer): ResponseHead {
  // (Lines end with CRLF or, as findResponseHeadEnd accepts, a bare LF.)
  const lines = head.toString('latin1').split(/\r?\n/);
  const statusLine = lines.shift() ?? '';
  const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!match) throw new HandshakeError(0, 'the server did not answer with HTTP');
  try {
    const { headers, rawHeaders } = parseHeaderLines(lines);
    return { version: match[1]!, status: Number(match[2]), statusText: match[3] ?? '', headers, rawHeaders };
  } catch (error) {
    throw new HandshakeError(0, `malformed HTTP response: ${(error as Error).message}`, {}, '', 'SW_HANDSHAKE_FAILED', { cause: error });
  }
}

/** Splits a comma-separated header value into trimmed, non-empty elements (RFC 9110 §5.6.1). */
export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item !== '') out.push(item);
  }
  return out;
}

/** Whether a comma-separated header contains `token`, compared case-insensitively. */
export function listHasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const wanted = token.toLowerCase();
  // The usual case, the token alone (`Upgrade: websocket`), needs no splitting.
  if (value.length === wanted.length && value.toLowerCase() === wanted) return true;
  return splitList(value).some((item) => item.toLowerCase() === wanted);
}

/**
 * The reason phrases of the registered statuses (RFC 9110, 6585, 7725; WebDAV's 422-424, 507,
 * 508; 425; 506). A status without one (418, 599) gets an empty phrase, which RFC 9112 allows.
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  511: 'Network Authentication Required',
};

type HeaderValues = string | number | readonly string[];

/** The headers that frame a response's body (lower-cased): sockwave sets them, callers' extra headers cannot replace them. */
export const FRAMING_HEADERS: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding']);

/**
 * Copies `extra` into `target`, replacing entries whose names match case-insensitively, except the
 * `reserved` names (lower-cased), which the caller may not override.
 */
export function mergeHeaders(
  target: Record<string, HeaderValues>,
  extra: Readonly<Record<string, HeaderValues>> | undefined,
  reserved: ReadonlySet<string> = new Set(),
): Record<string, HeaderValues> {
  if (!extra) return target;
  for (const [name, value] of Object.entries(extra)) {
    const lower = name.toLowerCase();
    if (reserved.has(lower)) continue;
    for (const existing of Object.keys(target)) if (existing.toLowerCase() === lower) delete target[existing];
    target[name] = value;
  }
  return target;
}

/**
 * The `name: value` line of one header (a line per item of a list), ending in CRLF. The name must
 * be a token and the values free of CR/LF: a TypeError otherwise (no header injection).
 */
export function headerLines(name: string, value: HeaderValues): string {
  if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
  let lines = '';
  for (const item of Array.isArray(value) ? value : [value]) {
    const text = String(item);
    if (!isSafeHeaderValue(text)) throw new TypeError(`invalid value for header ${name}`);
    lines += `${name}: ${text}\r\n`;
  }
  return lines;
}

/**
 * Serializes a response head and body. Header names must be tokens and values must be free of CR/LF
 * (a TypeError otherwise: no header injection through user-supplied values).
 */
export function serializeResponse(status: number, headers: Readonly<Record<string, HeaderValues>>, body: Buffer | string = ''): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError(`invalid HTTP status ${status}`);
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += headerLines(name, value);
  head += '\r\n';
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return bodyBytes.length === 0 ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), bodyBytes]);
}

/** The head of a request Node's `http` server already parsed (for attached mode). */
export function requestHeadOf(request: { method?: string | undefined; url?: string | undefined; httpVersion: string; rawHeaders: string[] }): RequestHead {
  const rawHeaders: Array<[string, string]> = [];
  const headers: HeaderMap = Object.create(null) as HeaderMap;
  let duplicateHost = false;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    if (addHeader(headers, rawHeaders, name, request.rawHeaders[i + 1]!) && name === 'host') duplicateHost = true;
  }
  return { method: request.method ?? 'GET', target: request.url ?? '/', version: `HTTP/${request.httpVersion}`, headers, rawHeaders, duplicateHost };
}
