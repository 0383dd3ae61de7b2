import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { EXAMPLES } from './harness.js';
import { type Deployed, expectValidateNames, runtimeFixture } from './runtime-support.js';

describe('runtimes: ruby (rack) and php apps build, serve through the proxy and fail cleanly', () => {
  const { d, scratch, copyOf, deploy, loaded } = runtimeFixture('rack-php');

  it('hop3 validate names the builder each example gets', async () => {
    for (const [example, builder] of [['ruby-app', 'ruby'], ['php-app', 'php']] as const) await expectValidateNames(join(EXAMPLES, example), builder);
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

    let second!: Deployed;
    const load = await loaded('ruby-app', async () => {
      second = await deploy(join(EXAMPLES, 'ruby-app'), 'ruby-app');
    });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    expect((await d.get('ruby-app.localhost')).body).toContain('ruby-app v2');
    console.log(`ruby-app: first deploy ${first.seconds.toFixed(2)} s, second (under load: ${load.ok} requests, ${load.failures.length} failed) ${second.seconds.toFixed(2)} s`);
  });

  it('ruby: a syntax error in config.ru fails the new release before it takes traffic, with Ruby\'s message; the previous one keeps serving', async () => {
    const broken = copyOf('ruby-app', 'ruby-broken', { 'config.ru': `${readFileSync(join(EXAMPLES, 'ruby-app', 'config.ru'), 'utf8')}\nrun lambda { |env| [200, {}, [\n` });
    let failed!: Deployed;
    const load = await loaded('ruby-app', async () => {
      failed = await deploy(broken, 'ruby-app');
    });
    expect(failed.r.exitCode, failed.text).not.toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()]).toEqual(['v2']);
    const releases = await d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'ruby-app']);
    expect(releases.find((x) => x.version === 'v3')).toMatchObject({ status: 'failed', message: expect.stringMatching(/keeps exiting before it serves|health check .* did not answer 200/) });
    // Ruby's own words are in the process's log (the deploy prints the lines it catches of it).
    expect(readFileSync(join(d.home, 'apps', 'ruby-app', 'log', 'web.log'), 'utf8')).toMatch(/releases\/v3\/src\/config\.ru:\d+: syntax error/);
    expect((await d.get('ruby-app.localhost')).body).toContain('ruby-app v2');
  });

  it('ruby: a gem in vendor/cache is installed into the app\'s own GEM_HOME, with no network; a gem nowhere fails the build naming it', async () => {
    const gemSrc = join(scratch, 'hop3greet-src');
    mkdirSync(join(gemSrc, 'lib'), { recursive: true });
    writeFileSync(join(gemSrc, 'lib', 'hop3greet.rb'), "module Hop3Greet\n  def self.hello = 'and a gem from vendor/cache'\nend\n");
    writeFileSync(join(gemSrc, 'hop3greet.gemspec'), "Gem::Specification.new do |s|\n  s.name = 'hop3greet'\n  s.version = '1.0.0'\n  s.summary = 'test gem'\n  s.authors = ['hop3']\n  s.files = ['lib/hop3greet.rb']\nend\n");
    await execa('gem', ['build', 'hop3greet.gemspec'], { cwd: gemSrc });
    const config = readFileSync(join(EXAMPLES, 'ruby-app', 'config.ru'), 'utf8')
      .replace("require 'rack'", "require 'rack'\nrequire 'hop3greet'")
      .replace('on Ruby #{RUBY_VERSION}', 'on Ruby #{RUBY_VERSION} #{Hop3Greet.hello}');
    const dir = copyOf('ruby-app', 'ruby-vendored', { Gemfile: "source 'https://rubygems.org'\ngem 'rack'\ngem 'hop3greet'\n", 'config.ru': config });
    mkdirSync(join(dir, 'vendor', 'cache'), { recursive: true });
    cpSync(join(gemSrc, 'hop3greet-1.0.0.gem'), join(dir, 'vendor', 'cache', 'hop3greet-1.0.0.gem'));
    const { r, text } = await deploy(dir, 'ruby-vendored');
    expect(r.exitCode, text).toBe(0);
    expect(text).toContain('Installing hop3greet 1.0.0');
    const gemHomes = readdirSync(join(d.home, 'apps', 'ruby-vendored', 'gems'));
    expect(gemHomes).toEqual([expect.stringMatching(/^ruby-\d+\.\d+$/)]);
    expect(statSync(join(d.home, 'apps', 'ruby-vendored', 'gems', gemHomes[0]!, 'gems', 'hop3greet-1.0.0', 'lib', 'hop3greet.rb')).isFile()).toBe(true);
    expect((await d.get('ruby-vendored.localhost')).body).toMatch(/^<h1>Hello from ruby-vendored v1 on Ruby [\d.]+ and a gem from vendor\/cache<\/h1>/);

    const missing = copyOf('ruby-app', 'ruby-missing-gem', { Gemfile: "source 'https://rubygems.org'\ngem 'rack'\ngem 'no-such-gem-hop3'\n" });
    const failed = await deploy(missing, 'ruby-vendored');
    expect(failed.r.exitCode).toBe(1);
    expect(failed.text).toMatch(/bundle install --local failed \(exit \d+\):[\s\S]*Could not find gem 'no-such-gem-hop3'/);
    expect((await d.get('ruby-vendored.localhost')).body).toContain('ruby-vendored v1');
  });

  it('php: index.php and its vendored library through the php plugin; redeploys with no failed request', async () => {
    const first = await deploy(join(EXAMPLES, 'php-app'), 'php-app');
    expect(first.r.exitCode, first.text).toBe(0);
    expect(first.text).toContain('composer.json: 1 package from vendor/');
    const page = await d.get('php-app.localhost', '/some/route');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^<h1>Hello from php-app v1 on PHP 8\.\d+\.\d+<\/h1>\n<p>You asked for \/some\/route<\/p>\n<p>greeted by hop3\/greet 1\.0\.0<\/p>\n$/);
    expect((await d.get('php-app.localhost', '/assets/style.css')).body).toContain('font-family');

    let second!: Deployed;
    const load = await loaded('php-app', async () => {
      second = await deploy(join(EXAMPLES, 'php-app'), 'php-app');
    });
    expect(second.r.exitCode, second.text).toBe(0);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()].sort()).toEqual(['v1', 'v2']);
    console.log(`php-app: first deploy ${first.seconds.toFixed(2)} s, second (under load: ${load.ok} requests, ${load.failures.length} failed) ${second.seconds.toFixed(2)} s`);
  });

  it('php: a parse error in index.php fails the build with PHP\'s message; one in a file it includes fails the health gate; v2 keeps serving', async () => {
    const index = readFileSync(join(EXAMPLES, 'php-app', 'index.php'), 'utf8');
    let lint!: Deployed;
    const load = await loaded('php-app', async () => {
      lint = await deploy(copyOf('php-app', 'php-parse', { 'index.php': index.replace("echo '<p>You", "echo '<p>You' .. ") }), 'php-app');
    });
    expect(lint.r.exitCode).toBe(1);
    expect(load.failures).toEqual([]);
    expect([...load.releases.keys()]).toEqual(['v2']);
    expect(lint.text).toMatch(/Parse error: syntax error, unexpected token "\." in index\.php on line 13/);
    const releases = () => d.json<Array<{ version: string; status: string; message: string }>>(['releases', 'php-app']);
    expect((await releases()).find((x) => x.version === 'v3')).toMatchObject({ status: 'failed', message: expect.stringContaining('php -l index.php failed') });

    const included = copyOf('php-app', 'php-include', {
      'index.php': index.replace("require __DIR__ . '/vendor/autoload.php';", "require __DIR__ . '/vendor/autoload.php';\nrequire __DIR__ . '/helpers.php';"),
      'helpers.php': '<?php\nfunction helper( {\n',
    });
    let gate!: Deployed;
    const load2 = await loaded('php-app', async () => {
      gate = await deploy(included, 'php-app');
    });
    expect(gate.r.exitCode).not.toBe(0);
    expect(load2.failures).toEqual([]);
    expect([...load2.releases.keys()]).toEqual(['v2']);
    expect((await releases()).find((x) => x.version === 'v4')).toMatchObject({ status: 'failed', message: expect.stringMatching(/health check/i) });
    expect((await d.get('php-app.localhost')).body).toContain('php-app v2');
  });

  it('php: composer.json requiring a package with no vendor/ fails the build saying so; the running release is untouched', async () => {
    const dir = copyOf('php-app', 'php-unvendored');
    rmSync(join(dir, 'vendor'), { recursive: true });
    const { r, text } = await deploy(dir, 'php-app');
    expect(r.exitCode).toBe(1);
    expect(text).toContain('composer.json requires hop3/greet, and there is no vendor/autoload.php');
    expect(text).toContain('commit vendor/');
    expect((await d.get('php-app.localhost')).body).toContain('php-app v2');
  });

  it('php: scripts open no file outside their release (not another app\'s run file), start no program, and no file but a .php is served', async () => {
    const otherRunFile = join(d.home, 'apps', 'php-app', 'releases', 'v2', 'run', 'web.json');
    expect(readFileSync(otherRunFile, 'utf8')).toContain('HOP3_APP');
    const dir = join(scratch, 'php-nosy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.php'), `<?php
header('Content-Type: text/plain');
if (($_SERVER['REQUEST_URI'] ?? '/') === '/') { echo "Hello\\n"; return; }
$tries = [
  'passwd' => fn () => @file_get_contents('/etc/passwd'),
  'other app' => fn () => @file_get_contents(${JSON.stringify(otherRunFile)}),
  'hop3.db' => fn () => @file_get_contents(${JSON.stringify(join(d.home, 'hop3.db'))}),
  'glob' => fn () => implode(',', glob(${JSON.stringify(`${join(d.home, 'apps')}/*`)}) ?: []),
  'shell_exec' => fn () => @shell_exec('cat /etc/passwd'),
  'ini_set' => fn () => (@ini_set('open_basedir', '/') === false ? '' : @file_get_contents('/etc/passwd')),
  // The sendmail shell would start with what putenv set (LD_PRELOAD): mail and error_log are gone.
  'mail' => fn () => function_exists('mail') ? 'present' : '',
  'error_log' => fn () => function_exists('error_log') ? 'present' : '',
  'posix_kill' => fn () => function_exists('posix_kill') && posix_kill(${process.pid}, 0) ? 'signalled' : '',
  // open_basedir does not cover unix sockets (the proxy's admin socket, the addon servers'): none is opened.
  'socket' => fn () => implode(',', array_filter(['stream_socket_client', 'fsockopen', 'pfsockopen', 'socket_create'], 'function_exists')),
  // Native code through FFI would step around everything above.
  'ffi' => fn () => class_exists('FFI') ? (string) FFI::cdef('int getpid(void);')->getpid() : '',
  // Nothing of the daemon's environment: the run file's, and what uWSGI and the loader need.
  'foreign env' => fn () => implode(',', array_filter(
    array_diff(array_keys(getenv()), array_keys(json_decode(file_get_contents(getenv('HOP3_RUN_FILE')), true)['env']), ['HOP3_RUN_FILE']),
    fn ($k) => !str_starts_with($k, 'UWSGI_'),
  )),
];
foreach ($tries as $name => $try) {
  try { $got = $try(); } catch (Throwable $e) { $got = ''; }
  echo $name, ': ', ($got === false || $got === null || $got === '') ? 'refused' : 'GOT ' . substr((string) $got, 0, 40), "\\n";
}
`);
    // What the app ships to loosen PHP: read by PHP's embed SAPI from the working directory, unless told otherwise.
    writeFileSync(join(dir, 'php.ini'), 'open_basedir =\ndisable_functions =\n');
    writeFileSync(join(dir, '.user.ini'), 'open_basedir =\n');
    writeFileSync(join(dir, 'ENV'), 'SECRET_TOKEN=do-not-serve\n');
    writeFileSync(join(dir, 'config.inc'), '<?php $password = "do-not-serve";\n');
    writeFileSync(join(dir, 'index.php.bak'), '<?php $password = "do-not-serve";\n');
    writeFileSync(join(dir, 'composer.json'), '{"name": "x/do-not-serve"}\n');
    writeFileSync(join(dir, 'hop3.toml'), '[metadata]\ntitle = "do-not-serve"\n');
    const { r, text } = await deploy(dir, 'php-nosy');
    expect(r.exitCode, text).toBe(0);
    const page = await d.get('php-nosy.localhost', '/try');
    expect(page.status).toBe(200);
    expect(page.body).toBe(['passwd', 'other app', 'hop3.db', 'glob', 'shell_exec', 'ini_set', 'mail', 'error_log', 'posix_kill', 'socket', 'ffi', 'foreign env'].map((n) => `${n}: refused\n`).join(''));
    for (const path of ['/ENV', '/config.inc', '/index.php.bak', '/composer.json', '/php.ini', '/.user.ini', '/hop3.toml']) {
      const got = await d.get('php-nosy.localhost', path);
      expect(got.body, path).not.toContain('do-not-serve');
      expect(got.body, path).not.toContain('open_basedir');
      expect(got.status, path).not.toBe(200);
    }
  });
});
