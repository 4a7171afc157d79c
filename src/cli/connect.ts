import { createClient, type WebSocketClient } from '../client/reconnecting-client.js';
import { type Connection } from '../io/connection.js';
import { SockwaveError } from '../errors.js';
import { CONNECT_USAGE, readConnectConfig, type ConnectConfig } from './connect-options.js';
import { closeReason, reportOutcome, type Outcome } from './connect-report.js';
import { encodeLine, EncodingError, renderMessage, toHex, type Outgoing } from './message-format.js';
import { Outflow } from './outflow.js';
import { oneLine, Screen } from './screen.js';
import { parseSlashCommand, SLASH_HELP } from './slash-commands.js';
import { timerDelay } from '../io/timer-delay.js';

export { CONNECT_USAGE };

/**
 * The close code --reconnect comes back after: abnormal (1006), as the CLI contract says. A server
 * that closes normally, going away (1001) included, ends the session with exit 0.
 */
const RECONNECT_CODE = 1006;

/** `sockwave connect URL`: a WebSocket session from the terminal, a pipe or a script. */
export async function connectCommand(argv: readonly string[]): Promise<number> {
  const config = await readConnectConfig(argv);
  if (config === undefined) return 0;
  return new Session(config, new Screen({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, colour: config.colour })).run();
}

class Session {
  private readonly client: WebSocketClient;
  private readonly finished: Promise<Outcome>;
  private finish!: (outcome: Outcome) => void;
  /** Lines read and not sent yet: none is ever dropped without saying so (see outflow.ts). */
  private readonly outflow: Outflow;
  private opened = false;
  /** stdin ended (or --execute's messages are queued): nothing more to send. */
  private inputEnded = false;
  /** leave() was called: the session is closing. */
  private leaving = false;
  /** The --wait countdown, which runs only while connected with nothing left to send, and messages read. */
  private waitTimer: NodeJS.Timeout | undefined;
  /** When the countdown ends (performance.now()), while it runs; what was left of it, while reading is held. */
  private waitEndsAt = 0;
  private waitLeft: number | undefined;
  /** --reconnect, stdin ended, not connected: how long the reconnection may take (--timeout). */
  private giveUpTimer: NodeJS.Timeout | undefined;
  /** Why the last attempt to connect failed (for the give-up message). */
  private lastError: Error | undefined;
  /** Why the open connection is being dropped, when it was said (a socket error, a dead peer): told with its 1006. */
  private dropCause: Error | undefined;
  /** What ends the session as a failure whatever the close (stdout failing, giving up): exit 1. */
  private failure: Error | undefined;
  private pingSentAt = 0;
  private interrupts = 0;
  /** The connection not read while its messages cannot be written (stdout full, or --echo's sends backed up). */
  private held: Connection | undefined;
  /** The close asked for with /close, to report it as sent (the server may echo the code alone). */
  private requestedClose: { code: number; reason: string } | undefined;

  constructor(
    private readonly config: ConnectConfig,
    private readonly screen: Screen,
  ) {
    this.finished = new Promise<Outcome>((resolve) => (this.finish = resolve));
    this.outflow = new Outflow({
      connection: () => (this.leaving ? undefined : this.client.current),
      send: (message) => this.client.send(message),
      pauseInput: () => screen.pauseInput(),
      resumeInput: () => screen.resumeInput(),
      drained: () => this.settle(),
    });
    screen.onOutputError((error) => this.onOutputError(error));
    const { reconnect, pingSeconds } = config;
    // --ca and --insecure hold for an https:// proxy too (one authority often signs both).
    const tls = config.ca || config.insecure ? { ...(config.ca ? { ca: config.ca } : {}), ...(config.insecure ? { rejectUnauthorized: false } : {}) } : undefined;
    this.client = createClient(config.url, {
      headers: config.headers,
      protocols: config.subprotocols,
      origin: config.origin,
      tls,
      proxyTls: tls,
      perMessageDeflate: config.deflate,
      proxy: config.proxy,
      connectTimeout: config.timeoutSeconds * 1000,
      maxPayload: config.maxPayload,
      // --reconnect: come back after an abnormal close (1006; see RECONNECT_CODE); lines typed
      // meanwhile wait in the outflow and go out in order once reconnected.
      reconnect: reconnect ? { minDelay: 100, maxDelay: 2000 } : false,
      pingInterval: pingSeconds * 1000,
      pongTimeout: Math.max(2000, pingSeconds * 2000),
      onOpen: (client) => this.onOpen(client),
      onMessage: (client, message, isBinary) => this.onMessage(client, message as string | Buffer, isBinary),
      onPong: (_client, payload) => this.onPong(payload),
      onError: (client, info) => {
        // An attempt to connect failed (retries counts it) and none follows: the client gave up
        // (no --reconnect, or an answer such as 403 that will not change). Errors of an open
        // connection (retries 0, or a connection current) are followed by its close.
        if (info.waitTime === undefined && info.retries > 0 && client.current === undefined) this.finish(info.error);
        else if (info.waitTime !== undefined) {
          this.lastError = info.error;
          this.screen.note(`${oneLine(info.reason)}; retrying in ${info.waitTime} ms`);
        } else if (client.current !== undefined && info.error instanceof SockwaveError && (info.error.code === 'SW_SOCKET_ERROR' || info.error.code === 'SW_TIMEOUT')) {
          this.dropCause ??= info.error;
        }
      },
      onClose: (client, info) => {
        // Our close frame went unanswered (the close timeout ended it, or the server dropped
        // TCP): a 1006 that is no drop of the connection while it was in use.
        if (this.leaving && info.code === 1006) this.dropCause ??= new Error('the server did not answer our close frame');
        // --reconnect comes back only after an abnormal close we did not ask for; any other code
        // (1001, 1005, 1011…) ends the session as it would without --reconnect.
        if (info.willReconnect && (info.code !== RECONNECT_CODE || this.leaving)) {
          client.close();
          return this.finish(info);
        }
        if (!info.willReconnect) return this.finish(info);
        this.screen.note(`disconnected (${info.code}: ${oneLine(closeReason(info, this.dropCause))}); reconnecting`);
        this.dropCause = undefined;
        this.settle();
      },
    });
  }

  async run(): Promise<number> {
    const { config, screen } = this;
    if (config.execute === undefined && !config.echo) {
      screen.readLines(
        (line) => this.onLine(line),
        () => this.endInput(),
        () => this.onInterrupt(),
        config.maxPayload,
        (lineNumber) => {
          // The lines before it still go out, and their replies are waited for; then exit 1.
          this.failure ??= new Error(`line ${lineNumber} of stdin is longer than --max-payload (${config.maxPayload} bytes): it and the rest of stdin were not sent`);
          this.endInput();
        },
      );
    }
    // Ctrl-C closes with 1000; a second one ends the session at once (exit 1, "interrupted")
    // without waiting for the close handshake; a third, while output is still being flushed, is
    // left to Node's default: it ends the process. (At a terminal with a prompt, Ctrl-C is a key
    // the prompt reads, above, and no signal; the signal comes with --echo or --execute there,
    // where nothing reads the terminal, or from another process.)
    const onSigint = (): void => {
      if (this.interrupts > 0) process.removeListener('SIGINT', onSigint);
      this.onInterrupt();
    };
    process.on('SIGINT', onSigint);
    process.once('SIGTERM', () => this.leave(1001, 'going away', 'stopped by SIGTERM'));
    const outcome = await this.finished;
    this.leaving = true;
    clearTimeout(this.waitTimer);
    clearTimeout(this.giveUpTimer);
    screen.stopReading();
    this.client.close();
    return reportOutcome(this.screen, this.failure ?? outcome, {
      url: this.config.shownUrl,
      unsentLines: this.outflow.pending,
      requested: this.requestedClose,
      dropCause: this.dropCause,
      caFile: this.config.caFile,
    });
  }

  private onOpen(client: WebSocketClient): void {
    const reopened = this.opened;
    this.opened = true;
    const connection = client.current;
    const details = [connection?.protocol ? `subprotocol ${connection.protocol}` : '', connection?.extensions.includes('permessage-deflate') ? 'permessage-deflate' : ''].filter(Boolean);
    this.screen.note(`${reopened ? 'reconnected' : 'connected'} to ${this.config.shownUrl}${details.length ? ` (${details.join(', ')})` : ''}${this.screen.interactive && !reopened ? '; /help for commands' : ''}`);
    if (this.config.execute && !reopened) {
      for (const message of this.config.execute) this.send(message, true);
      this.inputEnded = true;
    }
    // Lines read while connecting (or reconnecting) go out first, in order.
    this.outflow.flush();
    this.settle();
  }

  private onMessage(client: WebSocketClient, message: string | Buffer, isBinary: boolean): void {
    if (this.config.echo) {
      // Once closing, what still arrives is not echoed: the client takes no more sends.
      if (this.leaving) return;
      const result = client.send(isBinary ? (typeof message === 'string' ? Buffer.from(message) : message) : String(message));
      // A peer that sends faster than it reads: stop reading it until the echoes have gone out.
      const connection = client.current;
      if (result === 'backpressure' && connection !== undefined) this.holdReading(connection, (resume) => connection.once('drain', resume));
      return;
    }
    if (this.screen.incoming(renderMessage(message, isBinary, this.config, this.screen.tty))) return;
    // stdout's reader is slower than the peer: stop reading the peer (TCP slows it down) until
    // stdout has caught up, instead of holding every message in memory.
    const connection = client.current;
    if (connection !== undefined) this.holdReading(connection, (resume) => this.screen.whenOutputDrains(resume));
  }

  /** Pauses reading `connection` until `until` calls back (once at a time). */
  private holdReading(connection: Connection, until: (resume: () => void) => void): void {
    // (A hold on a connection that has closed since is over: its resume may never come.)
    if (this.held !== undefined && this.held.status !== 'closed') return;
    this.held = connection;
    connection.pause();
    // Replies not read yet are still to come: the --wait countdown stops meanwhile.
    if (this.waitTimer !== undefined) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      this.waitLeft = Math.max(0, this.waitEndsAt - performance.now());
    }
    until(() => {
      if (this.held === connection) this.held = undefined;
      connection.resume();
      this.settle();
    });
  }

  private onPong(payload: Buffer): void {
    if (this.pingSentAt === 0) return;
    const rtt = performance.now() - this.pingSentAt;
    this.pingSentAt = 0;
    this.screen.note(`pong${payload.length ? ` ${JSON.stringify(payload.toString('utf8'))}` : ''} after ${rtt.toFixed(1)} ms`);
  }

  /** A line from stdin: a slash command (interactive only) or a message. */
  private onLine(line: string): void {
    if (this.leaving) return;
    if (!this.screen.interactive) return this.sendLine(line, false);
    const command = parseSlashCommand(line);
    switch (command.kind) {
      case 'send':
        return this.sendLine(command.line, command.line !== line);
      case 'help':
        return this.screen.note(`commands:\n${SLASH_HELP}`);
      case 'invalid':
        return this.screen.warn(command.message);
      case 'ping': {
        const connection = this.client.current;
        if (!connection) return this.screen.warn('not connected: no ping sent');
        this.pingSentAt = performance.now();
        connection.ping(command.payload);
        return;
      }
      case 'close':
        this.screen.stopReading();
        this.screen.note(`closing with ${command.code}${command.reason ? ` (${command.reason})` : ''}`);
        this.requestedClose = { code: command.code, reason: command.reason };
        return this.leave(command.code, command.reason, '/close');
    }
  }

  /** `shown`: the text is not on screen as typed (an escaped '//' line), so show what went out. */
  private sendLine(line: string, shown: boolean): void {
    let message: Outgoing;
    try {
      message = encodeLine(line, this.config.mode);
    } catch (error) {
      if (error instanceof EncodingError) return this.screen.warn(`${error.message}; not sent`);
      throw error;
    }
    this.send(message, shown || !this.screen.interactive);
  }

  /** Sends now, or once connected (and the send buffer has room), in order; never dropped. */
  private send(message: Outgoing, show: boolean): void {
    if (show) {
      if (typeof message === 'string') this.screen.outgoing(message);
      else this.screen.outgoing(this.config.mode === 'base64' ? message.toString('base64') : this.config.mode === 'hex' ? toHex(message) : message.toString('utf8'), `binary, ${message.length} bytes`);
    }
    if (this.client.current === undefined && this.screen.tty) this.screen.note(`not connected: queued until ${this.opened ? 'reconnected' : 'connected'}`);
    this.outflow.push(message);
  }

  /** stdin ended: once everything read went out, wait --wait seconds for replies and close. */
  private endInput(): void {
    if (this.leaving) return;
    this.inputEnded = true;
    this.settle();
  }

  /**
   * After stdin ended, and whenever the connection or the outflow changes. The --wait countdown
   * starts once connected with nothing left to send, and starts over only when there is something
   * to send again (lines read while reconnecting): once started it runs on through a reconnection,
   * so that a server that keeps dropping connections cannot hold the session open. While not
   * connected with --reconnect, the reconnection gets --timeout seconds. Without --reconnect,
   * connecting is bounded by the client's connect timeout (--timeout) alone.
   */
  private settle(): void {
    if (!this.inputEnded || this.leaving) return;
    const connected = this.client.current?.status === 'open';
    if (this.outflow.pending !== 0) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      this.waitLeft = undefined;
    } else if (connected && this.waitTimer === undefined && this.held === undefined) {
      const wait = this.waitLeft ?? this.config.waitSeconds * 1000;
      this.waitEndsAt = performance.now() + wait;
      this.waitTimer = setTimeout(() => this.leave(1000, '', 'the --wait countdown'), timerDelay(wait));
    }
    if (connected) {
      clearTimeout(this.giveUpTimer);
      this.giveUpTimer = undefined;
    } else if (this.config.reconnect) {
      this.giveUpTimer ??= setTimeout(() => this.giveUp(), timerDelay(this.config.timeoutSeconds * 1000));
    }
  }

  private giveUp(): void {
    const last = this.lastError ? ` (last attempt: ${this.lastError.message})` : '';
    const what = this.opened ? 'reconnected' : 'connected';
    this.leave(1000, '', 'stdin ended', new Error(`not ${what} within ${this.config.timeoutSeconds} s (--timeout) after stdin ended${last}`));
  }

  /** Writing to stdout failed. EPIPE: its reader went away (`| head -n1`), so end quietly with 1000. */
  private onOutputError(error: NodeJS.ErrnoException): void {
    // Like a tool killed by SIGPIPE: what was still to be sent no longer has anyone to answer.
    this.outflow.discard();
    this.leave(1000, '', 'stdout was closed', error.code === 'EPIPE' ? undefined : new Error(`cannot write to stdout: ${error.message}`));
  }

  /** Ctrl-C: close normally; a second one leaves at once. */
  private onInterrupt(): void {
    this.interrupts++;
    if (this.interrupts > 1) this.finish(new Error('interrupted'));
    this.leave(1000, '', 'interrupted');
  }

  /**
   * Closes with `code`; `failure`, if given, is what the session reports whatever the close.
   * When not connected there is no close handshake to wait for: while waiting to reconnect, the
   * session ends as if closed by us; before it ever opened, it ends with the last connection
   * error, or one naming `why` (exit 1 either way: it never connected).
   */
  private leave(code: number, reason: string, why: string, failure?: Error): void {
    this.leaving = true;
    this.failure ??= failure;
    clearTimeout(this.waitTimer);
    clearTimeout(this.giveUpTimer);
    this.screen.stopReading();
    const connection = this.client.current;
    if (connection !== undefined) {
      // The connection is closed, not the client: the client would drop what still arrives (as
      // the standard WebSocket does), and replies already on the wire are what --wait is for.
      // (onClose ends the client, whatever its retry policy says.)
      if (connection.status === 'open') connection.close(code, reason);
      else this.client.close(code, reason);
      return;
    }
    this.client.close(code, reason);
    if (this.failure) this.finish(this.failure);
    else if (this.opened) this.finish({ code, reason, wasClean: true, remote: false });
    else this.finish(this.lastError ?? new Error(`${why} before the connection opened`));
  }
}
