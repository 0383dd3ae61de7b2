import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, ROOT, within } from './harness.js';
import { execa } from 'execa';
import { type Deployed, expectValidateNames, runtimeFixture } from './runtime-support.js';

const ms = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

/** Pids of the processes running with HOP3_APP=app and HOP3_RELEASE=release. */
function processesOf(app: string, release: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).filter((pid) => {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return env.includes(`HOP3_APP=${app}`) && env.includes(`HOP3_RELEASE=${release}`);
    } catch {
      return false;
    }
  }).map(Number);
}

describe('runtimes: node, go and generic apps build, serve through the proxy and fail cleanly', () => {
  const { d, scratch, copyOf, deploy, loaded } = runtimeFixture('runtimes');

  it('hop3 validate names the builder each example gets', async () => {
    for (const [example, builder] of [['node-app', 'node'], ['go-app', 'go']] as const) await expectValidateNames(join(EXAMPLES, example), builder);
  });

  it('node: npm ci from the lockfile, npm start behind the proxy; a second deploy reuses node_modules', async () => {
    const first = await deploy(join(EXAMPLES, 'node-app'), 'node-app');
    expect(first.r.exitCode, first.text).toBe(0);
    expect(first.text).toContain('npm ci (package-lock.json)');
    const page = await d.get('node-app.localhost', '/hi');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from node-app v1 on Node\.js v\d+\.\d+\.\d+<\/h1>\n<p>You asked for \/hi<\/p>\n<p>built by npm run build with escape-html 1\.0\.3<\/p>\n$/);
    expect(first.text).toContain('Running npm run build');

    expect(processesOf('node-app', 'v1').length).toBeGreaterThan(0);

    let second!: Deployed;
    const load = await loaded('node-app', async () => {
      second = await deploy(join(EXAMPLES, 'node-app'), 'node-app');
    });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    // npm start's whole tree (npm, sh, node) of the old release is gone once it is retired.
    await within(10_000, () => processesOf('node-app', 'v1').length === 0);
    expect((await d.json<{ actions: unknown[] }>(['reconcile', 'node-app'])).actions).toEqual([]);
    expect(second.text).toContain('Reusing node_modules (package-lock.json unchanged)');
    expect(second.text).not.toContain('npm ci');
    expect((await d.get('node-app.localhost')).body).toContain('node-app v2');
    // The same files, linked: not installed again.
    const dep = (v: number) => statSync(join(d.home, 'apps', 'node-app', 'releases', `v${v}`, 'src', 'node_modules', 'escape-html', 'index.js'));
    expect(dep(2).ino).toBe(dep(1).ino);
    const installMs = ms(first.text, /Installed node_modules in (\d+) ms/);
    const linkMs = ms(second.text, /linked in (\d+) ms/);
    console.log(`node-app: first deploy ${first.seconds.toFixed(2)} s (npm ci ${installMs} ms), second deploy ${second.seconds.toFixed(2)} s (node_modules linked in ${linkMs} ms)`);
    expect(linkMs).toBeLessThan(installMs);
  });

  it('node: an engines.node this server does not fit fails the build with a clear error', async () => {
    const pkg = JSON.parse(readFileSync(join(EXAMPLES, 'node-app', 'package.json'), 'utf8'));
    const dir = copyOf('node-app', 'node-future', { 'package.json': JSON.stringify({ ...pkg, engines: { node: '>=99' } }) });
    const { r, text } = await deploy(dir, 'node-future');
    expect(r.exitCode).toBe(1);
    expect(text).toMatch(/package\.json engines\.node ">=99" does not allow this server's Node\.js v\d+/);
    expect(text).not.toContain('npm ci');
  });

  it('go: go build, the binary as the web process; a compile error fails its release with the compiler message, the previous one keeps serving', async () => {
    const first = await deploy(join(EXAMPLES, 'go-app'), 'go-app');
    expect(first.r.exitCode, first.text).toBe(0);
    const page = await d.get('go-app.localhost', '/there');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from go-app v1 on go1\.\d+[.\d]*<\/h1>\n<p>You asked for \/there<\/p>/);
    // Caches are the app's own, under HOP3_HOME.
    expect(statSync(join(d.home, 'apps', 'go-app', 'go', 'build')).isDirectory()).toBe(true);

    const main = readFileSync(join(EXAMPLES, 'go-app', 'main.go'), 'utf8').replace('fmt.Fprintf(w,', 'fmt.Fprintf(undefinedWriter,');
    let broken!: Deployed;
    const load = await loaded('go-app', async () => {
      broken = await deploy(copyOf('go-app', 'go-broken', { 'main.go': main }), 'go-app');
    });
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()]).toEqual(['v1']);
    console.log(`go-app: first deploy ${first.seconds.toFixed(2)} s, failed deploy ${broken.seconds.toFixed(2)} s`);
    expect(broken.r.exitCode).toBe(1);
    expect(broken.text).toContain('undefined: undefinedWriter');
    const releases = await d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'go-app']);
    expect(releases.find((x) => x.version === 'v2')).toMatchObject({ status: 'failed', message: expect.stringContaining('undefined: undefinedWriter') });
    expect((await d.get('go-app.localhost')).body).toContain('go-app v1');
  });

  it('go: a vendored module builds with no network (GOPROXY=off, -mod=vendor)', async () => {
    const dir = copyOf('go-app', 'go-vendored', {
      'go.mod': 'module example.com/go-app\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n',
      'main.go': readFileSync(join(EXAMPLES, 'go-app', 'main.go'), 'utf8')
        .replace('"runtime"', '"runtime"\n\n\t"example.com/greet"')
        .replace('runtime.Version()', 'runtime.Version()+" "+greet.Hello()'),
    });
    mkdirSync(join(dir, 'vendor', 'example.com', 'greet'), { recursive: true });
    writeFileSync(join(dir, 'vendor', 'modules.txt'), '# example.com/greet v1.0.0\n## explicit; go 1.19\nexample.com/greet\n');
    writeFileSync(join(dir, 'vendor', 'example.com', 'greet', 'greet.go'), 'package greet\n\nfunc Hello() string { return "and a vendored module" }\n');
    const { r, text } = await deploy(dir, 'go-app');
    expect(r.exitCode, text).toBe(0);
    expect(text).toContain('(vendor/, -mod=vendor)');
    expect((await d.get('go-app.localhost')).body).toMatch(/^<h1>Hello from go-app v3 on go1\.[.\d]+ and a vendored module<\/h1>/);
  });

  it('generic: a Procfile and before-build commands, with no runtime detected', async () => {
    const dir = join(scratch, 'generic');
    mkdirSync(dir);
    writeFileSync(join(dir, 'Procfile'), 'web: exec python3 -m http.server $PORT --bind 127.0.0.1 --directory site\n');
    writeFileSync(join(dir, 'hop3.toml'), '[build]\nbefore-build = ["mkdir -p site", "echo built by before-build > site/index.txt"]\n');
    const validate = await execa(join(ROOT, 'bin', 'hop3'), ['validate', dir], { reject: false });
    expect(validate.stdout).toContain('(generic build; web: web)');
    const { r, text } = await deploy(dir, 'generic-app');
    expect(r.exitCode, text).toBe(0);
    expect((await d.get('generic-app.localhost', '/index.txt')).body).toBe('built by before-build\n');
  });
});
