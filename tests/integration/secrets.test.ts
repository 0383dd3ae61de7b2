import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon } from './harness.js';

const ENV_JSON = 'json.dumps(dict(os.environ), sort_keys=True).encode()';

const WSGI_APP = {
  'hop3.toml': '[run]\nstart = "app:application"\n',
  'app.py': `import json, os
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [${ENV_JSON}]
`,
};

const WEB_APP = {
  'hop3.toml': '[build]\nbuilder = "python"\n',
  Procfile: 'web: exec python3 server.py\n',
  'server.py': `import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ${ENV_JSON}
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`,
};

/** What hop3 documents an app process gets, besides its own configuration. */
const DOCUMENTED = ['PORT', 'HOME', 'PATH', 'LANG', 'HOP3_APP', 'HOP3_RELEASE', 'HOP3_PROCESS', 'HOP3_INSTANCE', 'VIRTUAL_ENV', 'PYTHONUNBUFFERED'];

/** Every regular file under `dir` (symlinks and sockets are not followed or read). */
function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const mode = (p: string) => statSync(p).mode & 0o7777;
const wwwDataGid = () => Number(/^www-data:[^:]*:\d+:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))![1]);

describe('secrets at rest and in app processes', () => {
  const token = randomBytes(16).toString('hex');
  const daemonSecret = `daemon-secret-${randomBytes(8).toString('hex')}`;
  // HOP3_TOKEN is the real token (the CLI reads it); SOME_DAEMON_SECRET is anything exported in the daemon's shell.
  const d = new Daemon({ HOP3_TOKEN: token, SOME_DAEMON_SECRET: daemonSecret });
  const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
  const dirs: string[] = [];

  beforeAll(async () => {
    // A home as an older version left it: world-readable directories and token.
    for (const sub of ['secrets', 'log', 'run']) mkdirSync(join(d.home, sub), { mode: 0o755 });
    writeFileSync(join(d.home, 'secrets', 'admin-token'), `${token}\n`, { mode: 0o644 });
    chmodSync(join(d.home, 'secrets'), 0o755);
    chmodSync(d.home, 0o755);
    await d.start();
    for (const [app, files] of [['envwsgi', WSGI_APP], ['envweb', WEB_APP]] as const) {
      const dir = appDir(files);
      dirs.push(dir);
      const r = await d.hop3(['deploy', dir, '--app', app]);
      expect(r.exitCode, String(r.stderr)).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await d.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['envwsgi', 'envweb'])('%s sees its configuration and what hop3 documents, nothing of the daemon\'s environment', async (app) => {
    const r = await d.hop3(['config', 'set', app, `API_KEY=${secret}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const res = await d.get(`${app}.localhost`);
    expect(res.status).toBe(200);
    const env = JSON.parse(res.body) as Record<string, string>;
    console.log(`${app} environment: ${Object.keys(env).sort().join(' ')}`);
    expect(env.API_KEY).toBe(secret);
    expect(env.HOP3_APP).toBe(app);
    expect(env.SOME_DAEMON_SECRET).toBeUndefined();
    expect(env.HOP3_TOKEN).toBeUndefined();
    expect(Object.values(env)).not.toContain(token);
    expect(Object.values(env)).not.toContain(daemonSecret);
    // Exactly the allowed names. uWSGI keeps its own UWSGI_* in a WSGI process (a reloading
    // vassal finds its emperor through them); a shell adds PWD.
    const extra = Object.keys(env).filter((k) => k !== 'API_KEY' && !DOCUMENTED.includes(k) && !k.startsWith('UWSGI_') && k !== 'PWD');
    expect(extra).toEqual([]);
  });

  it('no world-readable file under HOP3_HOME holds a configured secret, after a redeploy too', async () => {
    for (const app of ['envwsgi', 'envweb']) await d.hop3(['config', 'set', app, `API_KEY=${secret}`]);
    const r = await d.hop3(['deploy', dirs[0]!, '--app', 'envwsgi']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse((await d.get('envwsgi.localhost')).body).API_KEY).toBe(secret);
    const files = walk(d.home);
    const holding = files.filter((f) => readFileSync(f).includes(secret));
    expect(holding.length).toBeGreaterThan(1); // the database and the run files: the walk does look
    const open = files.filter((f) => mode(f) & 0o004).filter((f) => readFileSync(f).includes(secret));
    expect(open).toEqual([]);
    for (const f of holding) expect([f, mode(f) & 0o077]).toEqual([f, 0]);
    for (const f of ['hop3.db', 'hop3.db-wal', 'hop3.db-shm']) expect([f, mode(join(d.home, f))]).toEqual([f, 0o600]);
    expect(mode(join(d.home, 'secrets', 'admin-token'))).toBe(0o600);
  });

  it('directories nginx workers pass through are 0750 with their group; every other one is 0700', () => {
    const gid = wwwDataGid();
    const served = [d.home, join(d.home, 'apps'), join(d.home, 'apps', 'envwsgi'), join(d.home, 'apps', 'envwsgi', 'releases'),
      join(d.home, 'apps', 'envwsgi', 'releases', 'v1'), join(d.home, 'nginx'), join(d.home, 'nginx', 'tmp'),
      // ACME HTTP-01 answers are served from certs/challenges/; each certificate's own directory is private.
      join(d.home, 'certs'), join(d.home, 'certs', 'challenges')];
    for (const dir of served) expect([dir, mode(dir), statSync(dir).gid]).toEqual([dir, 0o750, gid]);
    const app = join(d.home, 'apps', 'envwsgi');
    const priv = ['secrets', 'log', 'run', 'lib', 'uwsgi-available', 'uwsgi-enabled', 'backups', 'nginx/sites'].map((s) => join(d.home, s))
      .concat(['data', 'log', 'venvs', 'releases/v1/run'].map((s) => join(app, s)));
    for (const dir of priv) expect([dir, mode(dir)]).toEqual([dir, 0o700]);
    // Walking down from HOP3_HOME, every directory another account can enter is a served one
    // (a release's src/ belongs to the confinement rules); the rest are closed to all but hop3.
    const dirsOpen: string[] = [];
    const visit = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (!e.isDirectory() || e.name === 'src' || (mode(p) & 0o077) === 0) continue;
        if (!(served.includes(p) || /\/apps\/[^/]+(\/releases(\/v\d+)?)?$/.test(p)) || mode(p) !== 0o750 || statSync(p).gid !== gid) dirsOpen.push(p);
        else visit(p);
      }
    };
    visit(d.home);
    expect(dirsOpen).toEqual([]);
  });
});
