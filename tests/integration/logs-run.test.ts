import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, output, sleep, within } from './harness.js';

/**
 * A web process that prints what it is asked to (and, on /hostile, what no terminal should get)
 * and a worker that ticks: the logs of both, and one-off commands beside them.
 */
const SERVER = `
import http.server, os, sys, time, urllib.parse
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path == "/say":
            print("said " + urllib.parse.unquote(u.query), flush=True)
        elif u.path == "/hostile":
            out = sys.stdout.buffer
            # In pieces of 4000 bytes (each stamped on its own, inside the line), paced: uWSGI's log
            # master cuts a write at 8 KiB (log-master-bufsize), and a burst it cannot take in time is
            # dropped by the app's non-blocking stdout before it reaches the log.
            for _ in range(50):
                out.write(b"x" * 4000)
                time.sleep(0.005)
            out.write(b"\\n")
            out.write(b"esc \\x1b[31mred\\x1b[0m bell \\x07 cr \\r over \\xff\\xfe bad utf8\\n")
            for _ in range(10):
                out.write(b"y" * 4000)
                time.sleep(0.005)
            out.write(b"\\nafter hostile\\n")
            out.flush()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`;

const APP = {
  'server.py': SERVER,
  'worker.sh': 'i=0\nwhile true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done\n',
  Procfile: 'web: python3 -u server.py\nworker: sh worker.sh\n',
};

const STAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (web|worker): /;

describe('hop3 logs and hop3 run', () => {
  const d = new Daemon();
  let dir = '';
  beforeAll(async () => {
    await d.start();
    dir = appDir(APP);
    const r = await d.hop3(['deploy', dir, '--app', 'chatter']);
    expect(r.exitCode, output(r)).toBe(0);
  }, 180_000);
  afterAll(async () => {
    if (process.env.KEEP) { await d.halt(); console.log('home', d.home); return; }
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('run exits with the command status and prints its output, with the app name', async () => {
    const r = await d.hop3(['run', 'chatter', '--', 'sh', '-c', 'echo "app=$HOP3_APP"; echo oops >&2; exit 3']);
    expect(r.exitCode).toBe(3);
    expect(String(r.stdout)).toBe('app=chatter');
    expect(String(r.stderr)).toBe('oops');
  });

  it('run sees config set values and runs in the live release source directory; arguments reach no shell', async () => {
    const set = await d.hop3(['config', 'set', 'chatter', 'GREETING=hello there']);
    expect(set.exitCode, output(set)).toBe(0);
    const r = await d.hop3(['run', 'chatter', '--', 'sh', '-c', 'echo "$GREETING"; pwd; echo "$HOP3_PROCESS $HOP3_RELEASE"']);
    expect(r.exitCode, output(r)).toBe(0);
    const [greeting, cwd, proc] = String(r.stdout).split('\n');
    expect(greeting).toBe('hello there');
    const status = await d.json<{ release: string }>(['status', 'chatter']);
    // Where the web process of the live release runs (a config release runs in the build it shares).
    const web = JSON.parse(readFileSync(`${d.home}/apps/chatter/releases/${status.release}/run/web.json`, 'utf8')) as { cwd: string };
    expect(cwd).toBe(web.cwd);
    expect(cwd).toMatch(new RegExp(`^${d.home}/apps/chatter/releases/v\\d+/src$`));
    expect(proc).toBe(`run ${status.release}`);
    const literal = await d.hop3(['run', 'chatter', '--', 'echo', '$HOP3_APP; id', '--json']);
    expect(literal.exitCode, output(literal)).toBe(0);
    expect(String(literal.stdout)).toBe('$HOP3_APP; id --json');
  }, 120_000);

  it('run: a program that is not there exits 127, an unknown app 125, both saying why', async () => {
    const missing = await d.hop3(['run', 'chatter', '--', 'no-such-program-here']);
    expect(missing.exitCode).toBe(127);
    expect(String(missing.stderr)).toMatch(/no-such-program-here could not be started .*not found/);
    const unknown = await d.hop3(['run', 'nosuchapp', '--', 'true']);
    expect(unknown.exitCode).toBe(125);
    expect(String(unknown.stderr)).toContain('no app named nosuchapp');
    const json = await d.hop3(['run', 'nosuchapp', '--json', '--', 'true']);
    expect(JSON.parse(String(json.stdout)).error.code).toBe('APP_NOT_FOUND');
  });

  it('run: the command dies with the client (Ctrl-C, or a client killed outright)', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      const cli = d.hop3(['run', 'chatter', '--', 'sh', '-c', 'echo $$; exec sleep 300']);
      let out = '';
      cli.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      const { value: pid } = await within(20_000, () => Number(/^(\d+)\n/.exec(out)?.[1]) || 0);
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      cli.kill(signal);
      const r = await cli;
      if (signal === 'SIGINT') expect(r.exitCode).toBe(130);
      // SIGTERM first; the group is gone well within the 5 s grace.
      await within(15_000, () => !existsSync(`/proc/${pid}`));
    }
  }, 60_000);

  it('logs shows both processes merged and stamped; --process filters; --lines bounds', async () => {
    await within(10_000, async () => (await d.get('chatter.localhost', '/say?first')).status === 200);
    await sleep(1000); // a few worker ticks
    const r = await d.hop3(['logs', 'chatter', '--lines', '1000']);
    expect(r.exitCode, output(r)).toBe(0);
    const lines = String(r.stdout).split('\n');
    expect(lines.some((l) => /^\S+ web: said first$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\S+ worker: tick \d+$/.test(l))).toBe(true);
    for (const l of lines) expect(l).toMatch(STAMPED);
    const times = lines.map((l) => l.slice(0, 20));
    expect([...times].sort()).toEqual(times);

    const worker = await d.hop3(['logs', 'chatter', '--process', 'worker']);
    expect(worker.exitCode, output(worker)).toBe(0);
    const wl = String(worker.stdout).split('\n');
    expect(wl.length).toBeGreaterThan(1);
    for (const l of wl) expect(l).toMatch(/^\S+ worker: /);

    const three = await d.hop3(['logs', 'chatter', '--lines', '3', '--json']);
    const parsed = String(three.stdout).split('\n').map((l) => JSON.parse(l) as { time: string; process: string; text: string });
    expect(parsed).toHaveLength(3);
    expect(parsed.every((p) => p.process === 'web' || p.process === 'worker')).toBe(true);

    const bad = await d.hop3(['logs', 'chatter', '--process', 'mailer']);
    expect(bad.exitCode).toBe(1);
    expect(String(bad.stderr)).toContain('chatter has no process mailer');
    expect(String(bad.stderr)).toContain('web, worker');
  }, 60_000);

  it('logs --follow shows a line the app writes, and ends on Ctrl-C', async () => {
    const cli = d.hop3(['logs', 'chatter', '--follow', '--process', 'web', '--lines', '1']);
    let out = '';
    cli.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await within(20_000, () => out.includes('\n'));
    const marker = `m${Date.now()}`;
    const sent = Date.now();
    await d.get('chatter.localhost', `/say?${marker}`);
    const { elapsedMs } = await within(10_000, () => out.includes(`web: said ${marker}\n`)).catch((err: Error) => {
      throw new Error(`${err.message}; followed:\n${out.slice(-3000)}`);
    });
    console.log(`logs --follow: the line arrived ${Date.now() - sent} ms after the request was sent (${elapsedMs} ms after it was answered; target 1000 ms)`);
    cli.kill('SIGINT');
    const r = await cli;
    expect(r.exitCode).toBe(0);
  }, 60_000);

  it('a hostile app (huge lines, escapes, invalid UTF-8) neither stalls the daemon nor reaches the terminal raw', async () => {
    const cli = d.hop3(['logs', 'chatter', '--follow', '--process', 'web', '--lines', '1']);
    let out = '';
    cli.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await within(20_000, () => out.includes('\n'));
    expect((await d.get('chatter.localhost', '/hostile')).status).toBe(200);
    await within(20_000, () => out.includes('web: after hostile\n')).catch((err: Error) => {
      throw new Error(`${err.message}; followed:\n${out.slice(-1500)}`);
    });
    expect((await fetch(`http://127.0.0.1:${d.apiPort}/healthz`)).ok).toBe(true);
    const marker = `n${Date.now()}`;
    await d.get('chatter.localhost', `/say?${marker}`);
    await within(10_000, () => out.includes(`web: said ${marker}\n`));
    cli.kill('SIGINT');
    await cli;

    const r = await d.hop3(['logs', 'chatter', '--process', 'web', '--lines', '20']);
    expect(r.exitCode, output(r)).toBe(0);
    for (const text of [out, String(r.stdout)]) {
      // No control character reaches the reader but the newlines between lines.
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(text).toContain('esc \\x1b[31mred\\x1b[0m bell \\x07 cr \\x0d over \uFFFD\uFFFD bad utf8');
      expect(text).toMatch(/x{4096} \[\.\.\. \d+ more characters not kept\]/);
      for (const l of text.trimEnd().split('\n')) expect(l.length).toBeLessThan(4300);
    }
  }, 90_000);

  it('a stopped app: run refuses clearly (125), logs still reads', async () => {
    const stop = await d.hop3(['stop', 'chatter']);
    expect(stop.exitCode, output(stop)).toBe(0);
    const r = await d.hop3(['run', 'chatter', '--json', '--', 'true']);
    expect(r.exitCode).toBe(125);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('APP_NOT_RUNNING');
    const logs = await d.hop3(['logs', 'chatter', '--lines', '5']);
    expect(logs.exitCode, output(logs)).toBe(0);
    expect(String(logs.stdout).split('\n')).toHaveLength(5);
    const start = await d.hop3(['start', 'chatter']);
    expect(start.exitCode, output(start)).toBe(0);
  }, 120_000);

  it('a command a killed daemon left running is stopped when the daemon starts again', async () => {
    const run = d.hop3(['run', 'chatter', '--', 'sh', '-c', 'echo $$; exec sleep 300']);
    let out = '';
    run.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const { value: pid } = await within(20_000, () => Number(/^(\d+)\n/.exec(out)?.[1]) || 0);
    await d.stop('SIGKILL');
    const r = await run;
    expect(r.exitCode).toBe(125);
    expect(String(r.stderr)).toMatch(/hop3-server/);
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    await d.start();
    await within(15_000, () => !existsSync(`/proc/${pid}`));
  }, 90_000);

  it('logs --follow and a running command end when the daemon stops', async () => {
    const follow = d.hop3(['logs', 'chatter', '--follow']);
    let followed = '';
    follow.stdout!.on('data', (c: Buffer) => (followed += c.toString()));
    await within(20_000, () => followed.includes('\n'));
    const run = d.hop3(['run', 'chatter', '--', 'sh', '-c', 'echo $$; exec sleep 300']);
    let out = '';
    run.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const { value: pid } = await within(20_000, () => Number(/^(\d+)\n/.exec(out)?.[1]) || 0);
    await d.stop('SIGTERM');
    const [f, r] = await Promise.all([follow, run]);
    expect(f.exitCode, output(f)).toBe(0);
    expect(String(f.stderr)).toContain('no longer following: hop3-server is stopping');
    expect(r.exitCode).toBe(128 + 15);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await d.start();
  }, 90_000);
});
