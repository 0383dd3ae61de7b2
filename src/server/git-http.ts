import { spawn } from 'node:child_process';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { APP_NAME_PATTERN } from '../manifest/index.js';
import { ensureRepo, pushLockPath, repoPath } from '../git/repo.js';
import type { Hop3 } from './hop3.js';
import { refuseUnread } from './refuse-unread.js';
import { tokenMatches } from './token.js';

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);

/** Basic auth: any user name, the API token as the password. */
function authorized(req: FastifyRequest, token: string): boolean {
  const m = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  return tokenMatches(token, decoded.slice(decoded.indexOf(':') + 1));
}

/**
 * The request's process group dies with the daemon. A push whose daemon is gone has lost its
 * pusher (the connection was the daemon's), so it must not land: were receive-pack and its hook
 * to outlive the daemon, the hook could see the release through to the restarted daemon and the
 * ref would move under a push git reported as failed. The kernel signals the first process when
 * its parent dies (pdeathsig); it then kills its whole group, hook included. That signal is
 * SIGUSR1, not SIGTERM: a client hang-up TERMs the group, and the hook needs that moment to
 * cancel its release. stdin is passed on by hand, as sh gives a background job /dev/null.
 */
export function tiedToDaemon(argv: string[]): string[] {
  const script = 'trap "kill -KILL 0" USR1; exec 3<&0; "$@" <&3 3<&- & wait $!';
  return ['setpriv', '--pdeathsig', 'SIGUSR1', '--', '/bin/sh', '-c', script, 'hop3-git-request', ...argv];
}

/**
 * Run `git http-backend` as a CGI program for one request: the request body streams to its
 * stdin, its headers and body stream back. Push output (the hook's) reaches the client live.
 */
function httpBackend(h: Hop3, req: FastifyRequest, reply: FastifyReply, app: string, rest: string, push: boolean): Promise<void> {
  const url = new URL(req.url, 'http://hop3');
  h.exec.counted();
  // Push requests hold the same per-repository lock as an SSH push. The advertisement (GET
  // info/refs) takes it too, so a push that starts while another one deploys waits and then
  // sees that push's commit, as over SSH; only pushes that both read the refs before either
  // landed still race, and the hook refuses the later one ("moved").
  const backend = push ? ['flock', pushLockPath(h.layout, app), 'git', 'http-backend'] : ['git', 'http-backend'];
  const argv = tiedToDaemon(backend);
  const child = spawn(argv[0]!, argv.slice(1), {
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      GIT_PROJECT_ROOT: h.layout.apps,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: `/${app}/git/${rest}`,
      REQUEST_METHOD: req.method,
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
      REMOTE_USER: 'hop3',
      REMOTE_ADDR: req.ip,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    // A group of its own, so that a client who hangs up stops everything the request started,
    // down to the push's hook (which then cancels its release).
    detached: true,
  });
  reply.hijack();
  const res = reply.raw;
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      const [k, v] = [line.slice(0, i).trim(), line.slice(i + 1).trim()];
      if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
      else headers[k] = v;
    }
    res.writeHead(status, headers);
    headersSent = true;
    res.write(head.subarray(end + 4));
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // A client that goes away, or a backend that exits before reading everything, ends this
  // request only; it must never take the daemon down.
  const body = req.body as NodeJS.ReadableStream | undefined;
  child.stdin.on('error', () => undefined);
  res.on('close', () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  if (body && typeof body.pipe === 'function') {
    body.on('error', () => child.stdin.destroy());
    body.pipe(child.stdin);
  } else child.stdin.end();
  return new Promise((resolve) => {
    child.on('error', (err) => {
      h.log.error({ app, err }, 'git http-backend could not be started');
      if (!headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      headersSent = true;
      res.end();
      resolve();
    });
    child.on('close', (code) => {
      if (!headersSent) {
        h.log.warn({ app, code, stderr }, 'git http-backend failed');
        res.writeHead(500, { 'content-type': 'text/plain' });
      }
      res.end();
      resolve();
    });
  });
}

/** Smart HTTP at /git/APP.git: fetch, clone and push (the first push creates the app). */
export function registerGitHttp(app: FastifyInstance, h: Hop3, token: string): void {
  // Packs stream to git untouched (and may be gzip-encoded); never buffer or parse them.
  app.addContentTypeParser(/^application\/x-git-/, (_req, payload, done) => done(null, payload));

  app.route({
    method: ['GET', 'POST'],
    url: '/git/:repo/*',
    // Checked when the headers arrive, before any body is read or parsed (whatever its type).
    onRequest: (req, reply, done) => {
      if (authorized(req, token)) return done();
      refuseUnread(req, reply, 401, 'authentication required: use the API token as password\n', { 'www-authenticate': 'Basic realm="hop3"' });
    },
    handler: async (req, reply) => {
      const { repo, '*': rest } = req.params as { repo: string; '*': string };
      const name = repo.replace(/\.git$/, '');
      if (!APP_NAME_PATTERN.test(name)) return reply.code(404).send(`no repository ${repo}\n`);
      const service = rest === 'info/refs' ? new URL(req.url, 'http://hop3').searchParams.get('service') : rest;
      if (!service || !SERVICES.has(service)) return reply.code(403).send('only smart HTTP is served\n');
      if (service === 'git-receive-pack') await ensureRepo(h.exec, h.config, h.layout, name);
      else if (!existsSync(repoPath(h.layout, name))) return reply.code(404).send(`no repository ${repo}\n`);
      await httpBackend(h, req, reply, name, rest, service === 'git-receive-pack');
      return reply;
    },
  });
}
