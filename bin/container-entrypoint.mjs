#!/usr/bin/env node
// The container image's entry point (Dockerfile ENTRYPOINT): runs `tessera <args>` from the
// compiled build, as PID 1. The default arguments (Dockerfile CMD) are `start /mnt/models`: serve
// the model repository mounted at /mnt/models (KServe's storage mount).
//
// It also speaks the SageMaker container contract that MLflow's images follow
// (`mlflow models build-docker`): `docker run IMAGE serve` serves the model at /opt/ml/model on
// port 8080; `train` is refused as MLflow refuses it.
/** Where SageMaker and `mlflow models build-docker` images keep the model. */
export const SAGEMAKER_MODEL_DIR = '/opt/ml/model';

function translate(args) {
  if (args[0] === 'serve') {
    // TODO(#12, with the MLflow work): once `tessera serve -m <uri>` exists (and adds /ping and
    // /invocations), map `serve` to `serve -m /opt/ml/model` instead of the V2 server.
    return ['start', SAGEMAKER_MODEL_DIR, ...args.slice(1)];
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
