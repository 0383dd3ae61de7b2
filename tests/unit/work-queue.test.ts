import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/reconcile/work-queue.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A promise with its resolve function, to hold a pass open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** Resolves when `cond` holds (polling), or fails after `ms`. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(2);
  }
}

// A broken queue tends to hang (a trigger that never resolves): fail fast instead.
describe('WorkQueue', { timeout: 5000 }, () => {
  it('runs one pass per trigger when idle', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(async (k) => void runs.push(k), { concurrency: 2 });
    await q.trigger('a');
    expect(runs).toEqual(['a']);
    await q.trigger('a');
    expect(runs).toEqual(['a', 'a']);
    await q.close();
  });

  it('repeated triggers while a pass runs collapse into exactly one more pass', async () => {
    let passes = 0;
    const first = gate();
    const q = new WorkQueue(async () => {
      passes++;
      if (passes === 1) await first.promise;
    }, { concurrency: 4 });
    const p0 = q.trigger('a');
    await until(() => passes === 1);
    const later = Array.from({ length: 10 }, () => q.trigger('a'));
    first.open();
    await p0;
    await Promise.all(later);
    await q.onIdle();
    await sleep(20);
    expect(passes).toBe(2);
    await q.close();
  });

  it('triggers queued but not yet started collapse into the queued pass', async () => {
    const passes = new Map<string, number>();
    const busy = gate();
    const q = new WorkQueue(async (k) => {
      passes.set(k, (passes.get(k) ?? 0) + 1);
      if (k === 'busy') await busy.promise;
    }, { concurrency: 1 });
    const b = q.trigger('busy');
    await until(() => passes.get('busy') === 1);
    // The only slot is taken: 'a' waits in the queue; more triggers join that queued pass.
    const waiting = [q.trigger('a'), q.trigger('a'), q.trigger('a')];
    expect(passes.get('a')).toBeUndefined();
    busy.open();
    await Promise.all([b, ...waiting]);
    await q.onIdle();
    expect(passes.get('a')).toBe(1);
    expect(passes.get('busy')).toBe(1);
    await q.close();
  });

  it('a trigger resolves only after a pass that started after it has ended', async () => {
    const seen: number[] = [];
    let state = 0;
    const first = gate();
    let passes = 0;
    const q = new WorkQueue(async () => {
      passes++;
      const read = state; // level-triggered: a pass reads the records when it starts
      if (passes === 1) await first.promise;
      seen.push(read);
    }, { concurrency: 1 });
    void q.trigger('a');
    await until(() => passes === 1);
    state = 1; // a record change while the first pass runs
    const second = q.trigger('a');
    first.open();
    await second;
    // The pass that resolved `second` read the new state.
    expect(seen).toEqual([0, 1]);
    await q.close();
  });

  it('never runs two passes for the same key at once', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let passes = 0;
    const q = new WorkQueue(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      passes++;
      await sleep(5);
      inFlight--;
    }, { concurrency: 8 });
    const all: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      all.push(q.trigger('a'));
      await sleep(1);
    }
    await Promise.all(all);
    await q.onIdle();
    expect(maxInFlight).toBe(1);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(passes).toBeLessThan(20);
    await q.close();
  });

  it.each([1, 2, 3])('runs different keys in parallel up to concurrency %i', async (concurrency) => {
    let inFlight = 0;
    let maxInFlight = 0;
    const q = new WorkQueue(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(20);
      inFlight--;
    }, { concurrency });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => q.trigger(k)));
    expect(maxInFlight).toBe(concurrency);
    await q.close();
  });

  it('runs at most `concurrency` passes at once, the waiting keys in the order they were triggered, and is idle after the last', async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const q = new WorkQueue(async (k) => {
      started.push(k);
      most = Math.max(most, ++running);
      const g = gate();
      gates.set(k, g);
      await g.promise;
      running--;
    }, { concurrency: 2 });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const all = Promise.all(keys.map((k) => q.trigger(k)));
    expect(started).toEqual(['a', 'b']);
    let idle = false;
    void q.onIdle().then(() => (idle = true));
    gates.get('b')!.open();
    await until(() => started.length === 3);
    expect(started).toEqual(['a', 'b', 'c']);
    gates.get('a')!.open();
    await until(() => started.length === 4);
    for (const k of ['c', 'd']) gates.get(k)!.open();
    await until(() => started.length === 5);
    expect(idle).toBe(false);
    gates.get('e')!.open();
    await all;
    await until(() => idle);
    expect(started).toEqual(keys);
    expect(most).toBe(2);
  });

  it('retries a failing key with exponential backoff and does not block another key', async () => {
    const attempts: number[] = [];
    const delays: number[] = [];
    let bPasses = 0;
    const t0 = Date.now();
    const q = new WorkQueue(
      async (k) => {
        if (k === 'b') {
          bPasses++;
          return;
        }
        attempts.push(Date.now() - t0);
        if (attempts.length < 4) throw new Error(`boom ${attempts.length}`);
      },
      { concurrency: 1, baseDelayMs: 10, maxDelayMs: 10_000, onError: (key, err, ms) => { expect(key).toBe('a'); expect(err).toBeInstanceOf(Error); delays.push(ms); } },
    );
    await q.trigger('a');
    // 'a' is waiting for its retry: another key still runs right away.
    await q.trigger('b');
    expect(bPasses).toBe(1);
    expect(attempts).toHaveLength(1);
    await until(() => attempts.length === 4);
    expect(delays).toEqual([10, 20, 40]);
    // Each retry waited at least its delay.
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(delays[i - 1]! - 2);
    // After the success nothing is retried any more.
    await sleep(30);
    expect(attempts).toHaveLength(4);
    await q.close();
  });

  it('resets the backoff after a success', async () => {
    const delays: number[] = [];
    let passes = 0;
    const q: WorkQueue = new WorkQueue(async () => {
      passes++;
      if (passes === 4) {
        void q.trigger('a'); // a change while the successful pass runs: one more pass follows at once
        return;
      }
      if (passes <= 5) throw new Error(`boom ${passes}`);
    }, { concurrency: 1, baseDelayMs: 5, maxDelayMs: 1000, onError: (_k, _e, ms) => delays.push(ms) });
    await q.trigger('a');
    await until(() => delays.length === 4);
    // Three failures back off 5, 10, 20; after the success the next failure starts at 5 again.
    expect(delays).toEqual([5, 10, 20, 5]);
    await until(() => passes === 6);
    await q.close();
  });

  it('caps retry delays at maxDelayMs', async () => {
    const delays: number[] = [];
    const q = new WorkQueue(async () => {
      throw new Error('always');
    }, { concurrency: 1, baseDelayMs: 2, maxDelayMs: 12, onError: (_k, _e, ms) => delays.push(ms) });
    await q.trigger('a');
    await until(() => delays.length >= 6);
    await q.close();
    expect(delays.slice(0, 6)).toEqual([2, 4, 8, 12, 12, 12]);
  });

  it('caps a key that maxDelayFor names lower than the others', async () => {
    const delays = new Map<string, number[]>();
    const q = new WorkQueue(async () => {
      throw new Error('always');
    }, { concurrency: 2, baseDelayMs: 2, maxDelayMs: 12, maxDelayFor: (k) => (k === 'host' ? 4 : undefined), onError: (k, _e, ms) => delays.set(k, [...(delays.get(k) ?? []), ms]) });
    void q.trigger('a');
    await q.trigger('host');
    await until(() => (delays.get('a')?.length ?? 0) >= 5 && (delays.get('host')?.length ?? 0) >= 5);
    await q.close();
    expect(delays.get('a')!.slice(0, 5)).toEqual([2, 4, 8, 12, 12]);
    expect(delays.get('host')!.slice(0, 5)).toEqual([2, 4, 4, 4, 4]);
  });

  it('a trigger during backoff runs at once instead of waiting for the retry', async () => {
    let passes = 0;
    const delays: number[] = [];
    const q = new WorkQueue(async () => {
      passes++;
      if (passes === 1) throw new Error('boom');
    }, { concurrency: 1, baseDelayMs: 60_000, onError: (_k, _e, ms) => delays.push(ms) });
    await q.trigger('a');
    expect(delays).toEqual([60_000]);
    const t = Date.now();
    await q.trigger('a');
    expect(passes).toBe(2);
    expect(Date.now() - t).toBeLessThan(1000);
    await q.close();
  });

  it('an observation during backoff waits for the retry (a failing pass cannot spin on its own file events)', async () => {
    let passes = 0;
    const q = new WorkQueue(async () => {
      passes++;
      if (passes === 1) throw new Error('boom');
    }, { concurrency: 1, baseDelayMs: 80 });
    await q.trigger('a');
    expect(passes).toBe(1);
    const t = Date.now();
    const noticed = Array.from({ length: 20 }, () => q.trigger('a', { respectBackoff: true }));
    await sleep(20);
    expect(passes).toBe(1);
    await Promise.all(noticed);
    expect(passes).toBe(2);
    expect(Date.now() - t).toBeGreaterThanOrEqual(60);
    await q.close();
  });

  it('observations while a failing pass runs do not rerun it at once; a desired change does', async () => {
    for (const respectBackoff of [true, false]) {
      let passes = 0;
      const first = gate();
      const q = new WorkQueue(async () => {
        passes++;
        if (passes === 1) {
          await first.promise;
          throw new Error('boom');
        }
      }, { concurrency: 1, baseDelayMs: 60_000 });
      const p0 = q.trigger('a');
      await until(() => passes === 1);
      void q.trigger('a', { respectBackoff });
      first.open();
      await p0;
      await sleep(30);
      expect(passes).toBe(respectBackoff ? 1 : 2);
      await q.close();
    }
  });

  it('close() waits for passes in flight, then refuses new work', async () => {
    const g = gate();
    let started = 0;
    let finished = 0;
    const q = new WorkQueue(async () => {
      started++;
      await g.promise;
      finished++;
    }, { concurrency: 2 });
    const a = q.trigger('a');
    void q.trigger('b');
    void q.trigger('c'); // queued behind a and b: dropped by close()
    await until(() => started === 2);
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await sleep(10);
    expect(closed).toBe(false);
    g.open();
    await closing;
    await a;
    expect(finished).toBe(2);
    expect(started).toBe(2);

    void q.trigger('d');
    await sleep(20);
    expect(started).toBe(2);
  });

  it('close() cancels pending retries', async () => {
    let passes = 0;
    const q = new WorkQueue(async () => {
      passes++;
      throw new Error('boom');
    }, { concurrency: 1, baseDelayMs: 10 });
    await q.trigger('a');
    expect(passes).toBe(1);
    await q.close();
    await sleep(40);
    expect(passes).toBe(1);
  });

  it('a pass that returns requeueAfter runs again after that delay, without counting as a failure', async () => {
    const at: number[] = [];
    const errors: unknown[] = [];
    const t0 = Date.now();
    const q = new WorkQueue(async () => {
      at.push(Date.now() - t0);
      return at.length < 3 ? { requeueAfter: 30 } : undefined;
    }, { concurrency: 1, baseDelayMs: 1, onError: (_k, e) => errors.push(e) });
    await q.trigger('a');
    await until(() => at.length === 3);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(28);
    // The third pass converged: nothing is requeued any more.
    await sleep(60);
    expect(at).toHaveLength(3);
    expect(errors).toEqual([]);
    await q.close();
  });

  it('a notice during a requeue delay runs at once, and close() cancels a pending requeue', async () => {
    let passes = 0;
    const q = new WorkQueue(async () => {
      passes++;
      return { requeueAfter: 60_000 };
    }, { concurrency: 1 });
    await q.trigger('a');
    await q.trigger('a', { respectBackoff: true });
    expect(passes).toBe(2);
    await q.close();
    await sleep(20);
    expect(passes).toBe(2);
  });
});
