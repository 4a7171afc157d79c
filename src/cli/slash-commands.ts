/** The slash commands of an interactive `sockwave connect` session. */
export type SlashCommand =
  | { kind: 'send'; line: string }
  | { kind: 'ping'; payload: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string };

export const SLASH_HELP = `/ping [TEXT]          send a ping (TEXT as its payload) and show the round trip
/close [CODE [REASON]] close with CODE (default 1000) and REASON, then exit
/quit                 close with 1000 and exit
/help                 this list
//TEXT                send '/TEXT' as a message`;

/** Reads a typed line: a command, or a message to send (a leading '//' escapes one '/'). */
export function parseSlashCommand(line: string): SlashCommand {
  if (!line.startsWith('/')) return { kind: 'send', line };
  if (line.startsWith('//')) return { kind: 'send', line: line.slice(1) };
  const match = /^\/(\S+)\s*(.*)$/.exec(line);
  const name = match?.[1] ?? '';
  const rest = match?.[2] ?? '';
  switch (name) {
    case 'ping':
      if (Buffer.byteLength(rest) > 125) return { kind: 'invalid', message: 'a ping payload is at most 125 bytes' };
      return { kind: 'ping', payload: rest };
    case 'close': {
      const args = /^(\d+)?\s*(.*)$/.exec(rest)!;
      const code = args[1] === undefined ? 1000 : Number(args[1]);
      const reason = args[2] ?? '';
      if (args[1] === undefined && reason !== '') return { kind: 'invalid', message: `/close takes a code first, then a reason: /close 1000 ${reason}` };
      if (!sendable(code)) return { kind: 'invalid', message: `${code} is not a close code that may be sent (1000–1003, 1007–1014, 3000–4999)` };
      if (Buffer.byteLength(reason) > 123) return { kind: 'invalid', message: 'a close reason is at most 123 bytes' };
      return { kind: 'close', code, reason };
    }
    case 'quit':
    case 'exit':
      return { kind: 'close', code: 1000, reason: '' };
    case 'help':
    case '?':
      return { kind: 'help' };
    default:
      return { kind: 'invalid', message: `unknown command /${name} (/help lists them; //${name} sends it as text)` };
  }
}

/** RFC 6455 §7.4: the close codes an endpoint may put in a close frame. */
function sendable(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
