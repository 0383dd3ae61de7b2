import { describe, expect, it } from 'vitest';
import { defaultBinary, isCargoMessage, parseCargoBinary } from '../../src/plugins/builders/rust/artifacts.js';

const TARGET = '/srv/hop3/apps/shop/cargo/target';
const artifact = (o: { kind?: string[]; name?: string; pkg?: string; executable?: string | null }) => JSON.stringify({
  reason: 'compiler-artifact',
  package_id: `${o.pkg ?? 'shop'} 0.1.0 (path+file:///srv/hop3/apps/shop/cargo/src)`,
  target: { kind: o.kind ?? ['bin'], name: o.name ?? 'shop' },
  executable: o.executable === undefined ? `${TARGET}/release/${o.name ?? 'shop'}` : o.executable,
  fresh: false,
});

describe("the binaries cargo's JSON messages name", () => {
  it('takes a bin artifact inside the target directory', () => {
    expect(parseCargoBinary(artifact({}), TARGET)).toEqual({ name: 'shop', packageName: 'shop', executable: `${TARGET}/release/shop` });
  });

  it.each([
    ['a library', artifact({ kind: ['lib'], executable: null })],
    ['a build script', artifact({ kind: ['custom-build'], name: 'build-script-build' })],
    ['an executable outside the target directory', artifact({ executable: '/usr/bin/sudo' })],
    ['an executable that climbs out of it', artifact({ executable: `${TARGET}/../../../../../etc/passwd` })],
    ['a relative executable', artifact({ executable: 'release/shop' })],
    ['a name that is a path', artifact({ name: '../../bin/sh' })],
    ['a name with a slash', artifact({ name: 'a/b' })],
    ['another message', JSON.stringify({ reason: 'build-finished', success: true })],
    ['a compiler line', '   Compiling shop v0.1.0'],
    ['broken JSON', '{"reason":"compiler-artifact",'],
    ['JSON that is no object', '{"reason"'],
  ])('ignores %s', (_what, line) => {
    expect(parseCargoBinary(line, TARGET)).toBeNull();
  });

  it("tells cargo's messages from the lines people read", () => {
    expect(isCargoMessage(artifact({}))).toBe(true);
    expect(isCargoMessage('error[E0425]: cannot find value `x` in this scope')).toBe(false);
  });
});

describe('the binary that is bin/app', () => {
  const bin = (name: string, packageName: string) => ({ name, packageName, executable: `${TARGET}/release/${name}` });

  it('is the only one', () => {
    expect(defaultBinary([bin('server', 'shop')])?.name).toBe('server');
  });

  it("is the one named after its package when there are several (cargo run's choice)", () => {
    expect(defaultBinary([bin('migrate', 'shop'), bin('shop', 'shop')])?.name).toBe('shop');
  });

  it('is none when that does not settle it', () => {
    expect(defaultBinary([])).toBeNull();
    expect(defaultBinary([bin('a', 'shop'), bin('b', 'shop')])).toBeNull();
    expect(defaultBinary([bin('api', 'api'), bin('web', 'web')])).toBeNull();
  });
});
