// A plain Node.js HTTP server: hop3 runs `npm start` as the app's web process, bound to $PORT.
const { readFileSync } = require('node:fs');
const http = require('node:http');
const escapeHtml = require('escape-html');

const app = process.env.HOP3_APP ?? 'node-app';
// Written by `npm run build` (build.js) when hop3 built the release.
const built = (() => { try { return readFileSync('build.txt', 'utf8').trim(); } catch { return 'not built'; } })();
const release = process.env.HOP3_RELEASE ?? 'dev';

http.createServer((req, res) => {
  const body = `<h1>Hello from ${escapeHtml(app)} ${escapeHtml(release)} on Node.js ${process.version}</h1>\n<p>You asked for ${escapeHtml(req.url)}</p>\n<p>${escapeHtml(built)}</p>\n`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
