import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../../lib/exec.js';
import { detectBuilder, type BuilderName } from '../../manifest/index.js';
import type { BuildContext } from '../types.js';

/** Builds see the release env and a minimal PATH, never the daemon's own environment. */
export function buildEnv(ctx: BuildContext, extraPath: string[] = []): Record<string, string> {
  return {
    ...ctx.env,
    PATH: [...extraPath, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: ctx.releaseDir,
    LANG: 'C.UTF-8',
    HOP3_APP: ctx.app,
    HOP3_RELEASE: `v${ctx.version}`,
  };
}

/** Whether the spec (or the source tree) asks for this builder. */
export function wants(b: BuildContext, builder: BuilderName): boolean {
  return detectBuilder(b.spec, (rel) => existsSync(join(b.releaseDir, 'src', rel))) === builder;
}

/** `[build] before-build` commands: the app's own shell commands, run in its source tree. */
export async function runBuildCommands(exec: Exec, b: BuildContext, extraPath: string[] = [], extraEnv: Record<string, string> = {}): Promise<void> {
  for (const cmd of b.spec.build.before) {
    b.onLine(`-----> Running build command: ${cmd}`);
    await exec.run(['/bin/sh', '-c', cmd], { cwd: join(b.releaseDir, 'src'), env: { ...buildEnv(b, extraPath), ...extraEnv }, cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn });
  }
}
