import Database from 'better-sqlite3';
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appDir, daemonForTests, sleep, within } from './harness.js';

const WSGI = {
  'app.py': 'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"ok"]\n',
};

const dbSize = (home: string) => ['hop3.db', 'hop3.db-wal'].reduce((n, f) => n + (statSync(join(home, f), { throwIfNoEntry: false })?.size ?? 0), 0);

describe('bounded build output', () => {
  const { d, removeAfter } = daemonForTests();

  it('a build printing a million lines keeps the cap and one line saying how many were dropped; the deploy succeeds', async () => {
    const dir = removeAfter(appDir({ ...WSGI, 'hop3.toml': '[run]\nstart = "app:application"\n[build]\nbefore-build = ["seq 1 1000000", "head -c 20000 /dev/zero | tr \'\\\\0\' x"]\n' }));
    const before = dbSize(d.home);
    const start = Date.now();
    const r = await d.hop3(['deploy', dir, '--app', 'chatty']);
    const deployMs = Date.now() - start;
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    expect((await d.get('chatty.localhost')).body).toBe('ok');

    const db = new Database(join(d.home, 'hop3.db'), { readonly: true });
    try {
      const lines = db.prepare("SELECT json_extract(data, '$.line') FROM events WHERE app = 'chatty' AND kind = 'output' AND json_extract(data, '$.phase') = 'build' ORDER BY id")
        .pluck().all() as string[];
      const at = (kind: string) => Date.parse(db.prepare("SELECT at FROM events WHERE app = 'chatty' AND kind = ?").pluck().get(kind) as string);
      const buildMs = at('build.succeeded') - at('build.started');
      expect(lines.length).toBeLessThanOrEqual(10_001);
      expect(lines.length).toBeGreaterThanOrEqual(10_000);
      // The builder's own lines and the first build command's come first; everything past 10000 is counted.
      expect(lines).toContain('9000');
      expect(lines).not.toContain('1000000');
      const dropped = lines.at(-1)!;
      expect(dropped).toMatch(/^\.\.\. \d+ more lines not kept \(HOP3_MAX_OUTPUT_LINES=10000\)$/);
      // Every line printed is either kept or counted: 1000000 from seq, 1 from head, the builder's own.
      const counted = Number(/\d+/.exec(dropped)![0]) + lines.length - 1;
      expect(counted).toBeGreaterThanOrEqual(1_000_001);
      const grown = dbSize(d.home) - before;
      const dbFile = statSync(join(d.home, 'hop3.db')).size;
      console.log(`1M-line build: build ${buildMs} ms, deploy ${deployMs} ms, ${lines.length} lines kept, hop3.db ${(dbFile / 1e6).toFixed(2)} MB, with its WAL grew ${(grown / 1e6).toFixed(2)} MB`);
      expect(grown).toBeLessThan(10_000_000);
    } finally {
      db.close();
    }
  }, 300_000);

  it('cuts a line longer than 4096 characters', async () => {
    const dir = removeAfter(appDir({ ...WSGI, 'hop3.toml': '[run]\nstart = "app:application"\n[build]\nbefore-build = ["head -c 20000 /dev/zero | tr \'\\\\0\' x; echo"]\n' }));
    const r = await d.hop3(['deploy', dir, '--app', 'wide']);
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    const events = await d.json<{ kind: string; data: { line?: string } }[]>(['events', 'wide', '--limit', '1000']);
    const long = events.map((e) => e.data.line ?? '').filter((l) => l.startsWith('xxxx'));
    expect(long).toEqual([`${'x'.repeat(4096)} [... ${20_000 - 4096} more characters not kept]`]);
  });
});

describe('process logs are rotated and old generations pruned', () => {
  const MAX = 65_536;
  const KEEP = 2;
  const { d, removeAfter } = daemonForTests({ HOP3_LOG_MAX_BYTES: String(MAX), HOP3_LOG_KEEP: String(KEEP), HOP3_RESYNC_SECONDS: '1' });

  it(`a process writing ~600 KB leaves at most ${KEEP} rotated generations of about ${MAX} bytes beside its log`, async () => {
    // About 64 KB a second for nine seconds, then quiet.
    const spam = 'import sys, time\nfor i in range(90):\n    sys.stdout.write(("y" * 199 + "\\n") * 32)\n    sys.stdout.flush()\n    time.sleep(0.1)\ntime.sleep(3600)\n';
    const dir = removeAfter(appDir({ ...WSGI, Procfile: 'wsgi: app:application\nworker: exec python3 spam.py\n', 'spam.py': spam }));
    const r = await d.hop3(['deploy', dir, '--app', 'noisy']);
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    const logDir = join(d.home, 'apps', 'noisy', 'log');
    const logs = () => readdirSync(logDir).filter((f) => f.startsWith('worker.log'));
    const seen = new Set<string>();
    await within(30_000, () => {
      for (const f of logs()) seen.add(f);
      return seen.size >= KEEP + 3; // the writer has gone through several rotations
    });
    await sleep(12_000); // the writer is done, the next resyncs prune
    const left = logs().sort();
    const sizes = left.map((f) => statSync(join(logDir, f)).size);
    console.log(`worker logs after ~600 KB: ${left.map((f, i) => `${f}=${sizes[i]}`).join(' ')} (${seen.size} files seen)`);
    expect(left).toContain('worker.log');
    expect(left.length).toBeLessThanOrEqual(KEEP + 1);
    expect(left.filter((f) => /^worker\.log\.\d+$/.test(f))).toHaveLength(KEEP);
    // uWSGI checks the size about once a second, so a file may pass the cap by a second's output.
    for (const size of sizes) expect(size).toBeLessThan(MAX * 3);
  }, 120_000);

  it("rotates the daemon's own logs past the cap by copy and truncate; nginx goes on writing into the emptied file", async () => {
    const logDir = join(d.home, 'log');
    const access = join(logDir, 'nginx-access.log');
    for (const t of [100, 200, 300]) writeFileSync(join(logDir, `nginx-access.log.${t}`), 'old\n'); // older generations
    appendFileSync(access, `${'z'.repeat(MAX + 1000)}\n`);
    await within(10_000, () => statSync(access).size < MAX && readdirSync(logDir).filter((f) => /^nginx-access\.log\.\d+$/.test(f)).length === KEEP);
    const generations = readdirSync(logDir).filter((f) => /^nginx-access\.log\.\d+$/.test(f))
      .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
    expect(generations[0]).toBe('nginx-access.log.300'); // the oldest went
    expect(readFileSync(join(logDir, generations[1]!), 'utf8')).toContain('z'.repeat(1000));
    await d.get('noisy.localhost');
    await within(5000, () => readFileSync(access, 'utf8').includes('GET / '));
    const text = readFileSync(access);
    expect(text[0]).not.toBe(0); // appended at the new end: no hole where the old content was
    expect(text.includes('zzzz')).toBe(false);
  }, 60_000);
});
