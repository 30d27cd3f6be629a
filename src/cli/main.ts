// `tessera start [folder]`, `tessera --help`, `tessera --version`; the other commands (`serve`,
// `predict`, `build-docker`, `convert`) parse their own flags and are imported only when run.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { SettingsError, loadServerSettings } from '../config/load.js';
import { serverSettingsSchema } from '../config/schema.js';
import { exitOnSignals } from '../lifecycle/signals.js';
import { PACKAGE_VERSION, startServer } from '../server.js';
import { cliLogger } from './command.js';

const BUNDLED_SETTINGS = fileURLToPath(new URL('../../settings', import.meta.url));

/** Flag name -> setting; every server setting is a flag, plus short aliases. */
const SETTING_FLAGS: Record<string, string> = Object.fromEntries(
  Object.keys(serverSettingsSchema.shape).map((field) => [field.replaceAll('_', '-'), field]),
);
const ALIASES: Record<string, string> = { workers: 'parallel_workers', port: 'http_port' };

/**
 * The commands with flags of their own, dispatched before `start`'s argument parsing (`-h` is
 * --host for `serve`, as in MLflow). Imported lazily: `tessera start` does not load them.
 */
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: async (argv) => (await import('./serve.js')).serveMain(argv),
  predict: async (argv) => (await import('./predict.js')).predictMain(argv),
  'build-docker': async (argv) => (await import('./build-docker.js')).buildDockerMain(argv),
  convert: async (argv) => (await import('./convert.js')).convertCommand(argv),
};

const USAGE = [
  'Usage: tessera start [folder] [options]                serve a model repository (V2 REST and gRPC, metrics)',
  '       tessera serve -m <model-uri> [options]          serve an MLflow model (mlflow models serve)',
  '       tessera predict -m <model-uri> [options]        batch predictions without a server (mlflow models predict)',
  '       tessera build-docker -m <model-uri> -n <image>  an image serving the model (mlflow models build-docker)',
  '       tessera convert -m <model> -o <file.onnx>       write the ONNX graph a scikit-learn or XGBoost model is served as',
  '       tessera <command> --help                        the command\'s own options',
];

function help(): string {
  const lines = [
    ...USAGE,
    '',
    'start serves the models found under folder (default: the bundled settings/ folder) over the',
    "V2 / Open Inference Protocol, and MLflow's /invocations when an MLflow model is among them.",
    'folder/settings.json, if present, holds server settings.',
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

export async function main(argv: string[]): Promise<number> {
  if (argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0])) return COMMANDS[argv[0]](argv.slice(1));
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
  const logger = cliLogger(level);

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
  exitOnSignals({ close: () => server.close(), inNativeCall: () => server.pool.inNativeCall() }, logger);
  return -1; // keep running
}
