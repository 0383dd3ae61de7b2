import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { EXAMPLES, ROOT, output } from './harness.js';
import { type Deployed, expectValidateNames, runtimeFixture } from './runtime-support.js';

const example = join(EXAMPLES, 'rust-app');
const main = readFileSync(join(example, 'src', 'main.rs'), 'utf8');
const builtMs = (text: string) => Number(/Built bin\/rust-app \(bin\/app: rust-app\) in (\d+) ms/.exec(text)?.[1] ?? NaN);

describe('runtimes: a Rust app builds with cargo --offline, serves through the proxy and fails cleanly', () => {
  const fixture = runtimeFixture('rust');
  const { d, loaded } = fixture;
  const deploy = (dir: string) => fixture.deploy(dir, 'rust-app');
  /** A copy of the example with its main.rs changed by `edit`. */
  const copyWith = (name: string, edit: (main: string) => string): string => {
    const dir = fixture.copyOf('rust-app', name);
    writeFileSync(join(dir, 'src', 'main.rs'), edit(main));
    return dir;
  };
  const cargoDir = () => join(d.home, 'apps', 'rust-app', 'cargo');

  it('hop3 validate names the rust builder and the binary as the web process', async () => {
    await expectValidateNames(example, 'rust');
  });

  it('builds with the vendored crate and no network, redeploys under load with no failed request, and the second build reuses the dependency', async () => {
    const first = await deploy(example);
    expect(first.r.exitCode, first.text).toBe(0);
    expect(first.text).toMatch(/-----> cargo \d+\.\d+/);
    expect(first.text).toContain('Compiling itoa v1.0.1');
    const page = await d.get('rust-app.localhost', '/there?x=<b>');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from rust-app v1 on Rust<\/h1>\n<p>You asked for \/there\?x=(<|%3C)b(>|%3E); request \d+ of this process<\/p>\n$/);
    // The binary is the release's own; cargo's caches are the app's, under HOP3_HOME.
    expect(statSync(join(d.home, 'apps', 'rust-app', 'releases', 'v1', 'bin', 'app')).mode & 0o111).not.toBe(0);
    expect(statSync(join(cargoDir(), 'target', 'release')).isDirectory()).toBe(true);
    expect(existsSync(join(d.home, 'apps', 'rust-app', 'releases', 'v1', 'src', 'target'))).toBe(false);

    let second!: Deployed;
    const load = await loaded('rust-app', async () => {
      second = await deploy(copyWith('rust-v2', (m) => m.replace('request {} of this process', 'request {} of this process, v2 source')));
    });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    expect((await d.get('rust-app.localhost')).body).toContain('of this process, v2 source');
    // Only the app's own crate is compiled again: the vendored dependency comes from the cache.
    expect(second.text).toContain('Compiling rust-app v0.1.0');
    expect(second.text).not.toContain('Compiling itoa');
    const [firstMs, secondMs] = [builtMs(first.text), builtMs(second.text)];
    expect(Number.isFinite(firstMs) && Number.isFinite(secondMs), second.text).toBe(true);
    console.log(`rust-app: first build ${firstMs} ms (deploy ${first.seconds.toFixed(2)} s); second build, from cargo's cache, ${secondMs} ms (deploy under load ${second.seconds.toFixed(2)} s, ${load.ok} requests)`);
    expect((await d.json<{ actions: unknown[] }>(['reconcile', 'rust-app'])).actions).toEqual([]);
  });

  it("a compile error fails the release with the compiler's message while the previous release keeps serving", async () => {
    let broken!: Deployed;
    const load = await loaded('rust-app', async () => {
      broken = await deploy(copyWith('rust-broken', (m) => m.replace('let count = served', 'let count = undefined_counter')));
    });
    expect(broken.r.exitCode, broken.text).toBe(1);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()]).toEqual(['v2']);
    expect(broken.text).toContain('cannot find value `undefined_counter` in this scope');
    const releases = await d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'rust-app']);
    expect(releases.find((x) => x.version === 'v3')).toMatchObject({ status: 'failed', message: expect.stringContaining('undefined_counter') });
    // cargo's JSON messages are for hop3, not for the person reading the build.
    expect(broken.text).not.toContain('{"reason":');
    expect((await d.get('rust-app.localhost')).body).toContain('rust-app v2');
  });

  it('refuses to guess which of several binaries is the web process, naming them', async () => {
    const dir = copyWith('rust-two-bins', (m) => m);
    const manifest = readFileSync(join(dir, 'Cargo.toml'), 'utf8');
    writeFileSync(join(dir, 'Cargo.toml'), manifest.replace('[dependencies]', '[[bin]]\nname = "api"\npath = "src/main.rs"\n\n[[bin]]\nname = "admin"\npath = "src/main.rs"\n\n[dependencies]'));
    const r = await d.hop3(['deploy', dir, '--app', 'rust-app']);
    expect(r.exitCode, output(r)).toBe(1);
    expect(output(r)).toMatch(/cargo built (api, admin|admin, api), and none is the one to run/);
    const releases = await d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'rust-app']);
    expect(releases.find((x) => x.version === 'v4')).toMatchObject({ status: 'failed' });
    expect((await d.get('rust-app.localhost')).body).toContain('rust-app v2');
  });
});

describe('hop3-server setup --runtimes', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'hop3-rust-setup-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuses an unknown runtime, listing the known ones, before it changes anything', async () => {
    const home = join(scratch, 'setup-home');
    const r = await execa(join(ROOT, 'bin', 'hop3-server'), ['setup', '--runtimes', 'rust,cobol'], { env: { HOP3_HOME: home }, reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('error: --runtimes: unknown runtime "cobol"; the runtimes are ');
    expect(r.stderr).toMatch(/the runtimes are [a-z, ]*\brust\b/);
    expect(existsSync(home)).toBe(false);
  });
});
