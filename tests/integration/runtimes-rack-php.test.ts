import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { Daemon, EXAMPLES, ROOT, output, underLoad } from './harness.js';
import { httpGet } from '../../src/lib/http-get.js';

/** A copy of an example to change, removed at the end. */
const scratch = mkdtempSync(join(tmpdir(), 'hop3-rack-php-'));
function copyOf(example: string, name: string, change: Record<string, string> = {}): string {
  const dir = join(scratch, name);
  cpSync(join(EXAMPLES, example), dir, { recursive: true });
  for (const [file, text] of Object.entries(change)) writeFileSync(join(dir, file), text);
  return dir;
}

/** The examples' pages say `Hello from APP vN on ...`: the release that answered, for underLoad. */
const releaseOf = (port: number, host: string) => async () => {
  const r = await httpGet(`http://127.0.0.1:${port}/`, host, 5000);
  const release = /^<h1>Hello from \S+ (v\d+) on /.exec(r.body)?.[1];
  return release ? { status: r.status, body: JSON.stringify({ release }) } : { status: 599, body: r.body };
};

describe('runtimes: ruby (rack) and php apps build, serve through the proxy and fail cleanly', () => {
  const d = new Daemon();
  beforeAll(async () => {
    await d.start();
  });
  afterAll(async () => {
    await d.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  const deploy = async (dir: string, app: string) => {
    const started = Date.now();
    const r = await d.hop3(['deploy', dir, '--app', app]);
    return { r, text: output(r), seconds: (Date.now() - started) / 1000 };
  };

  it('hop3 validate names the builder each example gets', async () => {
    for (const [example, builder] of [['ruby-app', 'ruby'], ['php-app', 'php']] as const) {
      const r = await execa(join(ROOT, 'bin', 'hop3'), ['validate', join(EXAMPLES, example)], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toContain(`(${builder} build; web: web)`);
    }
  });

  it('ruby: bundle install --local with Debian\'s rack, config.ru through the rack plugin; redeploys with no failed request', async () => {
    const first = await deploy(join(EXAMPLES, 'ruby-app'), 'ruby-app');
    expect(first.r.exitCode, first.text).toBe(0);
    expect(first.text).toContain('bundle install --local');
    const page = await d.get('ruby-app.localhost', '/hi?x=<b>');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from ruby-app v1 on Ruby 3\.\d+\.\d+<\/h1>\n<p>You asked for \/hi<\/p>\n<p>with rack \d+\.\d+\.\d+<\/p>\n$/);
    // Bundler resolved against the gems on the server and wrote its lock into the release.
    expect(readFileSync(join(d.home, 'apps', 'ruby-app', 'releases', 'v1', 'src', 'Gemfile.lock'), 'utf8')).toMatch(/^ {4}rack \(\d+\.\d+\.\d+\)$/m);
    expect(statSync(join(d.home, 'apps', 'ruby-app', 'gems')).isDirectory()).toBe(true);

    let second!: Awaited<ReturnType<typeof deploy>>;
    const load = await underLoad(d.httpPort, 'ruby-app.localhost', async () => {
      second = await deploy(join(EXAMPLES, 'ruby-app'), 'ruby-app');
    }, { get: releaseOf(d.httpPort, 'ruby-app.localhost') });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    expect((await d.get('ruby-app.localhost')).body).toContain('ruby-app v2');
    console.log(`ruby-app: first deploy ${first.seconds.toFixed(2)} s, second (under load: ${load.ok} requests, ${load.failures.length} failed) ${second.seconds.toFixed(2)} s`);
  });

  it('ruby: a syntax error in config.ru fails the new release at its health gate; the previous one keeps serving', async () => {
    const broken = copyOf('ruby-app', 'ruby-broken', { 'config.ru': `${readFileSync(join(EXAMPLES, 'ruby-app', 'config.ru'), 'utf8')}\nrun lambda { |env| [200, {}, [\n` });
    let failed!: Awaited<ReturnType<typeof deploy>>;
    const load = await underLoad(d.httpPort, 'ruby-app.localhost', async () => {
      failed = await deploy(broken, 'ruby-app');
    }, { get: releaseOf(d.httpPort, 'ruby-app.localhost') });
    expect(failed.r.exitCode, failed.text).not.toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()]).toEqual(['v2']);
    const releases = await d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'ruby-app']);
    expect(releases.find((x) => x.version === 'v3')?.status).toBe('failed');
    expect((await d.get('ruby-app.localhost')).body).toContain('ruby-app v2');
  });

  it('php: index.php and its vendored library through the php plugin; redeploys with no failed request', async () => {
    const first = await deploy(join(EXAMPLES, 'php-app'), 'php-app');
    expect(first.r.exitCode, first.text).toBe(0);
    expect(first.text).toContain('composer.json: 1 package from vendor/');
    const page = await d.get('php-app.localhost', '/some/route');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from php-app v1 on PHP 8\.\d+\.\d+<\/h1>\n<p>You asked for \/some\/route<\/p>\n<p>greeted by hop3\/greet 1\.0\.0<\/p>\n$/);
    expect((await d.get('php-app.localhost', '/assets/style.css')).body).toContain('font-family');

    let second!: Awaited<ReturnType<typeof deploy>>;
    const load = await underLoad(d.httpPort, 'php-app.localhost', async () => {
      second = await deploy(join(EXAMPLES, 'php-app'), 'php-app');
    }, { get: releaseOf(d.httpPort, 'php-app.localhost') });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    console.log(`php-app: first deploy ${first.seconds.toFixed(2)} s, second (under load: ${load.ok} requests, ${load.failures.length} failed) ${second.seconds.toFixed(2)} s`);
  });
});
