/**
 * Chaos: the daemon is killed (-9) at a random moment of a push, a deploy or a config change
 * while clients keep requesting the app through nginx. After every restart the app must serve
 * and be Healthy, each client's exit code must match what went live, no vassal of an old
 * release may be left, the database must be intact, and no request may have failed, not even
 * while the daemon was down (the emperor and nginx serve without it).
 */
import Database from 'better-sqlite3';
import { execa, type ResultPromise } from 'execa';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, EXAMPLES, git, GIT_ENV, output, ROOT, sleep, underLoad, within } from './harness.js';

const HOP3 = join(ROOT, 'bin', 'hop3');

const ITERATIONS = 15;
const APP = 'hello-wsgi';

/** A small seeded generator, so a failing run can be replayed with CHAOS_SEED. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Op = 'push' | 'deploy' | 'config';

interface Release { version: string; status: string; source: string; current: boolean }

describe('chaos: kill -9 of the daemon at random points', () => {
  const d = new Daemon();
  const work = mkdtempSync(join(tmpdir(), 'hop3-chaos-'));
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 1_000_000);
  const random = rng(seed);

  beforeAll(async () => {
    await d.start();
    cpSync(join(EXAMPLES, APP), work, { recursive: true });
    // A release phase, so that some kills land in a release command.
    const toml = readFileSync(join(work, 'hop3.toml'), 'utf8').replace('[run]\n', '[run]\nbefore-run = ["sleep 0.3"]\n');
    writeFileSync(join(work, 'hop3.toml'), toml);
    for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'base']]) {
      const r = await git(work, args);
      expect(r.exitCode, output(r)).toBe(0);
    }
    const r = await d.hop3(['deploy', work, '--app', APP]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
  });
  afterAll(async () => {
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  const releases = async () => d.json<Release[]>(['releases', APP]);

  /** Start one client operation; it runs as its own process, as a user's would. */
  function client(op: Op, i: number): ResultPromise {
    const env = { ...d.env, ...GIT_ENV };
    if (op === 'config') return execa(HOP3, ['config', 'set', APP, `CHAOS=${i}`], { env, reject: false, timeout: 120_000 });
    appendFileSync(join(work, 'app.py'), `# chaos ${i}\n`);
    if (op === 'deploy') return execa(HOP3, ['deploy', work, '--app', APP], { env, reject: false, timeout: 120_000 });
    const url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    return execa('sh', ['-c', `git -c user.email=t@t -c user.name=t commit -q -am "chaos ${i}" && git push -q ${url} HEAD:main`], { cwd: work, env, reject: false, timeout: 120_000 });
  }

  it(`keeps every promise over ${ITERATIONS} kills`, async () => {
    console.log(`chaos seed ${seed} (replay with CHAOS_SEED=${seed})`);
    const ops: Op[] = ['push', 'deploy', 'config'];
    const load = await underLoad(d.httpPort, `${APP}.localhost`, async () => {
      for (let i = 1; i <= ITERATIONS; i++) {
        const op = ops[Math.floor(random() * ops.length)]!;
        // Up to about how long each takes here, so kills land in every phase.
        const delay = Math.floor(random() * { push: 3000, deploy: 2500, config: 1500 }[op]);
        const before = new Set((await releases()).map((r) => r.version));
        const running = client(op, i);
        await sleep(delay);
        await d.stop('SIGKILL');
        await d.start();
        const result = await running;
        // What went live is what the records say once the restarted daemon has settled.
        const look = async () => {
          const s = await d.json<{ health: string; sync: string; release: string | null; message: string }>(['status', APP]);
          const rs = await releases();
          // Two reads: a rollout (the rollback of an unlanded push) may have ended between them.
          const live = rs.find((r) => r.status === 'live')?.version ?? null;
          return { s, rs, busy: rs.some((r) => r.status === 'pending' || r.status === 'built') || live !== s.release };
        };
        const { value: settled } = await within(60_000, async () => {
          const seen = await look();
          return !seen.busy && seen.s.health === 'Healthy' ? seen : null;
        }).catch(async (err: unknown) => {
          const seen = await look().catch((e: unknown) => String(e));
          throw new Error(`#${i} ${op} killed after ${delay} ms (exit ${result.exitCode}) did not settle: ${String(err)}\n${JSON.stringify(seen, null, 1)}\n${output(result)}`);
        }).then((w) => ({ value: w.value! }));
        // The client's own releases: a rollback the daemon made of an unlanded push is not one.
        const created = settled.rs.filter((r) => !before.has(r.version) && r.source !== 'rollback');
        const wentLive = created.filter((r) => r.status === 'live' || r.status === 'retired');
        const verdict = `#${i} ${op} killed after ${delay} ms: exit ${result.exitCode}, created ${created.map((r) => `${r.version}:${r.status}`).join(' ') || 'nothing'}`;
        console.log(verdict);
        if (result.exitCode === 0) {
          // Success means the release it made is the one serving now (one client at a time).
          expect(created.length, verdict).toBe(1);
          expect(created[0]!.current, `${verdict}\n${output(result)}`).toBe(true);
        } else {
          expect(created.filter((r) => r.current), `${verdict}\n${output(result)}`).toEqual([]);
          // Only a push can have gone live before the kill cut git's answer short; it is then rolled
          // back, and the event says so.
          const unlanded = new Set((await d.json<{ kind: string; data: { release: number } }[]>(['events', APP, '--limit', '1000']))
            .filter((e) => e.kind === 'push.unlanded').map((e) => `v${e.data.release}`));
          expect(wentLive.filter((r) => op !== 'push' || !unlanded.has(r.version)), `${verdict}\n${output(result)}`).toEqual([]);
        }
        // No vassal of a release other than the current one is left.
        const current = settled.s.release;
        const enabled = readdirSync(join(d.home, 'uwsgi-enabled')).filter((f) => f.endsWith('.ini'));
        expect(enabled.filter((f) => !f.startsWith(`${APP}.${current}.`)), verdict).toEqual([]);
        const served = await d.get(`${APP}.localhost`);
        expect(served.status, verdict).toBe(200);
        expect(JSON.parse(served.body).release, verdict).toBe(current);
      }
    }, { workers: 2, limitMs: 20 * 60_000 });
    console.log(`chaos: ${load.ok} requests, ${load.failures.length} failed`);
    expect(load.failures.slice(0, 20)).toEqual([]);

    const db = new Database(join(d.home, 'hop3.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 25 * 60_000);
});
