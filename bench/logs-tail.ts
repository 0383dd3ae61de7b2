/**
 * `hop3 logs` against large process logs, with no daemon: the time to read the last N lines of a
 * log of ~MB megabytes (`--lines`), and to catch a follower up on a burst of 100,000 lines. What
 * it reads is bounded (8 MiB per look at the end, 256 KiB per follow step), so neither grows
 * with the log.
 *
 *   node dist/bench/logs-tail.js [MB]
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFollower, tailOfLog } from '../src/lib/log-files.js';

const megabytes = Number(process.argv[2] ?? 200);
const TARGET_MS = 100;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dir = mkdtempSync(join(tmpdir(), 'hop3-bench-logs-'));
const path = join(dir, 'web.log');
const line = `${Date.now()}000 ${'y'.repeat(100)}\n`;
const block = line.repeat(10_000);
writeFileSync(path, '');
for (let written = 0; written < megabytes * 1e6; written += block.length) appendFileSync(path, block);

try {
  for (const n of [100, 10_000]) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      if (tailOfLog(path, n).length !== n) throw new Error(`tail of ${n} lines came short`);
      times.push(performance.now() - t);
    }
    console.log(`last ${n} lines of a ${megabytes} MB log: ${median(times).toFixed(1)} ms (median of 5; target < ${TARGET_MS} ms)`);
  }
  const f = new LogFollower(path);
  appendFileSync(path, line.repeat(100_000));
  const t = performance.now();
  let got = 0;
  while (got < 100_000) got += f.read().length;
  f.close();
  const ms = performance.now() - t;
  console.log(`follow: caught up on 100,000 new lines in ${ms.toFixed(0)} ms (${Math.round(100_000 / (ms / 1000))} lines/s; target > 100,000 lines/s); rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
