#!/usr/bin/env node
// The container image's entry point (Dockerfile ENTRYPOINT): runs `tessera <args>` from the
// compiled build, as PID 1. The default arguments (Dockerfile CMD) are `start /mnt/models`: serve
// the model repository mounted at /mnt/models (KServe's storage mount).
//
// It also speaks the SageMaker container contract that MLflow's images follow
// (`mlflow models build-docker`, `tessera build-docker`): `docker run IMAGE serve` runs
// `tessera serve -m /opt/ml/model` (GET /ping, POST /invocations, the V2 routes and /metrics on
// port 8080); `train` is refused as MLflow refuses it.
import { existsSync } from 'node:fs';

/** Where SageMaker and `mlflow models build-docker` images keep the model. */
export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';

/** The first of these variables that is set, or undefined. */
const firstSet = (...names) => names.map((n) => process.env[n]).find((v) => v !== undefined && v !== '');

function translate(args) {
  if (args[0] === 'serve' && !existsSync(`${SAGEMAKER_MODEL_DIR}/MLmodel`)) {
    // Not an MLflow model (a model.onnx, a model-settings.json, a Triton-style repository):
    // served as a model repository over V2 alone.
    return ['start', SAGEMAKER_MODEL_DIR, ...args.slice(1)];
  }
  if (args[0] === 'serve' && !args.slice(1).some((a) => a === '-m' || a === '--model-uri' || a.startsWith('--model-uri='))) {
    // SageMaker's `serve`: MLflow's scoring server for the model at /opt/ml/model on 0.0.0.0:8080
    // (as the nginx of MLflow's images), unless MLFLOW_HOST/MLFLOW_PORT (or TESSERA_/MLSERVER_
    // variables) say otherwise. Further arguments pass through (e.g. `serve --grpc-port 8081`).
    const defaults = [];
    if (firstSet('MLFLOW_HOST', 'TESSERA_HOST', 'MLSERVER_HOST') === undefined) defaults.push('--host', '0.0.0.0');
    if (firstSet('MLFLOW_PORT', 'TESSERA_HTTP_PORT', 'MLSERVER_HTTP_PORT') === undefined) defaults.push('--port', '8080');
    return ['serve', '-m', SAGEMAKER_MODEL_DIR, ...defaults, ...args.slice(1)];
  }
  if (args[0] === 'train') {
    process.stderr.write('tessera: Train is not implemented.\n');
    process.exit(2);
  }
  return args;
}

// Node as PID 1 ignores a signal it has no handler for. Until the CLI has installed its own
// handlers (a few hundred ms: settings, worker threads, listeners), a stop request exits at once
// instead of waiting for Docker's or Kubernetes' SIGKILL.
const early = (signal) => {
  process.stderr.write(`tessera: ${signal} during start-up: exiting\n`);
  process.exit(signal === 'SIGTERM' ? 143 : 130);
};
process.on('SIGTERM', early);
process.on('SIGINT', early);
const { main } = await import('../dist/cli/main.js');
const code = await main(translate(process.argv.slice(2)));
process.off('SIGTERM', early);
process.off('SIGINT', early);
if (code >= 0) process.exitCode = code;
