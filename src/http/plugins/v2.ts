// The V2 inference surface: health, server and model metadata, model readiness and inference
// (JSON, and Triton's binary tensor data extension). Errors answer {"error": "<message>"}.
import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { InferenceRequest } from '../../core/types.js';
import { HEADER_LENGTH, binaryOutputs, rawInputRequest, splitInferBody } from '../binary-body.js';
import { headerDeadline, httpContext } from '../context.js';
import { v2ErrorHandler } from '../errors.js';
import { decodeInferenceRequest, encodeInferenceResponseParts } from '../json-codec.js';
import { JsonThreads, jsonOutputElements, jsonPartLength, OFFLOAD_MIN_BYTES, OFFLOAD_MIN_ELEMENTS } from '../json-offload.js';
import { operations } from '../openapi.js';
import { acceptedEncoding, sendJson } from '../send.js';
import type { SurfaceOptions } from './surface.js';

export type ModelParams = { model: string; version?: string };

/** Binary answers of this many bytes or more are streamed from their parts instead of joined (a copy). */
const STREAM_MIN_BYTES = 64 * 1024;

export const v2Plugin: FastifyPluginAsync<SurfaceOptions> = async (app: FastifyInstance, options) => {
  const { dataplane, send, logger } = options;
  app.setErrorHandler(v2ErrorHandler(options.bodyLimit));
  // Large JSON bodies are decoded off the main thread (json-offload.ts).
  const jsonThreads = new JsonThreads();
  app.addHook('onClose', () => jsonThreads.close());

  app.get('/v2/health/live', { config: { openapi: operations.live } }, (_req, reply) =>
    sendJson(reply, dataplane.live() ? 200 : 503, { live: dataplane.live() }),
  );
  app.get('/v2/health/ready', { config: { openapi: operations.ready } }, (_req, reply) => {
    const ready = dataplane.ready();
    return sendJson(reply, ready ? 200 : 503, { ready });
  });
  app.get('/v2', { config: { openapi: operations.serverMetadata } }, (_req, reply) => sendJson(reply, 200, dataplane.serverMetadata()));
  app.get('/v2/models', { config: { openapi: operations.models } }, (_req, reply) => sendJson(reply, 200, { models: dataplane.listModels() }));

  for (const versioned of [false, true]) {
    const prefix = versioned ? '/v2/models/:model/versions/:version' : '/v2/models/:model';
    app.get(prefix, { config: { openapi: operations.modelMetadata(versioned) } }, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, dataplane.modelMetadata(req.params.model, req.params.version)),
    );
    app.get(`${prefix}/ready`, { config: { openapi: operations.modelReady(versioned) } }, (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      const ready = dataplane.modelReady(req.params.model, req.params.version);
      return sendJson(reply, ready ? 200 : 503, { name: req.params.model, ready });
    });
    app.post(`${prefix}/infer`, { config: { openapi: operations.infer(versioned) } }, async (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      const target = { model: req.params.model, version: req.params.version };
      const deadline = headerDeadline(req); // its clock starts now, and a malformed header is a 400 first
      // The model first: an unknown or unready model answers 404/503 before the body is read; and a
      // raw binary body is the model's single input, which its metadata says how to read.
      const config = dataplane.configuration(target);
      const raw = req.body as Buffer | undefined;
      const headerLength = req.headers[HEADER_LENGTH];
      let request: InferenceRequest;
      let rawInput = false;
      if (raw !== undefined && jsonPartLength(raw, headerLength) >= OFFLOAD_MIN_BYTES) {
        request = await jsonThreads.decode(raw, headerLength, options.tensorLimits);
      } else {
        const body = splitInferBody(raw, headerLength);
        rawInput = body.rawInput !== null;
        request = body.rawInput !== null ? rawInputRequest(config, body.rawInput) : decodeInferenceRequest(body.json, body.binary, options.tensorLimits);
      }
      const ctx = httpContext(req, reply, logger, { id: request.id, deadline });
      if (ctx.id !== req.id) req.log = ctx.log as FastifyBaseLogger;
      const response = await dataplane.infer(target, request, ctx);
      const asBinary = binaryOutputs(request, response, rawInput);
      if (asBinary.size === 0 && jsonOutputElements(response, asBinary) >= OFFLOAD_MIN_ELEMENTS) {
        return send(req, reply.code(200).type('application/json'), await jsonThreads.encode(response));
      }
      const { json, binary } = encodeInferenceResponseParts(response, asBinary);
      if (binary.length === 0) return send(req, reply.code(200).type('application/json'), Buffer.from(json));
      const header = Buffer.from(json);
      reply.code(200).type('application/octet-stream').header('inference-header-content-length', header.length);
      let total = header.length;
      for (const b of binary) total += b.byteLength;
      if (total >= STREAM_MIN_BYTES && acceptedEncoding(req.headers['accept-encoding']) === null) {
        // Large uncompressed answers go out as they are: the output buffers (moved from the worker)
        // are written to the socket one after another, never copied into one body.
        return reply.header('content-length', total).send(Readable.from([header, ...binary.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength))]));
      }
      return send(req, reply, Buffer.concat([header, ...binary]));
    });
  }
};
