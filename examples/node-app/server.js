// A plain Node.js HTTP server: hop3 runs `npm start` as the app's web process, bound to $PORT.
const http = require('node:http');
const escapeHtml = require('escape-html');

const app = process.env.HOP3_APP ?? 'node-app';
const release = process.env.HOP3_RELEASE ?? 'dev';

http.createServer((req, res) => {
  const body = `<h1>Hello from ${escapeHtml(app)} ${escapeHtml(release)} on Node.js ${process.version}</h1>\n<p>You asked for ${escapeHtml(req.url)}</p>\n`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
