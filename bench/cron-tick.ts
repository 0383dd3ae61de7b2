/**
 * What the cron scheduler's once-a-second look costs: N armed entries (files under a throwaway
 * cron/ directory), none due, then 50 of them due in the same minute with a command that does
 * nothing. Prints the median (min–max) tick time of `--runs` looks with nothing due, the spawns
 * they made, and how long those 50 take from the tick to the last one recorded.
 *
 *   npm run build && node dist/bench/cron-tick.js [N]   # --runs=N (default 20), N default 1000
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createExec } from '../src/lib/exec.js';
import { createLogger } from '../src/lib/logger.js';
import { entryFiles, entryName, renderEntry } from '../src/plugins/schedulers/cron/entry-files.js';
import { CronScheduler } from '../src/plugins/schedulers/cron/scheduler.js';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 20);
/** A new minute's look blocks the daemon's event loop while it runs: 20 ms at N = 1000. */
const TARGET_TICK_MS = 20;
const DUE = Math.min(N, 50);

const home = mkdtempSync(join(tmpdir(), 'hop3-bench-cron-'));
try {
  const dir = join(home, 'cron');
  const cwd = join(home, 'src');
  mkdirSync(dir);
  mkdirSync(cwd);
  const write = (schedule: string, count = N) => {
    for (let i = 0; i < count; i++) {
      const app = `app${i}`;
      const env = { PATH: '/usr/bin:/bin', HOME: join(home, 'data'), SECRET_KEY: 'x'.repeat(64), DATABASE_URL: `postgres://u:p@127.0.0.1/${app}` };
      writeFileSync(entryFiles(dir, entryName(app, 'cron')).entry, renderEntry({ app, process: 'cron', release: 1, schedule, command: 'true', cwd, env }), { mode: 0o600 });
    }
  };
  // 10:30 UTC on some day: `0 3 * * *` is not due.
  let now = Date.parse('2026-12-01T10:30:10Z');
  let recorded = 0;
  const exec = createExec();
  const s = new CronScheduler({ dir, exec, log: createLogger('silent'), clock: () => new Date(now), timeoutMs: 60_000, record: () => void recorded++ });

  write('0 3 * * *');
  const cold = performance.now();
  s.tick();
  console.log(`first look (every file read): ${(performance.now() - cold).toFixed(1)} ms`);
  let within = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    s.tick();
    within = Math.max(within, performance.now() - t0);
  }
  console.log(`a look later in the same minute (the other 59 a minute): max ${within.toFixed(3)} ms`);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    now += 60_000;
    const t0 = performance.now();
    s.tick();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`look in a new minute, ${N} entries unchanged, none due: median ${median.toFixed(2)} ms (min ${times[0]!.toFixed(2)}, max ${times.at(-1)!.toFixed(2)}) over ${RUNS} looks; target ≤ ${TARGET_TICK_MS} ms`);
  console.log(`spawns while nothing was due: ${exec.spawns} (target 0)`);

  // Only some due at once: the machine is shared, and a thousand shells at once says little more.
  write('* * * * *', DUE);
  now += 60_000;
  const t0 = performance.now();
  s.tick();
  const started = performance.now() - t0;
  await s.idle();
  console.log(`${DUE} of ${N} entries due in one minute: tick that starts them ${started.toFixed(0)} ms, all ${recorded} runs recorded after ${((performance.now() - t0) / 1000).toFixed(1)} s (${exec.spawns} spawns)`);
} finally {
  rmSync(home, { recursive: true, force: true });
}
