import { request } from 'node:http';

export interface HttpGetOptions {
  /** A longer body fails the request: whoever answers cannot make hop3 buffer without end. */
  maxBytes?: number;
  /** Aborting it ends the request at once (a cancelled rollout, a daemon that stops). */
  signal?: AbortSignal;
  /** Resolve with the status as soon as the headers arrive, reading none of the body. */
  statusOnly?: boolean;
}

/** Bodies longer than this fail unless the caller allows more. */
export const HTTP_GET_MAX_BYTES = 1024 * 1024;

/**
 * GET over plain HTTP with an explicit Host header (fetch does not allow setting one).
 * `timeoutMs` bounds the whole exchange (connect, headers and body), not the gap between
 * bytes, so an answer that drips never holds the caller past it. Resolves with the status and
 * body; rejects on connection errors, the deadline, an abort or a body over `maxBytes`.
 */
export function httpGet(url: string, host: string, timeoutMs: number, opts: HttpGetOptions = {}): Promise<{ status: number; body: string }> {
  const maxBytes = opts.maxBytes ?? HTTP_GET_MAX_BYTES;
  return new Promise((resolve, reject) => {
    let done = false;
    const req = request(url, { method: 'GET', agent: false, headers: { host, connection: 'close' } });
    const finish = (err: Error | null, value?: { status: number; body: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => finish(new Error('the request was cancelled'));
    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      if (opts.statusOnly) {
        finish(null, { status: res.statusCode ?? 0, body: '' });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) finish(new Error(`status ${res.statusCode ?? 0} with a body over ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => finish(err));
      res.on('aborted', () => finish(new Error('the connection closed before the answer was complete')));
    });
    req.on('error', (err) => finish(err));
    req.end();
  });
}
