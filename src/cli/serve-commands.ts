// The MLflow-style commands, dispatched by main.ts before its own argument parsing (each parses
// its own flags: `-h` is --host for `serve`, as in MLflow). Imported lazily: `tessera start` does
// not load them.
export const SERVE_COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: async (argv) => (await import('./serve.js')).serveMain(argv),
  predict: async (argv) => (await import('./predict.js')).predictMain(argv),
  'build-docker': async (argv) => (await import('./build-docker.js')).buildDockerMain(argv),
};

export const SERVE_COMMANDS_HELP = [
  '       tessera serve -m <model-uri> [options]      serve an MLflow model (mlflow models serve): see tessera serve --help',
  '       tessera predict -m <model-uri> [options]    batch predictions without a server (mlflow models predict)',
  '       tessera build-docker -m <model-uri> -n <image>   an image serving the model (mlflow models build-docker)',
];
