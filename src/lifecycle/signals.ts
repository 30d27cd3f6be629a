// SIGTERM and SIGINT for a running server (`tessera start`, `tessera serve`): the first signal
// starts the graceful shutdown (shutdown.ts: drain, stop admitting, finish what was admitted within
// the grace, stop the workers) and exits 0 when it is done; a second signal exits at once (code 1).
import type { Logger } from 'pino';

export interface SignalledServer {
  /** The graceful shutdown (RunningServer.close, and whatever the command runs beside the server). */
  close(): Promise<void>;
  /** Whether a worker is inside a native (onnxruntime) call now (WorkerPool.inNativeCall). */
  inNativeCall(): boolean;
}

export function exitOnSignals(server: SignalledServer, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      logger.flush();
      // Exiting while a worker is inside an onnxruntime run aborts the process (a C++ exception as
      // the thread is torn down, exit 134 with a core dump): then the process kills itself instead.
      if (server.inNativeCall()) process.kill(process.pid, 'SIGKILL');
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
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
