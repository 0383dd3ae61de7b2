import Fastify, { type FastifyInstance } from 'fastify';
import type { Hop3 } from './hop3.js';
import { handleRpc, RPC } from './rpc.js';
import { tokenMatches } from './token.js';
import { registerGitHttp } from './git-http.js';

/** Uploads travel base64 inside JSON-RPC; this bounds them (about 48 MiB of archive). */
export const RPC_BODY_LIMIT = 64 * 1024 * 1024 + 4096;

export function createHttpServer(h: Hop3, token: string): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: RPC_BODY_LIMIT });

  app.get('/healthz', async () => ({ ok: true }));
  registerGitHttp(app, h, token);

  app.post('/rpc', async (req, reply) => {
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    if (!tokenMatches(token, given)) {
      return reply.code(401).send({ jsonrpc: '2.0', id: null, error: { code: RPC.UNAUTHORIZED, message: 'missing or wrong bearer token' } });
    }
    const body = req.body;
    if (Array.isArray(body)) {
      if (body.length === 0) return { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: 'empty batch' } };
      return Promise.all(body.map((r) => handleRpc(h, r)));
    }
    return handleRpc(h, body);
  });

  // Malformed JSON, wrong content type and oversized bodies still get JSON-RPC errors.
  app.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    const code = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? RPC.INVALID_REQUEST : status === 400 ? RPC.PARSE_ERROR : RPC.INTERNAL;
    const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `request body over ${RPC_BODY_LIMIT} bytes` : err.message;
    void reply.code(status).send({ jsonrpc: '2.0', id: null, error: { code, message } });
  });
  return app;
}
