/**
 * A small argv parser: `--name value`, `--name=value`, boolean flags, repeated options, positionals
 * (`-` is one; anything else that starts with `-` is an option, and `-h` is `--help`).
 */
export interface OptionSpec {
  /** 'boolean' flags take no value; 'string' take one; 'list' may repeat. */
  type: 'boolean' | 'string' | 'list';
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, boolean>;
  values: Record<string, string>;
  lists: Record<string, string[]>;
}

export class ArgumentError extends Error {}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], flags: {}, values: {}, lists: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      if (arg === '--') {
        parsed.positionals.push(...argv.slice(i + 1));
        break;
      }
      if (arg.length > 1 && arg.startsWith('-')) {
        // Options are long ones; only -h, for --help, is short.
        if (arg === '-h' && spec['help']?.type === 'boolean') parsed.flags['help'] = true;
        else throw new ArgumentError(`unknown option ${arg}: options are long ones, --name`);
        continue;
      }
      parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const option = spec[name];
    if (!option) throw new ArgumentError(`unknown option --${name}`);
    if (option.type === 'boolean') {
      if (eq !== -1) throw new ArgumentError(`--${name} takes no value`);
      parsed.flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      // `--subprotocol --deflate`: the value is missing, not '--deflate' (which is meant as an
      // option, and would then be ignored). `--name=--deflate` sends that text if meant.
      if (value !== undefined && isOptionName(value, spec)) throw new ArgumentError(`--${name} needs a value, not the option ${value} (write --${name}=${value} if that text is meant)`);
    }
    if (value === undefined) throw new ArgumentError(`--${name} needs a value`);
    if (option.type === 'list') (parsed.lists[name] ??= []).push(value);
    else parsed.values[name] = value;
  }
  return parsed;
}

/** Whether `arg` is one of the options of `spec` (`--name`, or `--name=value`). */
function isOptionName(arg: string, spec: Readonly<Record<string, OptionSpec>>): boolean {
  if (!arg.startsWith('--')) return false;
  const eq = arg.indexOf('=');
  return Object.hasOwn(spec, eq === -1 ? arg.slice(2) : arg.slice(2, eq));
}

/** A non-negative decimal number: digits, with a fraction or not. */
const DECIMAL = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Reads a non-negative number option. */
export function numberOption(args: ParsedArgs, name: string, fallback: number): number {
  const raw = args.values[name];
  if (raw === undefined) return fallback;
  // Decimal digits only: Number() would take '' and ' ' for 0, and '0x10' or '1e3' as well.
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(value) || value < 0) throw new ArgumentError(`--${name} must be a non-negative number, not ${JSON.stringify(raw)}`);
  return value;
}
