import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import {
  assertValidSpec,
  detectBuilder,
  formatIssue,
  isValidDomain,
  loadAppDir,
  parseAppSpec,
  parseEnvFile,
  parseProcfile,
  MAX_PROCESSES,
  validateAppName,
  validateDomain,
  validateEnvEntry,
  type AppSpec,
  type SpecFiles,
} from '../../src/manifest/index.js';

/** The spec of an app that sets nothing beyond its processes. */
function defaults(overrides: Partial<AppSpec>): AppSpec {
  return {
    name: null,
    metadata: {},
    build: { builder: 'auto', before: [] },
    run: { workers: 2, beforeRun: [], maxBodyBytes: 10485760 },
    static: { paths: [], maxAge: 3600 },
    tls: { mode: 'auto', httpsOnly: false, hsts: false },
    processes: [],
    env: {},
    domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 },
    addons: [],
    ...overrides,
  };
}

function thrown(fn: () => unknown): Hop3Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    return err as Hop3Error;
  }
  throw new Error('expected a throw');
}

const FULL_TOML = `
[metadata]
id = "blog"
version = "1.2.0"
title = "My blog"
description = "A small blog"
author = "Ann <ann@example.com>"
license = "MIT"
url = "https://example.com/blog"

[build]
builder = "python"
before-build = ["npm ci", "npm run build"]

[run]
start = "blog.wsgi:application"
before-run = ["python manage.py migrate"]
workers = 4

[env]
DEBUG = "0"
GREETING = "hello world"

[domains]
names = ["blog.example.com", "*.example.org"]

[healthcheck]
path = "/health"
timeout = 30
expect-status = 204

[[addons]]
type = "postgres"

[[addons]]
type = "redis"
name = "cache"
env = "CACHE_URL"
`;

describe('parseAppSpec: valid apps', () => {
  const cases: Array<{ name: string; files: SpecFiles; spec: AppSpec }> = [
    {
      name: 'hop3.toml with every section',
      files: { 'hop3.toml': FULL_TOML, Procfile: 'worker: python worker.py\nrelease: python seed.py\n' },
      spec: {
        name: 'blog',
        metadata: {
          version: '1.2.0',
          title: 'My blog',
          description: 'A small blog',
          author: 'Ann <ann@example.com>',
          license: 'MIT',
          url: 'https://example.com/blog',
        },
        build: { builder: 'python', before: ['npm ci', 'npm run build'] },
        run: { workers: 4, beforeRun: ['python manage.py migrate', 'python seed.py'], maxBodyBytes: 10485760 },
        static: { paths: [], maxAge: 3600 },
        tls: { mode: 'auto', httpsOnly: false, hsts: false },
        processes: [
          { name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' },
          { name: 'worker', kind: 'worker', command: 'python worker.py' },
        ],
        env: { DEBUG: '0', GREETING: 'hello world' },
        domains: ['blog.example.com', '*.example.org'],
        healthcheck: { path: '/health', timeout: 30, expectStatus: 204 },
        addons: [
          { type: 'postgres', name: 'postgres' },
          { type: 'redis', name: 'cache', env: 'CACHE_URL' },
        ],
      },
    },
    {
      name: 'Procfile only',
      files: { Procfile: '# comment\n\nweb: gunicorn app:app --bind :$PORT\r\nworker: python worker.py\n' },
      spec: defaults({
        processes: [
          { name: 'web', kind: 'web', command: 'gunicorn app:app --bind :$PORT' },
          { name: 'worker', kind: 'worker', command: 'python worker.py' },
        ],
      }),
    },
    {
      name: 'ENV overlays [env]',
      files: {
        'hop3.toml': '[run]\nstart = "./serve.sh"\n[env]\nA = "1"\nB = "2"\n',
        ENV: '# local\nB=3\nexport C="x\\ny"\n',
      },
      spec: defaults({
        processes: [{ name: 'web', kind: 'web', command: './serve.sh' }],
        env: { A: '1', B: '3', C: 'x\ny' },
      }),
    },
    {
      name: 'cron and a suffixed worker',
      files: { Procfile: 'cron: */5 0 1,15 * 1-5 python tick.py  --all\nworker-mail: python mail.py\n' },
      spec: defaults({
        processes: [
          { name: 'cron', kind: 'cron', schedule: '*/5 0 1,15 * 1-5', command: 'python tick.py  --all' },
          { name: 'worker-mail', kind: 'worker', command: 'python mail.py' },
        ],
      }),
    },
    {
      name: '[run] static',
      files: { 'hop3.toml': '[run]\nstatic = "site/public"\n' },
      spec: defaults({ processes: [{ name: 'static', kind: 'static', command: 'site/public' }] }),
    },
    {
      name: '[static] paths, [run] max-body-size and [tls]',
      files: {
        'hop3.toml': '[run]\nstart = "app:app"\nmax-body-size = "50m"\n[static]\npaths = { "/static" = "public/static/", "/media/" = "./uploads", "/all" = "." }\nmax-age = 86400\n[tls]\nmode = "acme"\nhttps-only = true\nhsts = true\n',
      },
      spec: defaults({
        processes: [{ name: 'wsgi', kind: 'wsgi', command: 'app:app' }],
        run: { workers: 2, beforeRun: [], maxBodyBytes: 50 * 1024 * 1024 },
        static: { paths: [{ prefix: '/static/', dir: 'public/static' }, { prefix: '/media/', dir: 'uploads' }, { prefix: '/all/', dir: '.' }], maxAge: 86400 },
        tls: { mode: 'acme', httpsOnly: true, hsts: true },
      }),
    },
    {
      name: 'sizes in bytes, KiB and GiB; [static.paths] as a table; [tls] off',
      files: { 'hop3.toml': '[run]\nstatic = "public"\nmax-body-size = "512K"\n[static.paths]\n"/a/b" = "x"\n[tls]\nmode = "off"\n' },
      spec: defaults({
        processes: [{ name: 'static', kind: 'static', command: 'public' }],
        run: { workers: 2, beforeRun: [], maxBodyBytes: 512 * 1024 },
        static: { paths: [{ prefix: '/a/b/', dir: 'x' }], maxAge: 3600 },
        tls: { mode: 'off', httpsOnly: false, hsts: false },
      }),
    },
    {
      name: 'a bare module in [run] start is a wsgi entry',
      files: { 'hop3.toml': '[run]\nstart = "app"\n' },
      spec: defaults({ processes: [{ name: 'wsgi', kind: 'wsgi', command: 'app' }] }),
    },
  ];

  it.each(cases)('$name', ({ files, spec }) => {
    expect(parseAppSpec(files)).toEqual({ spec, issues: [] });
  });
});

describe('parseAppSpec: invalid apps', () => {
  const toml = (text: string): SpecFiles => ({ 'hop3.toml': text });
  const domain = (name: string) => toml(`[domains]\nnames = [${JSON.stringify(name)}]\n`);
  const cases: Array<{ name: string; files: SpecFiles; issue: Record<string, unknown> }> = [
    { name: 'no hop3.toml or Procfile', files: { ENV: 'A=1' }, issue: { file: '.', message: 'no hop3.toml or Procfile (nor a go.mod, Cargo.toml, package.json, config.ru, index.php or index.html, which say what to run)' } },
    { name: 'malformed TOML', files: toml('[run]\nworkers = 2\nstart = "abc\n'), issue: { file: 'hop3.toml', line: 3 } },
    {
      name: 'unknown section',
      files: toml('[metadata]\nid = "x"\n\n[deploy]\nfoo = 1\n'),
      issue: { key: 'deploy', line: 4, message: 'unknown section [deploy]', hint: expect.stringContaining('healthcheck') },
    },
    {
      name: 'typo in a key',
      files: toml('[run]\nworkers = 2\nstrat = "app:app"\n'),
      issue: { key: 'run.strat', line: 3, hint: expect.stringMatching(/^did you mean "start"\? \[run\] accepts: start, before-run/) },
    },
    {
      name: 'typo swapping two letters of a short key',
      files: toml('[healthcheck]\npaht = "/"\n'),
      issue: { key: 'healthcheck.paht', hint: expect.stringContaining('did you mean "path"?') },
    },
    {
      name: 'line of a key after a multi-line string that looks like TOML',
      files: toml('[metadata]\ndescription = """\n[run]\nworkers = 1\n"""\n[run]\nworkers = 99\n'),
      issue: { key: 'run.workers', line: 7 },
    },
    {
      name: 'unknown key with no close match',
      files: toml('[healthcheck]\nzzzzzz = 1\n'),
      issue: { key: 'healthcheck.zzzzzz', line: 2, hint: expect.not.stringContaining('did you mean') },
    },
    {
      name: 'string where an integer belongs',
      files: toml('[run]\nworkers = "3"\n'),
      issue: { key: 'run.workers', line: 2, message: 'must be an integer between 1 and 64' },
    },
    { name: 'workers out of range', files: toml('[run]\nworkers = 65\n'), issue: { key: 'run.workers', message: 'must be an integer between 1 and 64' } },
    { name: 'builder not in enum', files: toml('[build]\nbuilder = "cobol"\n'), issue: { key: 'build.builder', line: 2, message: 'must be one of "auto", "python", "static", "node", "go", "rust", "ruby", "php", "generic"' } },
    { name: 'string where an array belongs', files: toml('[run]\nbefore-run = "make"\n'), issue: { key: 'run.before-run', message: 'must be an array' } },
    { name: 'section that is not a table', files: toml('run = 3\n'), issue: { key: 'run', line: 1, message: 'must be a table' } },
    { name: 'timeout too small', files: toml('[healthcheck]\ntimeout = 0\n'), issue: { key: 'healthcheck.timeout', message: 'must be an integer between 1 and 600' } },
    {
      name: 'env value as number',
      files: toml('[env]\nA = "x"\nPORT = 8080\n'),
      issue: { key: 'env.PORT', line: 3, message: 'must be a string', hint: expect.stringContaining('PORT = "8080"') },
    },
    { name: 'env value as boolean', files: toml('[env]\nDEBUG = true\n'), issue: { key: 'env.DEBUG', hint: expect.stringContaining('DEBUG = "true"') } },
    { name: 'bad env key', files: toml('[env]\n"foo-bar" = "x"\n'), issue: { key: 'env.foo-bar', line: 2, message: '"foo-bar" is not a valid environment variable name' } },
    { name: 'env value with NUL', files: toml('[env]\nA = "a\\u0000b"\n'), issue: { key: 'env.A', line: 2, message: expect.stringContaining('not a valid environment value') } },
    { name: 'env value too long', files: toml(`[env]\nA = "${'x'.repeat(32769)}"\n`), issue: { key: 'env.A', message: 'must be at most 32768 characters' } },
    { name: 'domain with newline', files: toml('[domains]\nnames = ["a.com\\nserver_name evil"]\n'), issue: { key: 'domains.names[0]', line: 2 } },
    { name: 'domain with ;', files: domain('a.com;'), issue: { key: 'domains.names[0]', message: '"a.com;" is not a valid domain name' } },
    { name: 'domain with {', files: domain('a{b}.com'), issue: { key: 'domains.names[0]' } },
    { name: 'domain with space', files: domain('a b.com'), issue: { key: 'domains.names[0]' } },
    { name: 'domain in uppercase', files: domain('Example.com'), issue: { key: 'domains.names[0]' } },
    { name: 'domain of 300 chars', files: domain(`${'a'.repeat(60)}.`.repeat(5).slice(0, 300)), issue: { key: 'domains.names[0]', message: 'must be at most 253 characters' } },
    { name: 'duplicate domain', files: toml('[domains]\nnames = ["a.com", "b.com", "a.com"]\n'), issue: { key: 'domains.names[2]', message: '"a.com" is listed twice' } },
    { name: 'healthcheck path with space', files: toml('[healthcheck]\npath = "/a b"\n'), issue: { key: 'healthcheck.path', line: 2, message: '"/a b" is not a valid URL path' } },
    { name: 'healthcheck path with {', files: toml('[healthcheck]\npath = "/a{b}"\n'), issue: { key: 'healthcheck.path' } },
    { name: 'healthcheck path not starting with /', files: toml('[healthcheck]\npath = "health"\n'), issue: { key: 'healthcheck.path' } },
    {
      name: 'addon of an unknown type (second [[addons]])',
      files: toml('[[addons]]\ntype = "redis"\n\n[[addons]]\nname = "docs"\ntype = "mongo"\n'),
      issue: { key: 'addons[1].type', line: 6, message: 'must be one of "postgres", "mysql", "redis"' },
    },
    { name: 'addon without a type', files: toml('[[addons]]\nname = "db"\n'), issue: { key: 'addons[0].type', line: 1, message: 'is required' } },
    { name: 'addon env that is no variable name', files: toml('[[addons]]\ntype = "redis"\nenv = "A-B"\n'), issue: { key: 'addons[0].env', line: 3 } },
    { name: 'duplicate addon names', files: toml('[[addons]]\ntype = "redis"\n[[addons]]\ntype = "redis"\n'), issue: { key: 'addons[1].name', line: 3 } },
    { name: 'bad metadata id', files: toml('[metadata]\nid = "My_App"\n'), issue: { key: 'metadata.id', line: 2, message: '"My_App" is not a valid name' } },
    { name: 'max-body-size without a number', files: toml('[run]\nmax-body-size = "m"\n'), issue: { key: 'run.max-body-size', line: 2, message: '"m" is not a valid size' } },
    { name: 'max-body-size with a unit nginx lacks', files: toml('[run]\nmax-body-size = "10mb"\n'), issue: { key: 'run.max-body-size', message: '"10mb" is not a valid size' } },
    { name: 'max-body-size of 0 (unlimited in nginx)', files: toml('[run]\nmax-body-size = "0"\n'), issue: { key: 'run.max-body-size' } },
    { name: 'max-body-size as a number', files: toml('[run]\nmax-body-size = 1048576\n'), issue: { key: 'run.max-body-size', message: 'must be a string' } },
    { name: 'max-body-size over 4g', files: toml('[run]\nmax-body-size = "5g"\n'), issue: { key: 'run.max-body-size', line: 2, message: '"5g" is more than 4g' } },
    { name: 'static prefix /', files: toml('[static]\npaths = { "/" = "public" }\n'), issue: { key: 'static.paths./', line: 2, message: '"/" is not a valid URL prefix' } },
    { name: 'static prefix without /', files: toml('[static]\npaths = { "static" = "public" }\n'), issue: { key: 'static.paths.static', message: '"static" is not a valid URL prefix' } },
    { name: 'static prefix with a dot', files: toml('[static]\npaths = { "/.well-known" = "public" }\n'), issue: { key: 'static.paths./.well-known' } },
    { name: 'static prefix with a brace', files: toml('[static]\npaths = { "/s{" = "public" }\n'), issue: { key: 'static.paths./s{' } },
    { name: 'static directory out of the app', files: toml('[static]\npaths = { "/s" = "../etc" }\n'), issue: { key: 'static.paths./s', line: 2, message: '"../etc" is not a valid relative directory' } },
    { name: 'static directory absolute', files: toml('[static.paths]\n"/s" = "/etc"\n'), issue: { key: 'static.paths./s', line: 2 } },
    { name: 'static directory with a ;', files: toml('[static.paths]\n"/s" = "a;b"\n'), issue: { key: 'static.paths./s' } },
    { name: 'one static prefix twice', files: toml('[static]\npaths = { "/s" = "a", "/s/" = "b" }\n'), issue: { key: 'static.paths./s/', line: 2, message: '"/s/" is the same prefix as "/s"' } },
    { name: 'static max-age negative', files: toml('[static]\nmax-age = -1\n'), issue: { key: 'static.max-age', message: 'must be an integer between 0 and 31536000' } },
    { name: 'unknown key in [static]', files: toml('[static]\npath = {}\n'), issue: { key: 'static.path', hint: expect.stringContaining('did you mean "paths"?') } },
    { name: 'tls mode not in enum', files: toml('[tls]\nmode = "letsencrypt"\n'), issue: { key: 'tls.mode', line: 2, message: 'must be one of "auto", "acme", "self-signed", "off"' } },
    { name: 'tls https-only as a string', files: toml('[tls]\nhttps-only = "yes"\n'), issue: { key: 'tls.https-only', line: 2, message: 'must be true or false' } },
    { name: 'https-only with tls off', files: toml('[tls]\nmode = "off"\nhttps-only = true\n'), issue: { key: 'tls.https-only', line: 3, message: 'needs HTTPS, but [tls] mode is "off"' } },
    { name: 'hsts with tls off', files: toml('[tls]\nmode = "off"\nhsts = true\n'), issue: { key: 'tls.hsts', line: 3 } },
    { name: '[run] static escaping the app', files: toml('[run]\nstatic = "../etc"\n'), issue: { key: 'run.static', line: 2 } },
    {
      name: '[run] start and [run] static',
      files: toml('[run]\nstart = "app:app"\nstatic = "public"\n'),
      issue: { key: 'run.static', line: 3, message: '[run] start and [run] static both serve HTTP' },
    },
    {
      name: '[run] start and a Procfile web',
      files: { 'hop3.toml': '[run]\nstart = "app:app"\n', Procfile: 'worker: w\nweb: gunicorn app:app\n' },
      issue: { file: 'hop3.toml', key: 'run.start', line: 2, message: '[run] start and Procfile "web" (line 2) both serve HTTP' },
    },
    {
      name: 'duplicate Procfile names',
      files: { Procfile: 'web: a\nworker: b\nworker: c\n' },
      issue: { file: 'Procfile', key: 'worker', line: 3, message: 'process worker is already defined on line 2' },
    },
    {
      name: 'unknown Procfile kind',
      files: { Procfile: 'web: a\nclock: python clock.py\n' },
      issue: { file: 'Procfile', line: 2, message: 'unknown process kind "clock"', hint: expect.stringContaining('web, wsgi, worker, static, release, cron') },
    },
    { name: 'two HTTP processes in the Procfile', files: { Procfile: 'web: a\nwsgi: app:app\n' }, issue: { file: 'Procfile', key: 'wsgi', line: 2 } },
    { name: 'cron with four fields', files: { Procfile: 'cron: * * * * python x.py\n' }, issue: { file: 'Procfile', key: 'cron', line: 1 } },
    { name: 'cron with a bad field', files: { Procfile: 'cron: 5 * ? * * python x.py\n' }, issue: { file: 'Procfile', key: 'cron', line: 1 } },
    { name: 'wsgi that is a command', files: { Procfile: 'wsgi: gunicorn app:app\n' }, issue: { file: 'Procfile', key: 'wsgi', message: expect.stringContaining('WSGI') } },
    { name: 'static outside the app', files: { Procfile: 'static: /var/www\n' }, issue: { file: 'Procfile', key: 'static' } },
    { name: 'Procfile line without a colon', files: { Procfile: 'web: a\njust text\n' }, issue: { file: 'Procfile', line: 2 } },
    { name: 'empty Procfile command', files: { Procfile: 'web:\n' }, issue: { file: 'Procfile', key: 'web', message: 'process web has no command' } },
    { name: 'bad ENV line', files: { Procfile: 'web: a', ENV: 'A=1\nnot an assignment\n' }, issue: { file: 'ENV', line: 2 } },
    { name: 'bad ENV key', files: { Procfile: 'web: a', ENV: '1A=1\n' }, issue: { file: 'ENV', key: '1A', line: 1 } },
  ];

  it.each(cases)('$name', ({ files, issue }) => {
    const result = parseAppSpec(files);
    expect(result.spec).toBeNull();
    expect(result.issues).toContainEqual(expect.objectContaining(issue));
  });

  it('reports every problem of a file, in line order', () => {
    const { issues } = parseAppSpec(toml('[run]\nworkers = 0\n[env]\nX = 1\n[foo]\n'));
    expect(issues.map((i) => [i.key, i.line])).toEqual([
      ['run.workers', 2],
      ['env.X', 4],
      ['foo', 5],
    ]);
  });
});

describe('app names, domains and env entries', () => {
  it.each(['My_App', '-x', 'x-', 'a..b', 'a'.repeat(64), '../etc', '', 'a b', 'app\n'])('refuses app name %j', (name) => {
    expect(thrown(() => validateAppName(name)).code).toBe('APP_NAME_INVALID');
  });

  it('says what is wrong with an app name or a variable name in plain words, with a hint', () => {
    expect(thrown(() => validateAppName('Foo'))).toMatchObject({ message: '"Foo" is not a valid app name', hint: expect.stringContaining('lowercase letters, digits and dashes') });
    expect(thrown(() => validateEnvEntry('BAD-KEY', '1'))).toMatchObject({
      message: '"BAD-KEY" is not a valid environment variable name',
      hint: expect.stringContaining('letters, digits and underscores, not starting with a digit'),
    });
    expect(thrown(() => validateAppName(`${'x'.repeat(200)}`)).message).toBe(`"${'x'.repeat(78)}… is not a valid app name`);
  });

  it.each(['a', '0', 'my-app', 'app2', 'a'.repeat(63)])('accepts app name %j', (name) => {
    expect(() => validateAppName(name)).not.toThrow();
  });

  it.each(['example.com', '*.example.com', 'localhost', 'a-b.c0.io', `${'a'.repeat(63)}.com`])('accepts domain %j', (d) => {
    expect(isValidDomain(d)).toBe(true);
    expect(() => validateDomain(d)).not.toThrow();
  });

  it.each(['Example.com', 'a.com\n', 'a.com;', 'a{b}.com', 'a b.com', '-a.com', 'a..com', '*.', 'a.*.com', `${'a'.repeat(64)}.com`, `${'abc.'.repeat(75)}com`])(
    'refuses domain %j',
    (d) => {
      expect(isValidDomain(d)).toBe(false);
      expect(thrown(() => validateDomain(d)).code).toBe('DOMAIN_INVALID');
    },
  );

  it.each([
    ['1A', 'x', '1A'],
    ['A-B', 'x', 'A-B'],
    ['A', 'a\0b', 'A'],
    ['LONG', 'x'.repeat(32769), 'LONG'],
  ])('refuses env entry %j', (key, value, named) => {
    const err = thrown(() => validateEnvEntry(key, value));
    expect(err.code).toBe('ENV_INVALID');
    expect(err.message).toContain(named);
  });

  it('accepts env values with any character but NUL', () => {
    expect(() => validateEnvEntry('_X1', 'a\nb "c" $d ${e} \u00e9'.padEnd(32768, '.'))).not.toThrow();
  });
});

describe('parseProcfile', () => {
  it('refuses more than MAX_PROCESSES processes, naming the line past the bound', () => {
    const lines = Array.from({ length: MAX_PROCESSES + 1 }, (_, k) => `worker-w${k}: run ${k}`).join('\n');
    const parsed = parseProcfile(`${lines}\n`);
    expect(parsed.processes).toHaveLength(MAX_PROCESSES);
    expect(parsed.issues).toEqual([expect.objectContaining({ file: 'Procfile', line: MAX_PROCESSES + 1, message: `more than ${MAX_PROCESSES} processes` })]);
  });

  it('keeps release lines apart and remembers line numbers', () => {
    const parsed = parseProcfile('release: migrate\n\nworker: w\nrelease-seed: seed\n');
    expect(parsed.release).toEqual(['migrate', 'seed']);
    expect(parsed.processes).toEqual([{ name: 'worker', kind: 'worker', command: 'w' }]);
    expect(parsed.lines.get('worker')).toBe(3);
    expect(parsed.issues).toEqual([]);
  });
});

describe('parseEnvFile', () => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ['plain', 'A=1\nB = two words \n', { A: '1', B: 'two words' }],
    ['export prefix and comments', '# c\nexport A=1\n\n  # d\n', { A: '1' }],
    ['single quotes are literal', "A='x\\ny \"z\"'", { A: 'x\\ny "z"' }],
    ['double quote escapes', 'A="a\\nb \\"q\\" \\\\ \\d"', { A: 'a\nb "q" \\ \\d' }],
    ['later lines win', 'A=1\nA=2\n', { A: '2' }],
    ['empty value', 'A=\nB=""\n', { A: '', B: '' }],
    ['hash inside a value', 'A=a#b\n', { A: 'a#b' }],
  ];
  it.each(cases)('%s', (_name, text, env) => {
    const parsed = parseEnvFile(text);
    expect(parsed.issues).toEqual([]);
    expect(Object.fromEntries(parsed.env)).toEqual(env);
  });

  it.each([
    ['unterminated double quote', 'A=1\nB="abc\n', 2],
    ['text after the closing quote', "A='x' y\n", 1],
    ['no equals sign', 'A=1\n\nJUST_A_KEY\n', 3],
  ])('reports %s with its line', (_name, text, line) => {
    expect(parseEnvFile(text).issues).toEqual([expect.objectContaining({ file: 'ENV', line })]);
  });
});

describe('formatIssue and assertValidSpec', () => {
  it('formats file, line, key, message and hint', () => {
    expect(formatIssue({ file: 'hop3.toml', line: 12, key: 'run.workers', message: 'must be an integer between 1 and 64', hint: 'e.g. 4' })).toBe(
      'hop3.toml:12: run.workers: must be an integer between 1 and 64 (hint: e.g. 4)',
    );
    expect(formatIssue({ file: '.', message: 'no hop3.toml or Procfile' })).toBe('.: no hop3.toml or Procfile');
  });

  it('returns the spec when there are no issues', () => {
    const result = parseAppSpec({ Procfile: 'web: a' });
    expect(assertValidSpec(result)).toBe(result.spec);
  });

  it('throws SPEC_INVALID with every issue', () => {
    const result = { ...parseAppSpec({ 'hop3.toml': '[run]\nworkers = 0\nstrat = "x"\n' }), dir: '/srv/app' };
    const err = thrown(() => assertValidSpec(result));
    expect(err.code).toBe('SPEC_INVALID');
    expect(err.message).toBe('2 problems in /srv/app');
    expect(err.details).toBe(result.issues);
    expect(err.hint).toContain('hop3.toml:3: run.strat: unknown key "strat" in [run]');
  });
});

describe('detectBuilder', () => {
  const spec = (builder: AppSpec['build']['builder'], procfile: string) => {
    const result = parseAppSpec({ Procfile: procfile });
    return { ...assertValidSpec(result), build: { builder, before: [] } };
  };
  const cases: Array<[string, AppSpec, string[], string]> = [
    ['explicit builder wins', spec('static', 'wsgi: app:app'), ['requirements.txt'], 'static'],
    ['static process', spec('auto', 'static: public\nworker: w'), ['requirements.txt'], 'static'],
    ['index.html and no code', spec('auto', 'worker: w'), ['index.html'], 'static'],
    ['index.html but a web process', spec('auto', 'web: ./serve'), ['index.html', 'requirements.txt'], 'python'],
    ['wsgi process', spec('auto', 'wsgi: app:app'), [], 'python'],
    ['requirements.txt', spec('auto', 'web: gunicorn app:app'), ['requirements.txt'], 'python'],
  ];
  it.each(cases)('%s', (_name, s, files, builder) => {
    expect(detectBuilder(s, (rel) => files.includes(rel))).toBe(builder);
  });

  it('throws BUILDER_UNKNOWN when nothing tells', () => {
    expect(thrown(() => detectBuilder({ ...spec('auto', 'web: ./serve'), processes: [] }, () => false)).code).toBe('BUILDER_UNKNOWN');
  });
});

describe('loadAppDir', () => {
  const root = mkdtempSync(join(tmpdir(), 'hop3-spec-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const app = (name: string, files: Record<string, string>) => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };

  it('reads hop3.toml, Procfile and ENV', () => {
    const dir = app('good', { 'hop3.toml': '[env]\nA = "1"\n', Procfile: 'web: ./serve', ENV: 'B=2', 'requirements.txt': '' });
    const result = loadAppDir(dir);
    expect(result.issues).toEqual([]);
    expect(result.spec?.env).toEqual({ A: '1', B: '2' });
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: './serve' }]);
  });

  it('refuses a [static] paths directory that resolves outside the app, naming it', () => {
    const dir = app('static-escape', { 'hop3.toml': '[run]\nstart = "app:app"\n[static]\npaths = { "/static" = "public" }\n', 'requirements.txt': '' });
    symlinkSync('/etc', join(dir, 'public'));
    const result = loadAppDir(dir);
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({ file: '.', message: '[static] paths "/static" -> public resolves outside the app: /etc' })]);
  });

  it('refuses a hop3.toml symlinked outside the app', () => {
    const outside = join(root, 'secret.toml');
    writeFileSync(outside, '[run]\nstart = "app:app"\n');
    const dir = app('escape', { Procfile: 'web: a' });
    symlinkSync(outside, join(dir, 'hop3.toml'));
    const result = loadAppDir(dir);
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({ file: 'hop3.toml', message: 'is a symlink pointing outside the app' })]);
  });

  it('refuses an ENV reached through a chain of links that each read as inside', () => {
    writeFileSync(join(root, 'secret.env'), 'STOLEN=1\n');
    const dir = app('chain', { Procfile: 'web: a', 'requirements.txt': '' });
    symlinkSync('.', join(dir, 'r0'));
    symlinkSync('r0/..', join(dir, 'r1')); // the kernel goes up from the app; text arithmetic says "."
    symlinkSync('r1/secret.env', join(dir, 'ENV'));
    const result = loadAppDir(dir);
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({ file: 'ENV', message: 'is a symlink pointing outside the app' })]);
  });

  it('follows a symlink that stays inside the app', () => {
    const dir = app('inner-link', { 'Procfile.real': 'web: a', 'requirements.txt': '' });
    symlinkSync('Procfile.real', join(dir, 'Procfile'));
    expect(loadAppDir(dir).spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'a' }]);
  });

  it('refuses a file over 1 MiB', () => {
    const dir = app('big', { Procfile: 'web: a\n', ENV: `A=${'x'.repeat(1024 * 1024)}\n` });
    expect(loadAppDir(dir).issues).toEqual([expect.objectContaining({ file: 'ENV', message: 'is larger than 1 MiB' })]);
  });

  it('reports an empty directory', () => {
    expect(loadAppDir(app('empty', {})).issues).toEqual([expect.objectContaining({ message: 'no hop3.toml or Procfile (nor a go.mod, Cargo.toml, package.json, config.ru, index.php or index.html, which say what to run)' })]);
  });

  // What passes here must not fail the build's choice of builder (detectBuilder) later.
  it('refuses an app no builder can tell how to build, with the build\'s message and hint', () => {
    const result = loadAppDir(app('no-builder', { 'hop3.toml': '[metadata]\nid = "x"\n' }));
    expect(result.spec).toBeNull();
    const buildError = thrown(() => detectBuilder(defaults({ processes: [] }), () => false));
    expect(result.issues).toEqual([{ file: '.', message: buildError.message, hint: buildError.hint }]);
    expect(buildError.hint).toContain('requirements.txt');
  });

  it.each([
    ['a requirements.txt', { Procfile: 'web: python3 -m http.server $PORT\n', 'requirements.txt': '' }, 'python'],
    ['an index.html', { 'hop3.toml': '[metadata]\nid = "site"\n', Procfile: 'worker: ./tick', 'index.html': '<p>hi' }, 'static'],
    ['[build] builder', { 'hop3.toml': '[build]\nbuilder = "python"\n', Procfile: 'web: ./serve' }, 'python'],
  ])('accepts the same app with %s and names its builder', (_name, files, builder) => {
    const result = loadAppDir(app(`builder-${builder}-${_name.replace(/\W/g, '')}`, files));
    expect(result.issues).toEqual([]);
    expect(result.builder).toBe(builder);
  });

  it('refuses a path that does not exist, naming it, as a user error', () => {
    const missing = join(root, 'nope');
    const err = thrown(() => loadAppDir(missing));
    expect(err).toMatchObject({ category: 'user', code: 'APP_DIR_NOT_FOUND' });
    expect(err.message).toBe(`${missing} does not exist`);
  });

  it('refuses a path that is a file, naming it, as a user error', () => {
    const file = join(app('holder', { Procfile: 'web: a' }), 'Procfile');
    const err = thrown(() => loadAppDir(file));
    expect(err).toMatchObject({ category: 'user', code: 'APP_DIR_NOT_DIRECTORY' });
    expect(err.message).toBe(`${file} is not a directory`);
    expect(thrown(() => loadAppDir(join(file, 'sub'))).code).toBe('APP_DIR_NOT_FOUND');
  });
});

describe('static directories are written into nginx, so only plain path characters pass', () => {
  it.each(['my site', 'a;b', 'x{y}', 'pub~lic', 'a@b'])('refuses [run] static = %j', (dir) => {
    const { spec, issues } = parseAppSpec({ 'hop3.toml': `[run]\nstatic = ${JSON.stringify(dir)}\n` });
    expect(spec).toBeNull();
    expect(issues.map((i) => i.key)).toContain('run.static');
  });

  it.each(['my site', 'a;b'])('refuses a Procfile static directory %j', (dir) => {
    const { spec, issues } = parseAppSpec({ Procfile: `static: ${dir}\n` });
    expect(spec).toBeNull();
    expect(issues[0]?.file).toBe('Procfile');
  });
});
