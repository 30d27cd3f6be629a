// `tessera start [folder]`, `tessera --help`, `tessera --version`.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { SettingsError, loadServerSettings } from '../config/load.js';
import { serverSettingsSchema } from '../config/schema.js';
import { PACKAGE_VERSION, startServer } from '../server.js';
import { SERVE_COMMANDS, SERVE_COMMANDS_HELP } from './serve-commands.js';

const BUNDLED_SETTINGS = fileURLToPath(new URL('../../settings', import.meta.url));

/** Flag name -> setting; every server setting is a flag, plus short aliases. */
const SETTING_FLAGS: Record<string, string> = Object.fromEntries(
  Object.keys(serverSettingsSchema.shape).map((field) => [field.replaceAll('_', '-'), field]),
);
const ALIASES: Record<string, string> = { workers: 'parallel_workers', port: 'http_port' };

function help(): string {
  const lines = [
    'Usage: tessera start [folder] [options]',
    ...SERVE_COMMANDS_HELP,
    '',
    'Serves the models found under folder (default: the bundled settings/ folder) over the',
    'V2 / Open Inference Protocol. folder/settings.json, if present, holds server settings.',
    'Precedence: defaults < settings.json < environment (TESSERA_<FIELD>, MLSERVER_<FIELD>) < flags.',
    '',
    'Options:',
  ];
  for (const [flag, field] of Object.entries(SETTING_FLAGS)) {
    const schema = (serverSettingsSchema.shape as Record<string, z.ZodType>)[field];
    const alias = Object.entries(ALIASES).find(([, f]) => f === field)?.[0];
    const name = `--${flag}${alias ? `, --${alias}` : ''}`;
    lines.push(`  ${name.padEnd(34)} ${schema.description ?? ''}  [env TESSERA_${field.toUpperCase()}]`);
  }
  lines.push(`  ${'-h, --help'.padEnd(34)} this help`, `  ${'-v, --version'.padEnd(34)} print the version`);
  return lines.join('\n');
}

function makeLogger(level: string): Logger {
  // Pretty lines for a person at a terminal, JSON for everything else (log collectors).
  if (process.stdout.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino({ level });
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] !== undefined && Object.hasOwn(SERVE_COMMANDS, argv[0])) return SERVE_COMMANDS[argv[0]](argv.slice(1));
  if (argv[0] === 'convert') return (await import('./convert.js')).convertCommand(argv.slice(1));
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const flag of [...Object.keys(SETTING_FLAGS), ...Object.keys(ALIASES)]) options[flag] = { type: 'string' };
  options.debug = { type: 'boolean' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    process.stderr.write(`tessera: ${(error as Error).message}\n\n${help()}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return 0;
  }
  const [command = 'start', folder = BUNDLED_SETTINGS, ...extra] = positionals;
  if (values.help || command === 'help') {
    process.stdout.write(`${help()}\n`);
    return 0;
  }
  if (command !== 'start' || extra.length > 0) {
    process.stderr.write(`tessera: unknown command '${positionals.join(' ')}'\n\n${help()}\n`);
    return 2;
  }
  const flags: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || key === 'help' || key === 'version') continue;
    const field = SETTING_FLAGS[key] ?? ALIASES[key];
    if (field !== undefined) flags[field] = value as string | boolean;
  }
  // Settings are checked before anything starts: a bad value (`--log-level loud`) is one line and
  // exit code 2, and the logger takes the level the settings give (file, environment or flag).
  let level: string;
  try {
    const { settings } = loadServerSettings({ folder, flags });
    level = settings.debug ? 'debug' : settings.log_level;
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`tessera: ${error.message}\n`);
    return 2;
  }
  const logger = makeLogger(level);

  let server;
  try {
    server = await startServer({ folder, flags, logger });
  } catch (error) {
    if (error instanceof SettingsError) {
      process.stderr.write(`tessera: ${error.message}\n`);
      return 2;
    }
    logger.fatal({ err: error }, 'start-up failed');
    return 1;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      logger.flush();
      // Exiting while a worker is inside an onnxruntime run aborts the process (a C++ exception as
      // the thread is torn down, exit 134 with a core dump): then the process kills itself instead.
      if (server.pool.inNativeCall()) process.kill(process.pid, 'SIGKILL');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: readiness answers 503; admitted requests finish (a second signal exits at once)');
    server.close().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return -1; // keep running
}
