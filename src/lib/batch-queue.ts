interface Waiting<C> {
  change: C;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Changes applied in batches, one batch at a time: what arrives while a batch is applied goes
 * into the next one (one check and one reload for all of them). When a batch fails, its changes
 * are applied one by one, so only the bad one fails.
 */
export class BatchQueue<C> {
  private readonly waiting: Waiting<C>[] = [];
  private flushing: Promise<void> | null = null;
  private readonly applyBatch: (batch: C[]) => Promise<void>;

  constructor(applyBatch: (batch: C[]) => Promise<void>) {
    this.applyBatch = applyBatch;
  }

  /** Resolves once `change` is applied, rejects with why it could not be. */
  push(change: C): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ change, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = null;
      });
    });
  }

  /** A batch is being applied (or waits to be). */
  get busy(): boolean {
    return this.flushing !== null;
  }

  /** Resolves when nothing is left to apply. */
  idle(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0);
      try {
        await this.applyBatch(batch.map((w) => w.change));
        for (const w of batch) w.resolve();
      } catch (err) {
        if (batch.length === 1) {
          batch[0]!.reject(err);
          continue;
        }
        for (const w of batch) await this.applyBatch([w.change]).then(w.resolve, w.reject);
      }
    }
  }
}
