// The model repository extension over REST. Triton also accepts a repository name in the path;
// Tessera has one repository, so that form is accepted (and left out of the API document).
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { badRequest } from '../../core/errors.js';
import { v2ErrorHandler } from '../errors.js';
import { parseJson, type JsonValue } from '../exact-json.js';
import { operations } from '../openapi.js';
import { sendJson } from '../send.js';
import type { SurfaceOptions } from './surface.js';

function jsonBody(req: FastifyRequest): Record<string, JsonValue> {
  const body = req.body as Buffer | undefined;
  if (body === undefined || body.length === 0) return {};
  const value = parseJson(body.toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('the request body must be a JSON object');
  return value as Record<string, JsonValue>;
}

export const repositoryPlugin: FastifyPluginAsync<SurfaceOptions> = async (app: FastifyInstance, options) => {
  const { repository } = options;
  app.setErrorHandler(v2ErrorHandler(options.bodyLimit));
  type Params = { model: string };
  for (const base of ['/v2/repository', '/v2/repository/:repository']) {
    const documented = base === '/v2/repository';
    app.post(`${base}/index`, { config: { openapi: documented && operations.repositoryIndex } }, (req, reply) => {
      const ready = jsonBody(req).ready;
      if (ready !== undefined && typeof ready !== 'boolean') throw badRequest("'ready' must be a boolean");
      return sendJson(reply, 200, repository.index(ready === true));
    });
    app.post(`${base}/models/:model/load`, { config: { openapi: documented && operations.repositoryLoad } }, async (req: FastifyRequest<{ Params: Params }>, reply) => {
      jsonBody(req); // validated; load parameters (Triton's config overrides) are not supported
      await repository.load(req.params.model);
      return sendJson(reply, 200, { name: req.params.model, load: true });
    });
    app.post(`${base}/models/:model/unload`, { config: { openapi: documented && operations.repositoryUnload } }, async (req: FastifyRequest<{ Params: Params }>, reply) => {
      jsonBody(req);
      await repository.unload(req.params.model);
      return sendJson(reply, 200, { name: req.params.model, unload: true });
    });
  }
};
