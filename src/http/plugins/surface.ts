// What every HTTP surface (fastify plugin) is given by the app factory.
import type { Logger } from 'pino';
import type { DataPlane } from '../../core/dataplane.js';
import type { ModelRepository } from '../../core/model-repository.js';
import type { TensorLimits } from '../../core/limits.js';
import type { BodySender } from '../send.js';

export interface SurfaceOptions {
  dataplane: DataPlane;
  repository: ModelRepository;
  logger: Logger;
  /** http_max_input_size, for the 413 message. */
  bodyLimit: number;
  /** Sends a response body, compressed when gzip_enabled and the client accepts it. */
  send: BodySender;
  /** Element limits on inference requests (default: DEFAULT_TENSOR_LIMITS). */
  tensorLimits?: TensorLimits | undefined;
}
