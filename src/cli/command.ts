// What every `tessera` command shares: its arguments parsed by node:util (a mistake is a
// UsageError, printed with the command's usage, exit code 2; --help prints the usage, exit 0),
// values from flags or environment variables with messages naming where a bad one came from,
// MLflow's flags that mean nothing here accepted with a warning, and the logger.
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pino, type Logger } from 'pino';

/**
 * The streams a command reads and writes: `process` itself when run from the command line; other
 * streams when a test runs the command in-process. (Logs still go to the process's fd 1 or 2.)
 */
export interface CommandIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
  /** A progress bar is drawn only when this is a terminal. */
  readonly stderr: Writable & { isTTY?: boolean };
}

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/**
 * A command's flags parsed by node:util's parseArgs (strict, no positional arguments); its errors
 * (an unknown option, a missing value, an argument) are UsageErrors.
 */
export function parseFlags<const O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * A command's options, or the exit code when there is nothing to run: 0 once `parse` asked for
 * the help and it is printed, 2 once a UsageError is printed with the usage.
 */
export function commandOptions<T extends object>(command: string, help: string, parse: () => T | 'help', io: Pick<CommandIo, 'stdout' | 'stderr'> = process): T | number {
  let options: T | 'help';
  try {
    options = parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`${command}: ${error.message}\n\n${help}\n`);
    return 2;
  }
  if (options === 'help') {
    io.stdout.write(`${help}\n`);
    return 0;
  }
  return options;
}

/** The first of the values that is set and not empty (flags first, then variables by precedence). */
export const firstSet = (...values: (string | undefined)[]): string | undefined => values.find((v) => v !== undefined && v !== '');

/** A number from a flag or a variable, or a UsageError naming where the bad value came from. */
export function numberOption(value: string | undefined, what: string, check: (n: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`${what} has value ${JSON.stringify(value)}; expected ${expected}`);
  return n;
}

/** One warning per MLflow-only flag given (`ignored`: flag name -> why it means nothing here). */
export function ignoredFlagWarnings(values: Record<string, unknown>, ignored: Record<string, string>): string[] {
  return Object.keys(ignored)
    .filter((flag) => values[flag] !== undefined)
    .map((flag) => `--${flag} is ignored: ${ignored[flag]}`);
}

/** Pretty lines for a person at a terminal, JSON for everything else (log collectors). */
export function cliLogger(level: string, destination: 1 | 2 = 1): Logger {
  const tty = destination === 1 ? process.stdout.isTTY : process.stderr.isTTY;
  if (tty) return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, destination } } });
  return pino({ level }, pino.destination({ fd: destination, sync: destination === 2 }));
}
