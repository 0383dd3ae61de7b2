import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertConfined, checkAppPaths, findEscapes, resolveInside, settleOwnership } from '../../src/lib/confine.js';
import { accountIds } from '../../src/lib/accounts.js';
import { Hop3Error } from '../../src/lib/errors.js';

const NO_STATIC_PATHS = { paths: [], maxAge: 3600 };

let base = '';
let app = '';
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hop3-confine-'));
  app = join(base, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'index.html'), 'hi');
  writeFileSync(join(base, 'secret'), 'outside');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

function refusal(fn: () => unknown): Hop3Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).category).toBe('user');
    return err as Hop3Error;
  }
  throw new Error('expected a refusal');
}

/** r0 -> ., r1 -> r0/.., ..., r12 -> r11/.., public -> r12: each link reads as "inside". */
function plantChain(dir: string): void {
  symlinkSync('.', join(dir, 'r0'));
  for (let i = 1; i <= 12; i++) symlinkSync(`r${i - 1}/..`, join(dir, `r${i}`));
  symlinkSync('r12', join(dir, 'public'));
}

describe('links are resolved by the kernel', () => {
  it('refuses a chain of relative links that reaches /, naming the link', () => {
    plantChain(app);
    const e = refusal(() => assertConfined(app));
    expect(e.code).toBe('APP_LINK_OUTSIDE');
    expect(e.message).toMatch(/^public -> r12 resolves outside the app: \/ \(and \d+ more links\)$/);
    // Only r0 (-> .) stays inside; every other link of the chain is reported.
    expect(findEscapes(app).escapes.map((x) => x.path)).toEqual(['public', ...Array.from({ length: 12 }, (_, i) => `r${i + 1}`)].sort());
  });

  it('refuses links in subdirectories, absolute links, dangling links and loops', () => {
    mkdirSync(join(app, 'a', 'b'), { recursive: true });
    symlinkSync('../../../secret', join(app, 'a', 'b', 'up'));
    expect(refusal(() => assertConfined(app)).message).toBe(`a/b/up -> ../../../secret resolves outside the app: ${join(base, 'secret')}`);
    rmSync(join(app, 'a', 'b', 'up'));
    symlinkSync('/etc/passwd', join(app, 'abs'));
    expect(refusal(() => assertConfined(app)).message).toBe('abs -> /etc/passwd resolves outside the app: /etc/passwd');
    rmSync(join(app, 'abs'));
    symlinkSync('nothing-here', join(app, 'dangling'));
    expect(refusal(() => assertConfined(app)).message).toBe('dangling -> nothing-here does not resolve (nothing is there)');
    rmSync(join(app, 'dangling'));
    symlinkSync('loop2', join(app, 'loop1'));
    symlinkSync('loop1', join(app, 'loop2'));
    expect(refusal(() => assertConfined(app)).message).toMatch(/^loop1 -> loop2 is a loop of links/);
  });

  it('accepts links that stay inside, through other links too', () => {
    mkdirSync(join(app, 'dist'));
    writeFileSync(join(app, 'dist', 'a.css'), '');
    symlinkSync('dist', join(app, 'public'));
    symlinkSync('public/a.css', join(app, 'style.css'));
    symlinkSync('.', join(app, 'self'));
    symlinkSync('self/dist/../index.html', join(app, 'home.html'));
    expect(() => assertConfined(app)).not.toThrow();
  });

  it('resolves a static root and requirements.txt inside the app', () => {
    plantChain(app);
    const e = refusal(() => checkAppPaths(app, { processes: [{ name: 'static', kind: 'static', command: 'public' }], static: NO_STATIC_PATHS }));
    expect(e.message).toBe('the static directory public resolves outside the app: /');
    symlinkSync(join(base, 'secret'), join(app, 'requirements.txt'));
    expect(refusal(() => checkAppPaths(app, { processes: [], static: NO_STATIC_PATHS })).message).toBe(`the file requirements.txt resolves outside the app: ${join(base, 'secret')}`);
    expect(resolveInside(app, 'missing', 'the static directory')).toBeNull();
    expect(resolveInside(app, 'index.html', 'the file')).toBe(join(app, 'index.html'));
    expect(refusal(() => checkAppPaths(app, { processes: [{ name: 'static', kind: 'static', command: 'index.html' }], static: NO_STATIC_PATHS })).code).toBe('APP_STATIC_NOT_DIRECTORY');
  });

  it('resolves each [static] paths directory inside the app, naming the prefix it serves', () => {
    const paths = (dir: string) => ({ processes: [], static: { paths: [{ prefix: '/assets/', dir }], maxAge: 60 } });
    mkdirSync(join(app, 'public'));
    expect(() => checkAppPaths(app, paths('public'))).not.toThrow();
    expect(() => checkAppPaths(app, paths('made-by-the-build'))).not.toThrow();
    symlinkSync(base, join(app, 'up'));
    const out = refusal(() => checkAppPaths(app, paths('up')));
    expect(out.code).toBe('APP_PATH_OUTSIDE');
    expect(out.message).toBe(`[static] paths "/assets" -> up resolves outside the app: ${base}`);
    symlinkSync('nowhere', join(app, 'dangling'));
    expect(refusal(() => checkAppPaths(app, paths('dangling'))).message).toBe('[static] paths "/assets" -> dangling does not resolve');
    const file = refusal(() => checkAppPaths(app, paths('index.html')));
    expect(file.code).toBe('APP_STATIC_NOT_DIRECTORY');
    expect(file.message).toBe('[static] paths "/assets" -> index.html is not a directory');
  });
});

describe('settleOwnership', () => {
  it('grants nothing to other accounts, keeps hop3 files 0600, and leaves link targets alone', () => {
    mkdirSync(join(app, 'bin'));
    writeFileSync(join(app, 'bin', 'run'), '#!/bin/sh\n');
    chmodSync(join(app, 'bin', 'run'), 0o4755);
    writeFileSync(join(app, 'ENV'), 'SECRET=1\n');
    chmodSync(join(app, 'ENV'), 0o644);
    symlinkSync('index.html', join(app, 'link'));
    chmodSync(join(base, 'secret'), 0o644);
    settleOwnership(app, null);
    const mode = (p: string) => statSync(join(app, p)).mode & 0o7777;
    expect([mode('.'), mode('bin'), mode('bin/run'), mode('index.html'), mode('ENV')]).toEqual([0o700, 0o700, 0o700, 0o600, 0o600]);
    expect(lstatSync(join(app, 'link')).isSymbolicLink()).toBe(true);
    expect(statSync(join(base, 'secret')).mode & 0o777).toBe(0o644);
  });

  it('as root (the tests run as root), gives the tree and its links to the reader, but not hop3 files', () => {
    writeFileSync(join(app, 'hop3.toml'), '');
    symlinkSync(join(base, 'secret'), join(app, 'planted'));
    settleOwnership(app, { uid: 33, gid: 33 });
    expect(lstatSync(join(app, 'index.html'))).toMatchObject({ uid: 33, gid: 33 });
    expect(lstatSync(join(app, 'index.html')).mode & 0o777).toBe(0o640);
    expect(lstatSync(app).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(app, 'planted'))).toMatchObject({ uid: 33, gid: 33 });
    expect(statSync(join(base, 'secret')).uid).toBe(0); // the target is not touched
    expect(lstatSync(join(app, 'hop3.toml'))).toMatchObject({ uid: 0, mode: expect.any(Number) });
    expect(lstatSync(join(app, 'hop3.toml')).mode & 0o777).toBe(0o600);
  });

  it('keeps ENV private when the app ships a hard link to it elsewhere', () => {
    writeFileSync(join(app, 'ENV'), 'SECRET=1\n');
    mkdirSync(join(app, 'public'));
    linkSync(join(app, 'ENV'), join(app, 'public', 'env.txt'));
    settleOwnership(app, { uid: 33, gid: 33 });
    expect(lstatSync(join(app, 'public', 'env.txt'))).toMatchObject({ uid: 0 });
    expect(lstatSync(join(app, 'public', 'env.txt')).mode & 0o777).toBe(0o600);
  });
});

describe('accountIds', () => {
  it('reads uid and gid of an account from passwd text', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nbad:x:a:b::/:/bin/sh\n';
    expect(accountIds('www-data', passwd)).toEqual({ uid: 33, gid: 33 });
    expect(accountIds('nobody', passwd)).toBeNull();
    expect(accountIds('bad', passwd)).toBeNull();
  });
});
