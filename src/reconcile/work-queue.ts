import PQueue from 'p-queue';

interface Slot {
  queued: boolean;
  running: boolean;
  /** Triggered while its pass ran; 'force' when a trigger may not wait for a backoff. */
  dirty: false | 'notice' | 'force';
  failures: number;
  retry: NodeJS.Timeout | null;
  /** A pass asked to be run again after a while (it left the key converging). */
  requeue: NodeJS.Timeout | null;
  waiters: (() => void)[];
}

/**
 * What a pass returns: nothing when the key is converged (the next trigger will say when to
 * look again), or how soon to look again when it is still converging. A pass that throws is
 * retried with backoff.
 */
export type PassOutcome = { requeueAfter?: number } | void;

export interface WorkQueueOptions {
  concurrency: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A smaller cap for some keys (what every other key waits on). */
  maxDelayFor?: (key: string) => number | undefined;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

export interface TriggerOptions {
  /**
   * A key waiting for its retry is not passed earlier. For observations (a file changed, a
   * process exited), which a failing pass may cause itself; a desired change passes at once.
   */
  respectBackoff?: boolean;
}

/**
 * Level-triggered work queue: one pass per key at a time, repeated triggers collapse into one
 * pass, a failing key is retried with capped exponential backoff and never blocks the others.
 */
export class WorkQueue {
  private readonly queue: PQueue;
  private readonly slots = new Map<string, Slot>();
  private readonly worker: (key: string) => Promise<PassOutcome>;
  private readonly opts: Required<Omit<WorkQueueOptions, 'onError' | 'maxDelayFor'>> & Pick<WorkQueueOptions, 'onError' | 'maxDelayFor'>;
  private closed = false;

  constructor(worker: (key: string) => Promise<PassOutcome>, opts: WorkQueueOptions) {
    this.worker = worker;
    this.opts = { baseDelayMs: 1000, maxDelayMs: 60_000, ...opts };
    this.queue = new PQueue({ concurrency: opts.concurrency });
  }

  private slot(key: string): Slot {
    let s = this.slots.get(key);
    if (!s) {
      s = { queued: false, running: false, dirty: false, failures: 0, retry: null, requeue: null, waiters: [] };
      this.slots.set(key, s);
    }
    return s;
  }

  /** Ask for a pass over `key`; resolves when a pass that started after this call has ended. */
  trigger(key: string, opts: TriggerOptions = {}): Promise<void> {
    if (this.closed) return Promise.resolve();
    const s = this.slot(key);
    const done = new Promise<void>((resolve) => s.waiters.push(resolve));
    if (s.running) s.dirty = opts.respectBackoff && s.dirty !== 'force' ? 'notice' : 'force';
    else if (!(opts.respectBackoff && s.retry)) this.enqueue(key, s);
    return done;
  }

  private enqueue(key: string, s: Slot): void {
    if (s.queued || this.closed) return;
    if (s.retry) {
      clearTimeout(s.retry);
      s.retry = null;
    }
    if (s.requeue) {
      clearTimeout(s.requeue);
      s.requeue = null;
    }
    s.queued = true;
    void this.queue.add(() => this.runPass(key, s));
  }

  private async runPass(key: string, s: Slot): Promise<void> {
    s.queued = false;
    s.running = true;
    s.dirty = false;
    const waiters = s.waiters.splice(0);
    let failed = false;
    let requeueAfter: number | undefined;
    try {
      requeueAfter = (await this.worker(key))?.requeueAfter;
      s.failures = 0;
    } catch (err) {
      failed = true;
      s.failures++;
      const delay = Math.min(this.opts.maxDelayFor?.(key) ?? this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (s.failures - 1));
      this.opts.onError?.(key, err, delay);
      if (!this.closed) s.retry = setTimeout(() => { s.retry = null; this.enqueue(key, s); }, delay);
    } finally {
      s.running = false;
      for (const w of waiters) w();
    }
    const dirty = s.dirty as Slot['dirty']; // set by triggers while the pass ran
    if (dirty === 'force' || (dirty && !failed)) this.enqueue(key, s);
    else if (requeueAfter !== undefined && !this.closed) s.requeue = setTimeout(() => { s.requeue = null; this.enqueue(key, s); }, requeueAfter);
    else if (!s.queued && !s.running && !s.retry && s.waiters.length === 0) this.slots.delete(key);
  }

  /** Stop taking work and wait for the passes in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.slots.values()) {
      if (s.retry) clearTimeout(s.retry);
      if (s.requeue) clearTimeout(s.requeue);
    }
    this.queue.clear();
    await this.queue.onIdle();
    for (const s of this.slots.values()) for (const w of s.waiters.splice(0)) w();
  }

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }
}
