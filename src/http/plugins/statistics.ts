// Triton's statistics and model configuration extensions over REST. Errors answer {"error"}.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { v2ErrorHandler } from '../errors.js';
import { operations } from '../openapi.js';
import { sendJson } from '../send.js';
import type { SurfaceOptions } from './surface.js';
import type { ModelParams } from './v2.js';

export const statisticsPlugin: FastifyPluginAsync<SurfaceOptions> = async (app: FastifyInstance, options) => {
  const { dataplane } = options;
  app.setErrorHandler(v2ErrorHandler(options.bodyLimit));
  app.get('/v2/models/stats', { config: { openapi: operations.allStatistics } }, (_req, reply) =>
    sendJson(reply, 200, { model_stats: dataplane.statistics() }),
  );
  for (const versioned of [false, true]) {
    const prefix = versioned ? '/v2/models/:model/versions/:version' : '/v2/models/:model';
    app.get(`${prefix}/stats`, { config: { openapi: operations.statistics(versioned) } }, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, { model_stats: dataplane.statistics(req.params.model, req.params.version) }),
    );
    app.get(`${prefix}/config`, { config: { openapi: operations.config(versioned) } }, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, dataplane.modelConfig(req.params.model, req.params.version)),
    );
  }
};
