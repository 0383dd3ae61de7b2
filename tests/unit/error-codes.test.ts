import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, isErrorCode } from '../../src/lib/error-codes.js';
import { Hop3Error, isTerminal, operationalError, remoteError, systemError, userError } from '../../src/lib/errors.js';
import { ExecError } from '../../src/lib/exec.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';

const SRC = join(PROJECT_ROOT, 'src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

const sources = tsFiles(SRC).map((file) => ({ file: relative(SRC, file), text: readFileSync(file, 'utf8') }));

/**
 * The codes that fail a release instead of being retried, written out once (they were the
 * reconciler's RELEASE_FAULTS): changing the set must be a deliberate edit here too.
 */
const TERMINAL = [
  'RELEASE_CANCELLED', 'UNSAFE_CONFIG_VALUE', 'EXEC_FAILED', 'BUILDER_NONE', 'BUILDER_UNKNOWN', 'HEALTH_CHECK_FAILED',
  'PROCESS_CRASHING', 'NGINX_CONFIG_REJECTED', 'CADDY_CONFIG_REJECTED', 'SPEC_INVALID',
  'APP_LINK_OUTSIDE', 'APP_PATH_OUTSIDE', 'APP_FILE_SPECIAL', 'APP_STATIC_NOT_DIRECTORY',
  'TOOLCHAIN_MISSING', 'ENGINES_MISMATCH', 'PACKAGE_JSON_INVALID', 'CARGO_BINARY_UNKNOWN',
  'APP_ENTRY_MISSING', 'COMPOSER_JSON_INVALID', 'DEPENDENCIES_MISSING',
];

describe('the error catalogue', () => {
  it('gives every code a category and a terminal flag', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(['user', 'operational', 'internal'], code).toContain(spec.category);
      expect(typeof spec.terminal, code).toBe('boolean');
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    }
  });

  it('marks exactly the release faults terminal', () => {
    const terminal = Object.entries(ERRORS).filter(([, s]) => s.terminal).map(([c]) => c);
    expect(terminal.sort()).toEqual([...TERMINAL].sort());
    for (const code of TERMINAL) expect(isTerminal(new Hop3Error(code as keyof typeof ERRORS, 'x')), code).toBe(true);
    expect(isTerminal(new ExecError(['false'], 1, '', 'exited with 1'))).toBe(true);
    expect(isTerminal(operationalError('NGINX_DOWN', 'x'))).toBe(false);
    expect(isTerminal(systemError(Object.assign(new Error('full'), { code: 'ENOSPC' })))).toBe(false);
    expect(isTerminal(new Error('plain'))).toBe(false);
    // a code the daemon sent that this catalogue does not know is never terminal
    expect(isTerminal(remoteError('SOMETHING_NEWER', 'user', 'x'))).toBe(false);
  });

  it('is where the reconciler gets its terminal set from (no list of codes of its own)', () => {
    const reconciler = sources.find((s) => s.file === 'reconcile/reconciler.ts')!.text;
    expect(reconciler).not.toMatch(/RELEASE_FAULTS/);
    expect(reconciler).toMatch(/isTerminal\(/);
    for (const code of TERMINAL) expect(reconciler, code).not.toContain(`'${code}'`);
  });

  it('takes the category (and the default hint) from the catalogue; a call-site hint wins', () => {
    const e = userError('APP_NOT_FOUND', 'no such app');
    expect([e.code, e.category, e.hint]).toEqual(['APP_NOT_FOUND', 'user', undefined]);
    expect(userError('APP_NOT_FOUND', 'x', { hint: 'h' }).hint).toBe('h');
    const busy = systemError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))!;
    expect([busy.code, busy.category]).toEqual(['DB_BUSY', 'operational']);
    expect(busy.hint).toBe(ERRORS.DB_BUSY.hint);
    expect(busy.hint).toMatch(/another process holds a lock/);
    expect(operationalError('DB_BUSY', 'x', { hint: 'mine' }).hint).toBe('mine');
    // relayed from the daemon: code and category as sent
    const r = remoteError('RPC_-32601', 'internal', 'm', { hint: 'x' });
    expect([r.code, r.category, r.hint]).toEqual(['RPC_-32601', 'internal', 'x']);
  });

  it('knows every string code the code base passes to an error constructor', () => {
    const unknown: string[] = [];
    const call = /\b(?:userError|operationalError|remoteError|new\s+Hop3Error|super)\(\s*['"`]([A-Z][A-Z0-9_]+)['"`]/g;
    for (const { file, text } of sources) {
      for (const m of text.matchAll(call)) if (!isErrorCode(m[1]!)) unknown.push(`${file}: ${m[1]}`);
    }
    expect(unknown).toEqual([]);
  });

  it('has no `new Hop3Error(` site that passes a category or a computed code', () => {
    const sites: string[] = [];
    for (const { file, text } of sources) {
      for (const m of text.matchAll(/new\s+Hop3Error\(\s*([^,]+),/g)) {
        const first = m[1]!.trim();
        // a literal catalogue code; inside errors.ts, the typed parameter of a constructor or the wire form
        if (/^'[A-Z][A-Z0-9_]+'$/.test(first)) continue;
        if (file === 'lib/errors.ts' && (first === 'code' || first === '{ code')) continue;
        sites.push(`${file}: new Hop3Error(${first}, ...`);
      }
    }
    expect(sites).toEqual([]);
  });

  it('lists no code the code base never raises', () => {
    const elsewhere = sources.filter((s) => s.file !== 'lib/error-codes.ts').map((s) => s.text).join('\n');
    const unused = Object.keys(ERRORS).filter((code) => !elsewhere.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });
});
