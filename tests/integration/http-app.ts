import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

/** What the proxy tests (nginx and Caddy) send through the proxy and run behind it. */

/**
 * A stdlib HTTP/1.1 server that also completes a WebSocket handshake on /ws and echoes one
 * text frame, so a test sees what the proxy passes through and what it keeps for itself.
 * Run it with PORT set; it also reads POST bodies and answers how many bytes it received.
 */
export const SERVER = String.raw`import base64, hashlib, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.path == "/headers":
            return self.reply(200, "connection=%s upgrade=%s" % (self.headers.get("Connection", ""), self.headers.get("Upgrade", "")))
        self.reply(200, "app " + self.path)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            chunk = self.rfile.read(min(65536, n - got))
            if not chunk:
                break
            got += len(chunk)
        self.reply(200, "received %d" % got)

    def websocket(self):
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        head = self.rfile.read(2)
        length = head[1] & 0x7F
        mask = self.rfile.read(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
        self.wfile.write(bytes([0x81, len(payload)]) + payload)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

/** A request through the proxy with the app's host name, answering status, headers and body. */
export function send(port: number, host: string, method: string, path: string, body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: { host, ...(body && { 'content-length': body.length }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // nginx answers 413 from the headers and may close before the body is all sent; Caddy (Go)
    // closes without lingering, so the answer may be lost to the reset: status 0 then.
    req.on('error', (err) => {
      if (!['EPIPE', 'ECONNRESET'].includes((err as NodeJS.ErrnoException).code ?? '')) reject(err);
      else setTimeout(() => resolve({ status: 0, headers: {}, body: `connection reset: ${(err as Error).message}` }), 1000);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.end(body);
  });
}

/** Open a WebSocket through the proxy, send one masked text frame, and read the frame that comes back. */
export function websocketEcho(port: number, host: string, text: string): Promise<{ status: number; accept: string | undefined; expected: string; echo: string }> {
  const key = randomBytes(16).toString('base64');
  const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: '/ws', agent: false,
      headers: { host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
    });
    req.setTimeout(15_000, () => req.destroy(new Error('no WebSocket answer within 15 s')));
    req.on('error', reject);
    req.on('response', (res) => reject(new Error(`expected 101, got ${res.statusCode}`)));
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      let got = head;
      const done = () => {
        if (got.length < 2 || got.length < 2 + (got[1]! & 0x7f)) return;
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, accept: res.headers['sec-websocket-accept'] as string | undefined, expected, echo: got.subarray(2, 2 + (got[1]! & 0x7f)).toString('utf8') });
      };
      socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        done();
      });
      socket.on('error', reject);
      const payload = Buffer.from(text);
      const mask = randomBytes(4);
      const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
      socket.write(frame);
      done();
    });
    req.end();
  });
}
