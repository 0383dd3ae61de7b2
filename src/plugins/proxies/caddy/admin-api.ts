import { request } from 'node:http';
import { StringDecoder } from 'node:string_decoder';

/** A reply from Caddy's admin endpoint. */
export interface AdminReply {
  status: number;
  body: string;
}

/** A loaded config for thousands of sites stays far below this; more is not Caddy talking. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * One request to Caddy's admin endpoint over its unix socket. Caddy 2.6 accepts only an empty
 * Host header on a socket (it checks Host against the endpoint's origins), which Node sends only
 * with `setHost: false`. Rejects on any connection error or when `timeoutMs` passes.
 */
export function adminRequest(socket: string, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, timeoutMs: number, body?: string): Promise<AdminReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Host: '', Connection: 'close' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    const req = request({ socketPath: socket, path, method, setHost: false, headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error(`caddy's admin endpoint did not answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      // Decoded chunk by chunk: a loaded config of thousands of sites is megabytes, and one
      // buffer of all of it on every look would be memory outside the JS heap, freed in pieces.
      const decoder = new StringDecoder('utf8');
      const parts: string[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY_BYTES) req.destroy(new Error(`caddy's admin reply is over ${MAX_REPLY_BYTES} bytes`));
        else parts.push(decoder.write(c));
      });
      res.on('end', () => {
        clearTimeout(timer);
        parts.push(decoder.end());
        resolve({ status: res.statusCode ?? 0, body: parts.join('') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(body);
  });
}
