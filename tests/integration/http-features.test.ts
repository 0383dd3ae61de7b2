import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, output } from './harness.js';

/**
 * A stdlib HTTP/1.1 server that also completes a WebSocket handshake on /ws and echoes one
 * text frame, so the test sees what nginx passes through and what it keeps for itself.
 */
const SERVER = String.raw`import base64, hashlib, os
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

const TOML = `[build]
builder = "python"

[run]
max-body-size = "512k"

[static]
paths = { "/static" = "public/static", "/all" = "." }
max-age = 600
`;

const APP_FILES = {
  Procfile: 'web: exec python3 server.py\n',
  'server.py': SERVER,
  'public/static/app.css': 'body { color: teal }\n',
  'public/static/.secret': 'not for the web\n',
  'public/static/sub/page.txt': 'nested\n',
  ENV: 'SECRET_TOKEN=s3cret\n',
};

/** A request through the daemon's nginx with the app's host name, answering status, headers and body. */
function send(port: number, host: string, method: string, path: string, body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: { host, ...(body && { 'content-length': body.length }) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    // nginx answers 413 from the headers and may close before the body is all sent.
    req.on('error', (err) => (['EPIPE', 'ECONNRESET'].includes((err as NodeJS.ErrnoException).code ?? '') ? undefined : reject(err)));
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path}: no answer within 15 s`)));
    req.end(body);
  });
}

/** Open a WebSocket through nginx, send one masked text frame, and read the frame that comes back. */
function websocketEcho(port: number, host: string, text: string): Promise<{ status: number; accept: string | undefined; expected: string; echo: string }> {
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

describe('what piku users rely on, through real nginx and uWSGI', () => {
  const d = new Daemon();
  const dirs: string[] = [];
  const host = 'feat.localhost';
  const deploy = async (app: string, files: Record<string, string>) => {
    const dir = appDir(files);
    dirs.push(dir);
    return d.hop3(['deploy', dir, '--app', app]);
  };

  beforeAll(async () => {
    await d.start();
    const r = await deploy('feat', { 'hop3.toml': TOML, ...APP_FILES });
    expect(r.exitCode, output(r)).toBe(0);
  });
  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await d.cleanup();
  });

  it('[static] paths are served by nginx from the release, with cache headers', async () => {
    const css = await send(d.httpPort, host, 'GET', '/static/app.css');
    expect(css.status).toBe(200);
    expect(css.body).toBe('body { color: teal }\n');
    expect(css.headers['cache-control']).toBe('max-age=600');
    expect(Date.parse(String(css.headers.expires)) - Date.now()).toBeGreaterThan(500_000);
    expect((await send(d.httpPort, host, 'GET', '/static/sub/page.txt')).body).toBe('nested\n');
    // The prefix without its slash, and everything else, still goes to the app.
    expect((await send(d.httpPort, host, 'GET', '/static')).body).toBe('app /static');
    const other = await send(d.httpPort, host, 'GET', '/other');
    expect(other.body).toBe('app /other');
    expect(other.headers['cache-control']).toBeUndefined();
  });

  it('a static path answers 404 for dotfiles and hop3\'s own files, even mapped to the app root', async () => {
    expect((await send(d.httpPort, host, 'GET', '/static/.secret')).status).toBe(404);
    for (const path of ['/all/hop3.toml', '/all/Procfile', '/all/ENV', '/all/public/static/.secret']) {
      const res = await send(d.httpPort, host, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('max-body-size');
    }
    expect((await send(d.httpPort, host, 'GET', '/all/public/static/app.css')).body).toBe('body { color: teal }\n');
  });

  it('a body over max-body-size gets 413 from nginx; a smaller one reaches the app', async () => {
    // Below nginx's own 1m default, so only the app's setting can refuse it.
    const big = await send(d.httpPort, host, 'POST', '/upload', randomBytes(700 * 1024));
    expect(big.status).toBe(413);
    const small = await send(d.httpPort, host, 'POST', '/upload', randomBytes(500 * 1024));
    expect(small.status).toBe(200);
    expect(small.body).toBe(`received ${500 * 1024}`);
  });

  it('without max-body-size an app takes bodies up to 10m (nginx alone would refuse over 1m)', async () => {
    const r = await deploy('plain', { 'hop3.toml': '[build]\nbuilder = "python"\n', ...APP_FILES });
    expect(r.exitCode, output(r)).toBe(0);
    const ok = await send(d.httpPort, 'plain.localhost', 'POST', '/upload', randomBytes(3 * 1024 * 1024));
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(`received ${3 * 1024 * 1024}`);
    expect((await send(d.httpPort, 'plain.localhost', 'POST', '/upload', randomBytes(11 * 1024 * 1024))).status).toBe(413);
  });

  it('a WebSocket upgrade is passed through: the handshake completes and a frame is echoed', async () => {
    const ws = await websocketEcho(d.httpPort, host, 'hello through nginx');
    expect(ws.status).toBe(101);
    expect(ws.accept).toBe(ws.expected);
    expect(ws.echo).toBe('hello through nginx');
    // An ordinary request still goes out with an empty Connection and no Upgrade, as before.
    expect((await send(d.httpPort, host, 'GET', '/headers')).body).toBe('connection= upgrade=');
  });

  it('refuses a static directory out of the app at validate time, naming it, and changes nothing', async () => {
    const sites = join(d.home, 'nginx', 'sites');
    const before = readdirSync(sites).map((f) => readFileSync(join(sites, f), 'utf8'));

    const dotdot = await deploy('feat', { 'hop3.toml': TOML.replace('"public/static"', '"../../etc"'), ...APP_FILES });
    expect(dotdot.exitCode).toBe(1);
    expect(output(dotdot)).toContain('static.paths./static: "../../etc" is not a valid relative directory');

    const dir = appDir({ 'hop3.toml': TOML.replace('"public/static"', '"assets"'), ...APP_FILES });
    dirs.push(dir);
    symlinkSync('/etc', join(dir, 'assets'));
    const validate = await d.hop3(['validate', dir]);
    expect(validate.exitCode).toBe(1);
    expect(output(validate)).toContain('[static] paths "/static" -> assets resolves outside the app: /etc');
    const link = await d.hop3(['deploy', dir, '--app', 'feat']);
    expect(link.exitCode).toBe(1);
    expect(output(link)).toContain('assets');

    expect(readdirSync(sites).map((f) => readFileSync(join(sites, f), 'utf8'))).toEqual(before);
    expect((await send(d.httpPort, host, 'GET', '/static/app.css')).status).toBe(200);
    const releases = await d.json<Array<{ version: string }>>(['releases', 'feat']);
    expect(releases).toHaveLength(1);
  });
});
