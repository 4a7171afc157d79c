import { createClient, type WebSocketClient } from '../client/reconnecting-client.js';
import { type CloseInfo } from '../io/connection.js';
import { CONNECT_USAGE, readConnectConfig, type ConnectConfig } from './connect-options.js';
import { describeError } from './errors.js';
import { encodeLine, EncodingError, renderMessage, toHex, type Outgoing } from './message-format.js';
import { Screen } from './screen.js';
import { parseSlashCommand, SLASH_HELP } from './slash-commands.js';

export { CONNECT_USAGE };

/** Close codes after which the session counts as a success (exit 0). */
const NORMAL_CODES = new Set([1000, 1001, 1005]);

/** `sockwave connect URL`: a WebSocket session from the terminal, a pipe or a script. */
export async function connectCommand(argv: readonly string[]): Promise<number> {
  const config = await readConnectConfig(argv);
  if (config === undefined) return 0;
  return new Session(config, new Screen({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, colour: config.colour })).run();
}

/** The session ends with the last close (no reconnection after it) or a failure to connect. */
type Outcome = CloseInfo | Error;

class Session {
  private readonly client: WebSocketClient;
  private readonly finished: Promise<Outcome>;
  private finish!: (outcome: Outcome) => void;
  private opened = false;
  private pingSentAt = 0;
  private interrupts = 0;
  /** The close asked for with /close, to report it as sent (the server may echo the code alone). */
  private requestedClose: { code: number; reason: string } | undefined;

  constructor(
    private readonly config: ConnectConfig,
    private readonly screen: Screen,
  ) {
    this.finished = new Promise<Outcome>((resolve) => (this.finish = resolve));
    const { reconnect, pingSeconds } = config;
    this.client = createClient(config.url, {
      headers: config.headers,
      protocols: config.subprotocols,
      origin: config.origin,
      tls: config.ca || config.insecure ? { ...(config.ca ? { ca: config.ca } : {}), ...(config.insecure ? { rejectUnauthorized: false } : {}) } : undefined,
      perMessageDeflate: config.deflate,
      proxy: config.proxy,
      connectTimeout: config.timeoutSeconds * 1000,
      // --reconnect: come back after an abnormal close (1006) or a server restart (1001); lines
      // typed meanwhile wait in the outbox and go out in order once reconnected.
      reconnect: reconnect ? { minDelay: 100, maxDelay: 2000 } : false,
      pingInterval: pingSeconds * 1000,
      pongTimeout: Math.max(2000, pingSeconds * 2000),
      onOpen: (client) => this.onOpen(client),
      onMessage: (client, message, isBinary) => this.onMessage(client, message as string | Buffer, isBinary),
      onPong: (_client, payload) => this.onPong(payload),
      onError: (_client, info) => {
        if (info.waitTime === undefined && !this.opened) this.finish(info.error);
        else if (reconnect && info.waitTime !== undefined) this.screen.note(`${info.reason}; retrying in ${info.waitTime} ms`);
      },
      onClose: (_client, info) => {
        if (!info.willReconnect) this.finish(info);
        else this.screen.note(`disconnected (${info.code}${info.reason ? ` ${info.reason}` : ''}); reconnecting`);
      },
    });
  }

  async run(): Promise<number> {
    const { config, screen } = this;
    if (config.execute === undefined && !config.echo) {
      screen.readLines(
        (line) => this.onLine(line),
        () => this.closeAfterWait(),
        () => this.onInterrupt(),
      );
    }
    if (!screen.interactive) {
      process.once('SIGINT', () => this.onInterrupt());
      process.once('SIGTERM', () => this.leave(1001, 'going away'));
    }
    const outcome = await this.finished;
    screen.stopReading();
    this.client.close();
    return this.report(outcome);
  }

  private onOpen(client: WebSocketClient): void {
    const reopened = this.opened;
    this.opened = true;
    const connection = client.current;
    const details = [connection?.protocol ? `subprotocol ${connection.protocol}` : '', connection?.extensions.includes('permessage-deflate') ? 'permessage-deflate' : ''].filter(Boolean);
    this.screen.note(`${reopened ? 'reconnected' : 'connected'} to ${this.config.url}${details.length ? ` (${details.join(', ')})` : ''}${this.screen.interactive && !reopened ? '; /help for commands' : ''}`);
    if (this.config.execute && !reopened) {
      for (const message of this.config.execute) this.send(message, true);
      this.closeAfterWait();
    }
  }

  private onMessage(client: WebSocketClient, message: string | Buffer, isBinary: boolean): void {
    if (this.config.echo) {
      client.send(isBinary ? (typeof message === 'string' ? Buffer.from(message) : message) : String(message));
      return;
    }
    this.screen.incoming(renderMessage(message, isBinary, this.config, this.screen.tty));
  }

  private onPong(payload: Buffer): void {
    if (this.pingSentAt === 0) return;
    const rtt = performance.now() - this.pingSentAt;
    this.pingSentAt = 0;
    this.screen.note(`pong${payload.length ? ` ${JSON.stringify(payload.toString('utf8'))}` : ''} after ${rtt.toFixed(1)} ms`);
  }

  /** A line from stdin: a slash command (interactive only) or a message. */
  private onLine(line: string): void {
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
        if (!this.client.current) return this.finish({ code: command.code, reason: command.reason, wasClean: true, remote: false });
        this.client.close(command.code, command.reason);
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

  private send(message: Outgoing, show: boolean): void {
    try {
      const result = this.client.send(message);
      if (show) {
        if (typeof message === 'string') this.screen.outgoing(message);
        else this.screen.outgoing(this.config.mode === 'base64' ? message.toString('base64') : this.config.mode === 'hex' ? toHex(message) : message.toString('utf8'), `binary, ${message.length} bytes`);
      }
      if (result === 'queued' && this.screen.tty) this.screen.note('not connected: queued until reconnected');
    } catch (error) {
      this.screen.warn(error instanceof Error ? error.message : String(error));
    }
  }

  /** stdin ended (or --execute sent its messages): wait for replies, then close normally. */
  private closeAfterWait(): void {
    setTimeout(() => this.leave(1000, ''), this.config.waitSeconds * 1000);
  }

  /** Ctrl-C: close normally; a second one leaves at once. */
  private onInterrupt(): void {
    this.interrupts++;
    if (this.interrupts > 1) this.finish(new Error('interrupted'));
    this.leave(1000, '');
  }

  /** Closes with `code`; when not connected (waiting to reconnect) there is no close handshake to wait for. */
  private leave(code: number, reason: string): void {
    this.screen.stopReading();
    const connected = this.client.current !== undefined;
    this.client.close(code, reason);
    if (!connected) this.finish({ code, reason, wasClean: true, remote: false });
  }

  private report(outcome: Outcome): number {
    const { screen, config } = this;
    if (outcome instanceof Error) {
      screen.fatal(describeError(outcome, config.url));
      return 1;
    }
    const reason = outcome.reason ? ` (${outcome.reason})` : '';
    const by = outcome.remote ? 'the server' : 'us';
    const asked = this.requestedClose;
    if (!outcome.remote && outcome.wasClean && asked) {
      const answer = asked.code === outcome.code && (outcome.reason === '' || outcome.reason === asked.reason) ? '' : `; the server answered ${outcome.code}${reason}`;
      screen.note(`closed by us: ${asked.code}${asked.reason ? ` (${asked.reason})` : ''}${answer}`);
      return 0;
    }
    // Normal: the server's (or our) 1000/1001/no-status close, or any code we chose (/close) and
    // the server answered cleanly.
    if ((NORMAL_CODES.has(outcome.code) && (outcome.wasClean || outcome.code === 1000)) || (!outcome.remote && outcome.wasClean)) {
      screen.note(`closed by ${by}: ${outcome.code}${reason}`);
      return 0;
    }
    screen.fatal(`connection closed with ${outcome.code}${reason} (${config.url})`);
    return 1;
  }
}
