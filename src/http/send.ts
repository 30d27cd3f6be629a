// Writing responses: JSON bodies, and response compression (gzip, else deflate) for bodies of
// COMPRESS_MIN_BYTES or more when the client's Accept-Encoding asks for it and gzip_enabled is on.
import { promisify } from 'node:util';
import { deflate, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

/** Responses smaller than this are not worth compressing. */
export const COMPRESS_MIN_BYTES = 1024;

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify(body));
}

/** gzip or deflate if the client accepts it (q > 0), preferring gzip. */
export function acceptedEncoding(header: string | undefined): 'gzip' | 'deflate' | null {
  if (header === undefined) return null;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) accepted.add(name);
  }
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return accepted.has('deflate') ? 'deflate' : null;
}

/** Sends a body, compressed when `compress` is on, it is large enough and the client accepts it. */
export type BodySender = (request: FastifyRequest, reply: FastifyReply, body: Buffer) => Promise<FastifyReply>;

export function bodySender(compress: boolean): BodySender {
  if (!compress) return async (_request, reply, body) => reply.send(body);
  return async (request, reply, body) => {
    const encoding = body.length >= COMPRESS_MIN_BYTES ? acceptedEncoding(request.headers['accept-encoding']) : null;
    if (encoding === null) return reply.send(body);
    const compressed = encoding === 'gzip' ? await gzipAsync(body) : await deflateAsync(body);
    return reply.header('content-encoding', encoding).header('vary', 'accept-encoding').send(compressed);
  };
}
