import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { execa } from 'execa';
import { daemonForTests, EXAMPLES, ROOT, output, releaseOf, underLoad } from './harness.js';

/**
 * What the runtime test files share: one daemon for the describe block it is called in, a scratch
 * directory for changed copies of the examples (both removed at the end), and a timed deploy.
 */
export function runtimeFixture(prefix: string) {
  const { d, removeAfter } = daemonForTests();
  const scratch = removeAfter(mkdtempSync(join(tmpdir(), `hop3-${prefix}-`)));

  /** A copy of an example with some of its files replaced. */
  const copyOf = (example: string, name: string, change: Record<string, string> = {}): string => {
    const dir = join(scratch, name);
    cpSync(join(EXAMPLES, example), dir, { recursive: true });
    for (const [file, text] of Object.entries(change)) writeFileSync(join(dir, file), text);
    return dir;
  };

  const deploy = async (dir: string, app: string) => {
    const started = Date.now();
    const r = await d.hop3(['deploy', dir, '--app', app]);
    return { r, text: output(r), seconds: (Date.now() - started) / 1000 };
  };

  /** `work` while `app`'s page is loaded, each answer read for the release that gave it. */
  const loaded = (app: string, work: () => Promise<void>) =>
    underLoad(d.httpPort, `${app}.localhost`, work, { get: releaseOf(d.httpPort, `${app}.localhost`) });

  return { d, scratch, copyOf, deploy, loaded };
}

export type Deployed = Awaited<ReturnType<ReturnType<typeof runtimeFixture>['deploy']>>;

/** `hop3 validate` on `dir` (no daemon needed) names `builder` and the web process. */
export async function expectValidateNames(dir: string, builder: string): Promise<void> {
  const r = await execa(join(ROOT, 'bin', 'hop3'), ['validate', dir], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toContain(`(${builder} build; web: web)`);
}
