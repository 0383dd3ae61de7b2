import type { FastifyReply, FastifyRequest } from 'fastify';

/** Bytes of a refused body read (and dropped) after the answer, before the connection is cut. */
const DRAIN_LIMIT = 8 * 1024 * 1024;

/**
 * Answer a request that is refused before its body is read (a missing or wrong credential):
 * what the client still sends is dropped unread, so it gets to read the answer, and past a few
 * MiB the connection is cut instead. An anonymous client costs nothing however much it sends.
 */
export function refuseUnread(req: FastifyRequest, reply: FastifyReply, status: number, body: unknown, headers: Record<string, string> = {}): void {
  let dropped = 0;
  req.raw.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped > DRAIN_LIMIT) req.raw.socket.destroy();
  });
  void reply.code(status).headers(headers).send(body);
}
