import { mkdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveInside } from '../../../lib/confine.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';
import { withToolMessage } from '../compiler-message.js';
import { requireTool } from '../toolchain.js';
import { GO_BINARY } from './detect.js';

/**
 * Go apps: `go build` of the module's main package into the release's bin/, with the module
 * and build caches per app under HOP3_HOME, and no network: GOPROXY=off (the Go proxy is not
 * reachable from these machines), so dependencies come from vendor/ (then -mod=vendor) or from
 * what the app's module cache already holds.
 */
export default function goBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'go',
    artifact: 'command',
    accept: (b) => wants(b, 'go'),
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const go = requireTool('go', ['golang-go'], 'Go');
      const caches = join(ctx.layout.app(b.app), 'go');
      const bin = join(b.releaseDir, 'bin');
      mkdirSync(caches, { recursive: true, mode: 0o700 });
      mkdirSync(bin, { recursive: true, mode: 0o700 });
      const vendor = resolveInside(src, 'vendor', 'the directory');
      const vendored = vendor !== null && statSync(vendor).isDirectory();
      const flags = [b.env.GOFLAGS, vendored ? '-mod=vendor' : undefined].filter((f) => f !== undefined && f !== '').join(' ');
      const env = {
        ...buildEnv(b),
        GOPATH: join(caches, 'path'),
        GOMODCACHE: join(caches, 'mod'),
        GOCACHE: join(caches, 'build'),
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        GOTELEMETRY: 'off',
        // Debian's golang-go does not bring a C compiler; an app that needs cgo sets CGO_ENABLED=1.
        CGO_ENABLED: b.env.CGO_ENABLED ?? '0',
        ...(flags === '' ? {} : { GOFLAGS: flags }),
      };
      const version = (await ctx.exec.run([go, 'version'], { env, cleanEnv: true, timeoutMs: 30_000 })).stdout.trim();
      b.onLine(`-----> ${version}${vendored ? ' (vendor/, -mod=vendor)' : ''}`);
      b.onLine(`-----> Running go build -o bin/${GO_BINARY} .`);
      const started = Date.now();
      try {
        await ctx.exec.run([go, 'build', '-o', join(bin, GO_BINARY), '.'], {
          cwd: src, env, cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn,
        });
      } catch (err) {
        withToolMessage(err, 'build');
      }
      b.onLine(`-----> Built bin/${GO_BINARY} in ${Date.now() - started} ms`);
      await runBuildCommands(ctx.exec, b, [bin]);
      return { kind: 'command', dir: relative(ctx.layout.home, b.releaseDir), path: [relative(ctx.layout.home, bin)], metadata: { go: version, vendored } };
    },
  };
}
