import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LINE_CHARS, outputSink } from '../../src/reconcile/output-sink.js';
import { pruneRotatedLogs, rotateAppendLog } from '../../src/lib/rotated-logs.js';
import { Store } from '../../src/store/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'hop3-logs-'));
  dirs.push(d);
  return d;
};

describe('outputSink', () => {
  it('keeps up to the cap, counts the rest and says how many it dropped', () => {
    const store = new Store(':memory:');
    const sink = outputSink(store, 'a', 1, 'build', 100);
    for (let i = 0; i < 10_000; i++) sink.line(`line ${i}`);
    sink.close();
    const lines = store.listEvents({ app: 'a', limit: 1000 }).map((e) => (e.data as { line: string }).line);
    expect(lines).toHaveLength(101);
    expect(lines[99]).toBe('line 99');
    expect(lines[100]).toBe('... 9900 more lines not kept (HOP3_MAX_OUTPUT_LINES=100)');
    store.close();
  });

  it('adds no line when nothing was dropped, and cuts a long line', () => {
    const store = new Store(':memory:');
    const sink = outputSink(store, 'a', 1, 'release', 10);
    sink.line('x'.repeat(MAX_LINE_CHARS + 500));
    sink.close();
    const lines = store.listEvents({ app: 'a' }).map((e) => (e.data as { line: string }).line);
    expect(lines).toEqual([`${'x'.repeat(MAX_LINE_CHARS)} [... 500 more characters not kept]`]);
    store.close();
  });
});

describe('rotated logs', () => {
  it('keeps the newest generations of each log and leaves other files alone', () => {
    const dir = tempDir();
    for (const f of ['web.log', 'worker.log', 'notes.txt']) writeFileSync(join(dir, f), '');
    for (let t = 1000; t < 1008; t++) writeFileSync(join(dir, `web.log.${t}`), '');
    writeFileSync(join(dir, 'worker.log.5'), '');
    expect(pruneRotatedLogs(dir, 3)).toBe(5);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'web.log', 'web.log.1005', 'web.log.1006', 'web.log.1007', 'worker.log', 'worker.log.5']);
    expect(pruneRotatedLogs(dir, 3)).toBe(0);
  });

  it('rotates an append-mode log past the cap by copy and truncate', () => {
    const dir = tempDir();
    const log = join(dir, 'emperor.log');
    writeFileSync(log, 'a'.repeat(100));
    expect(rotateAppendLog(log, 200, 5_000_000)).toBe(false);
    appendFileSync(log, 'b'.repeat(200));
    expect(rotateAppendLog(log, 200, 5_000_000)).toBe(true);
    expect(statSync(log).size).toBe(0);
    expect(readFileSync(join(dir, 'emperor.log.5000'), 'utf8')).toBe(`${'a'.repeat(100)}${'b'.repeat(200)}`);
  });
});
