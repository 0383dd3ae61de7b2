import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { appDir, archiveOf, Daemon, EXAMPLES, within } from './harness.js';
import { rmSync } from 'node:fs';

const WSGI_APP = `import os
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [os.environ.get("EVIL", "").encode()]
`;

/**
 * Announce a body of `length` bytes and send only its first chunk: the daemon must refuse it
 * from the Content-Length alone, before reading it. (Streaming the whole body races the
 * daemon's close of the connection, which can reset it before the answer is read.)
 */
function postOversized(port: number, token: string, length: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/rpc', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        req.destroy();
      });
    });
    req.on('error', (err) => (err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(err));
    req.setTimeout(10_000, () => req.destroy(new Error('no answer to an oversized request within 10 s')));
    req.write('{"jsonrpc":"2.0","id":1,"method":"apps.deploy","params":{"app":"big","archive":"AAAA');
  });
}

/** Every file hop3 rendered for the proxy and the emperor. */
function renderedFiles(home: string): string[] {
  const dirs = [join(home, 'uwsgi-available'), join(home, 'nginx', 'sites')];
  return dirs.flatMap((dir) => readdirSync(dir).filter((f) => !f.startsWith('.')).map((f) => readFileSync(join(dir, f), 'utf8')));
}

describe('hostile input changes nothing and reaches no config file', () => {
  const d = new Daemon();
  beforeAll(async () => {
    await d.start();
    const r = await d.hop3(['deploy', join(EXAMPLES, 'hello-wsgi'), '--app', 'target']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
  });
  afterAll(() => d.cleanup());

  it.each([
    ['newline', 'x\nroot /etc;'],
    ['semicolon', 'x; include /etc/passwd'],
    ['brace', 'x { deny all; }'],
    ['uwsgi magic', '@(/etc/passwd) $(HOME) %(d)'],
  ])('delivers an env value with a %s to the app verbatim and writes it into no config file', async (_name, value) => {
    const files = { 'hop3.toml': `[run]\nstart = "app:application"\n[env]\nEVIL = ${JSON.stringify(value)}\n`, 'app.py': WSGI_APP };
    const app = `env-${_name.replace(/\W/g, '')}`;
    const res = await d.rpc('apps.deploy', { app, archive: await archiveOf(files) });
    expect(res.body.error).toBeUndefined();
    const { value: status } = await within(30_000, async () => {
      const s = await d.rpc('apps.status', { app });
      return ['Healthy', 'Degraded'].includes(s.body.result?.health) && s.body.result;
    });
    expect(status).toMatchObject({ health: 'Healthy', release: 'v1' });
    expect((await d.get(`${app}.localhost`)).body).toBe(value);
    for (const text of renderedFiles(d.home)) {
      expect(text).not.toContain('/etc/passwd');
      expect(text).not.toContain('deny all');
      expect(text).not.toContain('root /etc');
    }
  });

  it.each([
    ['newline', 'evil.com\n  root /etc'],
    ['semicolon', 'evil.com; include /etc/passwd'],
    ['brace', 'evil.com { }'],
  ])('refuses a domain with a %s, naming the key, and changes nothing', async (_name, domain) => {
    const before = renderedFiles(d.home);
    const files = { 'hop3.toml': `[run]\nstart = "app:application"\n[domains]\nnames = [${JSON.stringify(domain)}]\n`, 'app.py': WSGI_APP };
    const res = await d.rpc('apps.deploy', { app: 'target', archive: await archiveOf(files) });
    expect(res.body.error.data.code).toBe('SPEC_INVALID');
    expect(JSON.stringify(res.body.error.data.details)).toContain('domains.names[0]');
    expect(renderedFiles(d.home)).toEqual(before);
    expect((await d.json(['releases', 'target'])).length).toBe(1);
  });

  it("refuses a domain another app serves, or one under HOP3_DOMAIN, and creates no release", async () => {
    const withDomain = (name: string) => ({ 'hop3.toml': `[run]\nstart = "app:application"\n[domains]\nnames = ["${name}"]\n`, 'app.py': WSGI_APP });
    const first = await d.rpc('apps.deploy', { app: 'shop', archive: await archiveOf(withDomain('shop.example.com')) });
    expect(first.body.error).toBeUndefined();
    const stolen = await d.rpc('apps.deploy', { app: 'thief', archive: await archiveOf(withDomain('shop.example.com')) });
    expect(stolen.body.error.data.code).toBe('DOMAIN_TAKEN');
    expect(stolen.body.error.message).toContain('shop');
    const reserved = await d.rpc('apps.deploy', { app: 'thief', archive: await archiveOf(withDomain('target.localhost')) });
    expect(reserved.body.error.data.code).toBe('DOMAIN_RESERVED');
    expect((await d.rpc('releases.list', { app: 'thief' })).body.error.data.code).toBe('APP_NOT_FOUND');
  });

  it('refuses a bad env key or a NUL in a value over RPC, naming key and value, and stores nothing', async () => {
    for (const [values, message] of [
      [{ 'BAD-KEY': 'x' }, 'config.set: values: "BAD-KEY" is not a valid environment variable name'],
      [{ 'A;B': 'x' }, 'config.set: values: "A;B" is not a valid environment variable name'],
      [{ OK: 'a\u0000b' }, 'config.set: values.OK: value of OK contains a NUL character'],
    ] as const) {
      const res = await d.rpc('config.set', { app: 'target', values });
      expect(res.body.error.code).toBe(-32602);
      expect(res.body.error.message).toBe(message);
      expect(res.body.error.data).toMatchObject({ code: 'PARAMS_INVALID', category: 'user', hint: expect.any(String) });
    }
    const cli = await d.hop3(['config', 'set', 'target', 'BAD-KEY=1']);
    expect(cli.exitCode).toBe(1);
    expect(String(cli.stderr)).toContain('error: "BAD-KEY" is not a valid environment variable name\nhint: Use letters, digits and underscores');
    expect(await d.json(['config', 'get', 'target'])).toEqual({});
  });

  it.each(['My_App', '../etc', 'a.b', '-x', 'x'.repeat(64), 'a b'])('refuses the app name %j', async (name) => {
    const res = await d.rpc('apps.status', { app: name });
    expect(res.body.error.code).toBe(-32602);
    expect(res.body.error.message).toBe(`apps.status: app: ${JSON.stringify(name)} is not a valid app name`);
    expect(res.body.error.data.hint).toMatch(/lowercase letters, digits and dashes/);
    for (const args of [['deploy', join(EXAMPLES, 'static-site'), '--app', name], ['status', '--', name], ['config', 'set', '--', name, 'A=1']]) {
      const cli = await d.hop3(args);
      expect(cli.exitCode).toBe(1);
      expect(String(cli.stderr)).toContain(`error: ${JSON.stringify(name)} is not a valid app name`);
    }
  });

  it('refuses an app no builder can tell how to build before recording anything, in validate, deploy and the daemon alike', async () => {
    // No marker file (package.json, go.mod, ...) and no process: not even the generic builder has something to run.
    const files = { 'hop3.toml': '[metadata]\ntitle = "nothing to run"\n', 'notes.txt': 'hi\n' };
    const dir = appDir(files);
    try {
      for (const args of [['validate', dir], ['deploy', dir, '--app', 'nobuilder']]) {
        const cli = await d.hop3(args);
        expect(cli.exitCode, String(cli.stderr)).toBe(1);
        expect(String(cli.stderr)).toContain('.: cannot tell how to build this app (hint: add a package.json (Node), a go.mod (Go), a Cargo.toml (Rust), a requirements.txt');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const res = await d.rpc('apps.deploy', { app: 'nobuilder', archive: await archiveOf(files) });
    expect(res.body.error.data.code).toBe('SPEC_INVALID');
    expect(res.body.error.data.hint).toContain('cannot tell how to build this app');
    expect((await d.rpc('releases.list', { app: 'nobuilder' })).body.error.data.code).toBe('APP_NOT_FOUND');
    expect((await d.json<{ name: string }[]>(['apps'])).map((a) => a.name)).not.toContain('nobuilder');
  });

  it('refuses a missing app directory, or a file, as a user error naming the path', async () => {
    const file = join(EXAMPLES, 'hello-wsgi', 'app.py');
    for (const [path, problem] of [['/nonexistent/app', 'does not exist'], [file, 'is not a directory']] as const) {
      for (const command of ['validate', 'deploy']) {
        const cli = await d.hop3([command, path]);
        expect(cli.exitCode).toBe(1);
        expect(String(cli.stderr)).toContain(`error: ${path} ${problem}\n`);
      }
    }
  });

  it('refuses bad numeric options before sending anything', async () => {
    for (const timeout of ['abc', '0', '-5']) {
      const cli = await d.hop3(['deploy', join(EXAMPLES, 'static-site'), '--app', 'badtimeout', '--timeout', timeout]);
      expect(cli.exitCode).toBe(1);
      expect(String(cli.stderr)).toContain(`argument '${timeout}' is invalid. It must be a whole number of seconds from 1 to 86400.`);
    }
    expect((await d.json<{ name: string }[]>(['apps'])).map((a) => a.name)).not.toContain('badtimeout');
    const events = await d.hop3(['events', 'target', '--limit', 'abc', '--json']);
    expect(events.exitCode).toBe(1);
    expect(JSON.parse(String(events.stdout))).toEqual({
      error: { code: 'USAGE', category: 'user', message: "option '--limit <n>' argument 'abc' is invalid. It must be a whole number from 1 to 1000.", hint: expect.any(String) },
    });
  });

  it('answers malformed, unauthorized, unknown and oversized requests with JSON-RPC errors', async () => {
    const url = `http://127.0.0.1:${d.apiPort}/rpc`;
    const post = (body: string, token = d.token()) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body }).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect((await post('{"jsonrpc":"2.0","id":1,"method":"apps.list"}', 'wrong')).body.error.code).toBe(-32001);
    expect((await post('{not json')).body.error.code).toBe(-32700);
    expect((await post('{"id":1,"method":"apps.list"}')).body.error.code).toBe(-32600);
    expect((await post('{"jsonrpc":"2.0","id":1,"method":"apps.nope"}')).body.error.code).toBe(-32601);
    expect((await post('{"jsonrpc":"2.0","id":1,"method":"apps.status","params":{"app":"target","extra":1}}')).body.error.message).toMatch(/extra/);
    const huge = await postOversized(d.apiPort, d.token(), 70 * 1024 * 1024);
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toMatch(/over/);
    // The daemon still answers, and created nothing.
    const rpc = await d.rpc('apps.list', {});
    expect(rpc.body.result.map((a: { name: string }) => a.name)).not.toContain('big');
  });

  it('refuses an archive that is not a gzipped tar and creates no app', async () => {
    const res = await d.rpc('apps.deploy', { app: 'garbage', archive: Buffer.from('not a tarball').toString('base64') });
    expect(res.body.error.data.code).toBe('ARCHIVE_INVALID');
    expect((await d.json<{ name: string }[]>(['apps'])).map((a) => a.name)).not.toContain('garbage');
  });
});
