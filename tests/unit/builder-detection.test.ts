import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertValidSpec, detectBuilder, loadAppDir, parseAppSpec } from '../../src/manifest/index.js';
import { DETECTION, detect } from '../../src/plugins/builders/detection.js';
import { Hop3Error } from '../../src/lib/errors.js';

const spec = (files: { toml?: string; procfile?: string }) =>
  assertValidSpec(parseAppSpec({ 'hop3.toml': files.toml ?? '', ...(files.procfile !== undefined && { Procfile: files.procfile }) }));

describe('the detection table', () => {
  // [case, hop3.toml, Procfile, files in the tree, builder]
  const cases: Array<[string, string, string | undefined, string[], string]> = [
    ['package.json', '', undefined, ['package.json'], 'node'],
    ['go.mod', '', undefined, ['go.mod'], 'go'],
    ['Cargo.toml', '', undefined, ['Cargo.toml'], 'rust'],
    ['requirements.txt', '', 'web: gunicorn app:app', ['requirements.txt'], 'python'],
    ['index.html', '', undefined, ['index.html'], 'static'],
    ['config.ru', '', undefined, ['config.ru'], 'ruby'],
    ['a Gemfile beside a Procfile', '', 'web: bundle exec puma -p $PORT', ['Gemfile'], 'ruby'],
    ['index.php', '', undefined, ['index.php'], 'php'],
    ['a composer.json beside a Procfile', '', 'worker: php worker.php', ['composer.json'], 'php'],
    ['a Procfile and no marker', '', 'web: ./serve --port $PORT', [], 'generic'],
    ['a worker only and no marker', '', 'worker: ./tick', [], 'generic'],
    // Conflicts: the documented winner.
    ['go.mod beats package.json (a Go service with a front end)', '', undefined, ['go.mod', 'package.json'], 'go'],
    ['package.json beats index.html (a front-end project)', '', undefined, ['package.json', 'index.html'], 'node'],
    ['requirements.txt beats package.json (a Python app with front-end tooling)', '', 'web: gunicorn app:app', ['package.json', 'requirements.txt'], 'python'],
    ['go.mod beats requirements.txt', '', undefined, ['go.mod', 'requirements.txt'], 'go'],
    ['Cargo.toml beats package.json (a Rust service with a front end)', '', undefined, ['Cargo.toml', 'package.json'], 'rust'],
    ['Cargo.toml beats index.html and requirements.txt', '', 'web: app', ['Cargo.toml', 'index.html', 'requirements.txt'], 'rust'],
    ['go.mod beats Cargo.toml (listed first)', '', undefined, ['go.mod', 'Cargo.toml'], 'go'],
    ['a wsgi process beats Cargo.toml', '', 'wsgi: app:app', ['Cargo.toml'], 'python'],
    ['package.json beats index.html beside a worker', '', 'worker: w', ['package.json', 'index.html'], 'node'],
    ['a wsgi process beats package.json', '', 'wsgi: app:app', ['package.json', 'go.mod'], 'python'],
    ['a static process beats every file', '', 'static: public', ['go.mod', 'package.json', 'requirements.txt'], 'static'],
    ['index.html beats requirements.txt when nothing serves code', '', 'worker: w', ['index.html', 'requirements.txt'], 'static'],
    ['requirements.txt beats index.html beside a web process', '', 'web: ./serve', ['index.html', 'requirements.txt'], 'python'],
    ['a marker beats generic', '', 'web: ./serve', ['go.mod'], 'go'],
    ['Gemfile beats package.json (a Rails app with front-end tooling)', '', 'web: bundle exec puma', ['package.json', 'Gemfile'], 'ruby'],
    ['config.ru beats package.json', '', undefined, ['package.json', 'config.ru'], 'ruby'],
    ['composer.json beats package.json (a Laravel app with front-end tooling)', '', 'web: php -S 127.0.0.1:$PORT', ['package.json', 'composer.json'], 'php'],
    ['index.php beats package.json', '', undefined, ['package.json', 'index.php'], 'php'],
    ['config.ru beats index.php', '', undefined, ['config.ru', 'index.php'], 'ruby'],
    ['config.ru beats composer.json', '', undefined, ['composer.json', 'config.ru'], 'ruby'],
    ['index.php beats a Gemfile (a PHP app with Ruby tooling)', '', undefined, ['Gemfile', 'index.php'], 'php'],
    ['Gemfile beats composer.json when neither has an entry point', '', 'web: ./serve', ['composer.json', 'Gemfile'], 'ruby'],
    ['config.ru beats index.html (a rack app with a page)', '', undefined, ['index.html', 'config.ru'], 'ruby'],
    ['index.php beats index.html', '', undefined, ['index.html', 'index.php'], 'php'],
    ['index.html beats a Gemfile when nothing serves code (a Jekyll site)', '', undefined, ['index.html', 'Gemfile'], 'static'],
    ['index.html beats composer.json when nothing serves code', '', 'worker: php w.php', ['index.html', 'composer.json'], 'static'],
    ['requirements.txt beats a Gemfile', '', 'web: ./serve', ['Gemfile', 'requirements.txt'], 'python'],
    ['config.ru beats requirements.txt', '', 'web: ./serve', ['requirements.txt', 'config.ru'], 'ruby'],
    ['go.mod beats config.ru and index.php', '', undefined, ['config.ru', 'index.php', 'go.mod'], 'go'],
    ['a wsgi process beats config.ru and index.php', '', 'wsgi: app:app', ['config.ru', 'index.php'], 'python'],
    ['a static process beats config.ru and index.php', '', 'static: public', ['config.ru', 'index.php'], 'static'],
    // Explicit choices.
    ['builder = "node" forces node', '[build]\nbuilder = "node"\n', 'web: ./serve', ['go.mod', 'requirements.txt'], 'node'],
    ['builder = "generic" forces generic', '[build]\nbuilder = "generic"\n', 'web: ./serve', ['package.json'], 'generic'],
    ['builder = "auto" detects', '[build]\nbuilder = "auto"\n', undefined, ['package.json'], 'node'],
    ['builder = "php" forces php', '[build]\nbuilder = "php"\n', undefined, ['config.ru', 'index.php'], 'php'],
    ['builder = "ruby" forces ruby', '[build]\nbuilder = "ruby"\n', 'web: ./serve', ['package.json'], 'ruby'],
  ];
  it.each(cases)('%s', (_name, toml, procfile, files, builder) => {
    expect(detect(spec({ toml, procfile }), (rel) => files.includes(rel))).toBe(builder);
  });

  it('gives null with no marker and no process, and the build a clear error', () => {
    const s = spec({ toml: '[metadata]\nid = "x"\n' });
    expect(detect(s, () => false)).toBeNull();
    const err = (() => {
      try {
        detectBuilder(s, () => false);
      } catch (e) {
        return e as Hop3Error;
      }
      throw new Error('no error');
    })();
    expect(err.code).toBe('BUILDER_UNKNOWN');
    expect(err.hint).toMatch(/package\.json.*go\.mod.*requirements\.txt.*Gemfile or config\.ru.*composer\.json or index\.php.*index\.html.*Procfile/);
  });

  it('names every builder that detection can give', () => {
    expect(new Set(DETECTION.map((d) => d.builder))).toEqual(new Set(['static', 'python', 'go', 'rust', 'node', 'ruby', 'php', 'generic']));
  });

  it('refuses an unknown builder name in hop3.toml, naming the key, the line and the choices', () => {
    const result = parseAppSpec({ 'hop3.toml': '[metadata]\nid = "x"\n[build]\nbuilder = "cobol"\n' });
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({
      file: 'hop3.toml', key: 'build.builder', line: 4, message: 'must be one of "auto", "python", "static", "node", "go", "rust", "ruby", "php", "generic"',
    })]);
  });
});

describe('loadAppDir with runtimes', () => {
  const root = mkdtempSync(join(tmpdir(), 'hop3-detect-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const app = (name: string, files: Record<string, string>) => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };

  it('takes a package.json alone (no hop3.toml, no Procfile) and gives it `npm start` as its web process', () => {
    const result = loadAppDir(app('node-bare', { 'package.json': '{"name":"x","scripts":{"start":"node server.js"}}' }));
    expect(result.issues).toEqual([]);
    expect(result.builder).toBe('node');
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'exec npm start' }]);
  });

  it('gives a Go app the built binary as its web process, beside its other processes', () => {
    const result = loadAppDir(app('go-worker', { 'go.mod': 'module example.com/x\n', Procfile: 'worker: app --worker\n' }));
    expect(result.builder).toBe('go');
    expect(result.spec?.processes.map((p) => [p.name, p.command])).toEqual([['web', 'exec app'], ['worker', 'app --worker']]);
  });

  it('takes a Cargo.toml alone and gives it the built binary as its web process', () => {
    const result = loadAppDir(app('rust-bare', { 'Cargo.toml': '[package]\nname = "x"\n' }));
    expect(result.issues).toEqual([]);
    expect(result.builder).toBe('rust');
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'exec app' }]);
  });

  it('keeps the web process the Procfile names', () => {
    const result = loadAppDir(app('node-procfile', { 'package.json': '{}', Procfile: 'web: node other.js\n' }));
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'node other.js' }]);
  });

  it('takes a config.ru alone and gives it the rack app as its web process', () => {
    const result = loadAppDir(app('ruby-bare', { 'config.ru': 'run ->(env) { [200, {}, ["hi"]] }\n' }));
    expect(result.issues).toEqual([]);
    expect(result.builder).toBe('ruby');
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'config.ru' }]);
  });

  it('takes an index.php alone and gives it the PHP app as its web process, beside its other processes', () => {
    const result = loadAppDir(app('php-worker', { 'index.php': '<?php echo 1;', Procfile: 'worker: php worker.php\n' }));
    expect(result.builder).toBe('php');
    expect(result.spec?.processes.map((p) => [p.name, p.command])).toEqual([['web', 'index.php'], ['worker', 'php worker.php']]);
  });

  it('keeps the web server a Ruby app\'s Procfile names', () => {
    const result = loadAppDir(app('ruby-puma', { Gemfile: "gem 'puma'\n", 'config.ru': 'run App\n', Procfile: 'web: bundle exec puma -p $PORT\n' }));
    expect(result.builder).toBe('ruby');
    expect(result.spec?.processes).toEqual([{ name: 'web', kind: 'web', command: 'bundle exec puma -p $PORT' }]);
  });

  it('wants a Procfile or hop3.toml beside a Gemfile or composer.json alone: what to run is the app\'s to say', () => {
    for (const marker of ['Gemfile', 'composer.json']) {
      const result = loadAppDir(app(`bare-${marker}`, { [marker]: '{}' }));
      expect(result.spec, marker).toBeNull();
      expect(result.issues[0]!.message).toContain('no hop3.toml or Procfile');
    }
  });

  it('gives a generic app no default process', () => {
    const result = loadAppDir(app('generic', { Procfile: 'worker: ./tick\n' }));
    expect(result.builder).toBe('generic');
    expect(result.spec?.processes).toEqual([{ name: 'worker', kind: 'worker', command: './tick' }]);
  });

  it('takes an index.html alone as a static site', () => {
    const result = loadAppDir(app('static-bare', { 'index.html': '<h1>hi</h1>' }));
    expect(result.issues).toEqual([]);
    expect(result.builder).toBe('static');
  });

  it('wants a Procfile or hop3.toml beside a requirements.txt alone: which WSGI app to run is the app\'s to say', () => {
    const result = loadAppDir(app('python-bare', { 'requirements.txt': 'flask\n' }));
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({ message: 'no hop3.toml or Procfile (nor a go.mod, Cargo.toml, package.json, config.ru, index.php or index.html, which say what to run)' })]);
  });

  it('refuses a directory with no marker and no Procfile, saying what would do', () => {
    const result = loadAppDir(app('nothing', { 'README.md': 'hi' }));
    expect(result.spec).toBeNull();
    expect(result.issues).toEqual([expect.objectContaining({ message: 'no hop3.toml or Procfile (nor a go.mod, Cargo.toml, package.json, config.ru, index.php or index.html, which say what to run)' })]);
    expect(result.issues[0]!.hint).toContain('package.json');
  });
});
