import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Hop3 } from './hop3.js';
import { ADMIN } from '../commands/authorize.js';
import { handleRpc, handleStream, isStreamMethod, RPC } from './rpc.js';
import {
  bodyLimitFor, bodyTooLargeMessage, jsonDepthExceeds, MAX_BATCH, MAX_JSON_DEPTH, METHOD_HEADER, RPC_BODY_LIMIT, uploadMismatch,
} from './rpc-limits.js';
import { tokenMatches } from './token.js';
import { registerGitHttp } from './git-http.js';
import { refuseUnread } from './refuse-unread.js';

/** A request refused before it reaches a method, with its HTTP status and JSON-RPC code. */
class RequestRefused extends Error {
  readonly statusCode: number;
  readonly rpcCode: number;

  constructor(statusCode: number, rpcCode: number, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.rpcCode = rpcCode;
  }
}

/**
 * Keys that would reach an object's prototype if the value were ever merged into another
 * object are refused, as fastify's own JSON parser does.
 */
function refusePoisoning(key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype'))) {
    throw new RequestRefused(400, RPC.INVALID_REQUEST, `the key ${key} is not allowed in a request`);
  }
  return value;
}

/**
 * Read a JSON-RPC body no longer than the limit its method header allows: an announced length
 * over it is refused before a byte is read, and reading stops at the first byte past it.
 */
function readJsonBody(req: FastifyRequest, payload: NodeJS.ReadableStream): Promise<unknown> {
  const header = req.headers[METHOD_HEADER];
  const { limit } = bodyLimitFor(header);
  const tooLarge = () => new RequestRefused(413, RPC.INVALID_REQUEST, bodyTooLargeMessage(header));
  if (Number(req.headers['content-length']) > limit) {
    payload.on('data', () => undefined);
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      // Whatever still arrives is dropped unread, so the connection closes after the answer
      // instead of being reset under it.
      payload.removeAllListeners('data');
      payload.on('data', () => undefined);
      reject(err);
    };
    payload.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) fail(tooLarge());
      else chunks.push(c);
    });
    payload.on('error', (err: Error) => fail(err));
    payload.on('end', () => {
      if (done) return;
      done = true;
      const text = Buffer.concat(chunks, size).toString('utf8');
      if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
        reject(new RequestRefused(400, RPC.INVALID_REQUEST, `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
        return;
      }
      try {
        resolve(JSON.parse(text, refusePoisoning));
      } catch (err) {
        reject(err instanceof RequestRefused ? err : new RequestRefused(400, RPC.PARSE_ERROR, `malformed JSON: ${(err as Error).message}`));
      }
    });
  });
}

/**
 * Answer a stream method as newline-delimited JSON-RPC messages, written as they come: a reader
 * slower than the method holds it (the socket's buffer is the only one), a reader that goes away
 * ends it, and so does the daemon stopping (`streams` are aborted on close).
 */
function streamAnswer(h: Hop3, body: { method: string }, reply: FastifyReply, streams: Set<AbortController>): void {
  reply.hijack();
  const res = reply.raw;
  const ac = new AbortController();
  streams.add(ac);
  res.on('close', () => ac.abort('the client went away'));
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const write = (message: object): void | Promise<void> => {
    if (res.destroyed || res.writableEnded) return;
    if (res.write(`${JSON.stringify(message)}\n`)) return;
    return new Promise<void>((resolve) => {
      const go = () => {
        res.off('drain', go);
        res.off('close', go);
        resolve();
      };
      res.on('drain', go);
      res.on('close', go);
    });
  };
  void handleStream(h, body, ADMIN, write, ac.signal).then((answer) => {
    streams.delete(ac);
    if (!res.destroyed && !res.writableEnded) res.end(`${JSON.stringify(answer)}\n`);
  });
}

export function createHttpServer(h: Hop3, token: string): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: RPC_BODY_LIMIT });
  const streams = new Set<AbortController>();
  // Followed logs and one-off commands would hold the server open: closing ends them first.
  app.addHook('preClose', (done) => {
    for (const ac of streams) ac.abort('hop3-server is stopping');
    done();
  });

  app.get('/healthz', async () => ({ ok: true }));
  registerGitHttp(app, h, token);

  // Our own JSON reader: its limit depends on the request (see readJsonBody).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (req, payload, done) => {
    readJsonBody(req, payload).then((body) => done(null, body), (err: Error) => done(err, undefined));
  });

  // The token is checked when the headers arrive, before any of the body is read or parsed:
  // an anonymous client costs nothing however much it sends.
  const authenticate = (req: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    if (!tokenMatches(token, given)) {
      refuseUnread(req, reply, 401, { jsonrpc: '2.0', id: null, error: { code: RPC.UNAUTHORIZED, message: 'missing or wrong bearer token' } });
      return;
    }
    done();
  };

  app.post('/rpc', { onRequest: authenticate }, async (req, reply) => {
    const body = req.body;
    const mismatch = uploadMismatch(bodyLimitFor(req.headers[METHOD_HEADER]).upload, body);
    if (mismatch) return reply.code(400).send({ jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: mismatch } });
    if (Array.isArray(body)) {
      if (body.length === 0) return { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: 'empty batch' } };
      if (body.length > MAX_BATCH) return { jsonrpc: '2.0', id: null, error: { code: RPC.INVALID_REQUEST, message: `batch of ${body.length} requests: at most ${MAX_BATCH}` } };
      return Promise.all(body.map((r) => handleRpc(h, r, ADMIN)));
    }
    // The token matched (authenticate): the caller is the admin.
    const method = (body as { method?: unknown } | null)?.method;
    if (isStreamMethod(method) && (body as { jsonrpc?: unknown }).jsonrpc === '2.0') {
      streamAnswer(h, body as { method: string }, reply, streams);
      return reply;
    }
    return handleRpc(h, body, ADMIN);
  });

  // Malformed JSON, wrong content type and oversized bodies still get JSON-RPC errors.
  app.setErrorHandler((err: { statusCode?: number; message: string; code?: string }, req, reply) => {
    if (err instanceof RequestRefused) {
      void reply.code(err.statusCode).send({ jsonrpc: '2.0', id: null, error: { code: err.rpcCode, message: err.message } });
      return;
    }
    const status = err.statusCode ?? 500;
    const tooLarge = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
    const code = tooLarge ? RPC.INVALID_REQUEST : status === 400 ? RPC.PARSE_ERROR : RPC.INTERNAL;
    const message = tooLarge ? bodyTooLargeMessage(req.headers[METHOD_HEADER]) : err.message;
    void reply.code(status).send({ jsonrpc: '2.0', id: null, error: { code, message } });
  });
  return app;
}
