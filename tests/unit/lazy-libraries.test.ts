import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/** The packages (bare imports) a fresh Node resolves while it loads `entry`, a source file. */
function packagesLoadedBy(entry: string, after = ''): string[] {
  const code = `
    import { registerHooks } from 'node:module';
    const seen = new Set();
    registerHooks({ resolve(spec, ctx, next) {
      if (!spec.startsWith('.') && !spec.startsWith('/') && !spec.startsWith('node:') && !spec.startsWith('file:')) seen.add(spec);
      // The sources import each other as .js (what tsc emits); Node strips the types of the .ts beside.
      try { return next(spec, ctx); } catch (err) { if (spec.startsWith('.') && spec.endsWith('.js')) return next(spec.slice(0, -3) + '.ts', ctx); throw err; }
    } });
    const m = await import(${JSON.stringify(entry)});
    ${after}
    console.log(JSON.stringify([...seen]));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').at(-1)!) as string[];
}

describe('libraries loaded on first use', () => {
  it('the daemon loads no addon client library and no ACME client until one is needed', () => {
    const loaded = packagesLoadedBy(resolve(ROOT, 'src/server/hop3.ts'));
    // The loader saw the daemon's own imports (the check can see a package at all).
    expect(loaded).toContain('better-sqlite3');
    for (const lib of ['pg', 'mysql2/promise', 'redis', 'acme-client']) expect(loaded, lib).not.toContain(lib);
  });

  it('each is loaded when first asked for', () => {
    const loaded = packagesLoadedBy(resolve(ROOT, 'src/plugins/addons/client-libraries.ts'), 'await m.pgLibrary(); await m.redisLibrary();');
    expect(loaded).toEqual(expect.arrayContaining(['pg', 'redis']));
    expect(loaded).not.toContain('mysql2/promise');
  });
});
