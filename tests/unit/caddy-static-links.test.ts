import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { assertStaticRootLinks, badLinks } from '../../src/plugins/proxies/caddy/static-root-links.js';

const dirs: string[] = [];
function root(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-links-'));
  dirs.push(dir);
  const r = join(dir, 'public');
  mkdirSync(join(r, 'sub'), { recursive: true });
  mkdirSync(join(r, '.git'));
  for (const f of ['index.html', 'ENV', 'hop3.toml', '.env', '.git/config', 'sub/page.html']) writeFileSync(join(r, f), 'x');
  writeFileSync(join(dir, 'outside.txt'), 'secret');
  return r;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('links under a static root handed to Caddy', () => {
  it('links to files the site serves are fine', () => {
    const r = root();
    symlinkSync('index.html', join(r, 'latest.html'));
    symlinkSync('../index.html', join(r, 'sub', 'up.html'));
    symlinkSync('sub', join(r, 'pages'));
    symlinkSync('.', join(r, 'self'));
    expect(badLinks(r)).toEqual([]);
    expect(() => assertStaticRootLinks(r)).not.toThrow();
  });

  it('a root that does not exist yet has no bad link', () => {
    expect(badLinks('/nonexistent/hop3/public')).toEqual([]);
  });

  it('refuses links out of the root, dangling links, and links to hop3 files or dotfiles in it', () => {
    const r = root();
    symlinkSync('../outside.txt', join(r, 'a-out.txt'));
    symlinkSync('/etc/passwd', join(r, 'b-passwd'));
    symlinkSync('nothing-here', join(r, 'c-dangling'));
    symlinkSync('ENV', join(r, 'd-env.txt'));
    symlinkSync('../.git/config', join(r, 'sub', 'e-git.txt'));
    symlinkSync('.env', join(r, 'f-dotenv'));
    symlinkSync('..', join(r, 'g-parent'));
    const bad = badLinks(r);
    expect(bad.map((b) => b.path)).toEqual(['a-out.txt', 'b-passwd', 'c-dangling', 'd-env.txt', 'f-dotenv', 'g-parent', 'sub/e-git.txt']);
    expect(bad[0]!.reason).toContain('outside the static root');
    expect(bad[2]!.reason).toBe('does not resolve');
    expect(bad[3]!.reason).toBe('leads to ENV, which the site never serves');
    let err: unknown;
    try {
      assertStaticRootLinks(r);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('APP_LINK_OUTSIDE');
    expect((err as Hop3Error).category).toBe('user');
    expect((err as Hop3Error).message).toContain('a-out.txt -> ../outside.txt');
    expect((err as Hop3Error).details).toHaveLength(7);
  });
});
