// Following the MLflow model registry (`tessera serve --watch <seconds>`): polls the models:/ URI
// that names an alias, a stage or `latest`, and when it resolves to another version hands that
// version to `switchTo` (which loads it beside the serving one and moves the traffic once it is
// ready: ModelRepository.replace). What MLflow2Seldon-style scripts do from outside, built in.
//
// - Polls never overlap; a switch in progress delays the next poll.
// - A registry that cannot be read (alias deleted, store unmounted, a half-written meta.yaml)
//   keeps the serving version and is logged once per distinct error.
// - A version that fails to load keeps the serving one and is not tried again until the URI
//   names another version (or, later, names it again after having moved away).
import type { Logger } from 'pino';
import { resolveModelUri, type ResolvedModel } from '../mlflow/uri.js';

/** Only registry URIs whose version can move are worth watching. */
export function watchable(resolved: ResolvedModel): boolean {
  return resolved.via === 'registry' && (resolved.alias !== undefined || resolved.stage !== undefined || resolved.latest === true);
}

export interface WatcherOptions {
  uri: string;
  intervalMs: number;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** The version served now. */
  current: ResolvedModel;
  /** Serves `next` instead of the current version; throws when it cannot. */
  switchTo(next: ResolvedModel): Promise<void>;
}

/** Identity of what a URI resolved to: a version moved, or the same version re-registered elsewhere. */
const identity = (r: ResolvedModel): string => `${r.version ?? ''}\u0000${r.dir}`;

export class RegistryWatcher {
  private current: ResolvedModel;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private failed: string | undefined;
  private lastError: string | undefined;
  /** Switches done (for logs and tests). */
  switches = 0;

  constructor(private readonly options: WatcherOptions) {
    this.current = options.current;
  }

  get serving(): ResolvedModel {
    return this.current;
  }

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.options.logger.info({ uri: this.options.uri, everySeconds: this.options.intervalMs / 1000, version: this.current.version }, 'following the model registry');
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.schedule();
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** One look at the registry; switches when the URI names another version. Never throws. */
  async poll(): Promise<void> {
    const { logger, uri } = this.options;
    let next: ResolvedModel;
    try {
      next = await resolveModelUri(uri, { env: this.options.env });
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastError) logger.warn({ uri, reason: message, version: this.current.version }, 'cannot read the registry: keeping the version served');
      this.lastError = message;
      return;
    }
    this.lastError = undefined;
    const id = identity(next);
    if (id === identity(this.current)) {
      this.failed = undefined;
      return;
    }
    if (id === this.failed || this.stopped) return;
    const from = this.current.version;
    logger.info({ uri, from, to: next.version, dir: next.dir }, 'the registry moved: loading the new version beside the served one');
    const started = performance.now();
    try {
      await this.options.switchTo(next);
    } catch (error) {
      this.failed = id;
      logger.error({ uri, version: next.version, reason: (error as Error).message }, `version ${next.version} failed to load: keeping version ${from}`);
      return;
    }
    this.current = next;
    this.failed = undefined;
    this.switches++;
    logger.info({ uri, from, to: next.version, switchMs: Math.round(performance.now() - started) }, `now serving version ${next.version}`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.polling;
  }
}
