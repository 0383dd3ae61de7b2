import { describe, expect, it } from 'vitest';
import { BatchQueue } from '../../src/lib/batch-queue.js';

describe('BatchQueue', () => {
  it('applies what arrives during a batch together in the next one', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const q = new BatchQueue<number>(async (batch) => {
      batches.push(batch);
      if (batches.length === 1) await first;
    });
    const a = q.push(1);
    expect(q.busy).toBe(true);
    const rest = [q.push(2), q.push(3)];
    release();
    await Promise.all([a, ...rest]);
    expect(batches).toEqual([[1], [2, 3]]);
    await q.idle();
    expect(q.busy).toBe(false);
  });

  it('a failed batch is applied one by one: only the bad change fails', async () => {
    const applied: number[][] = [];
    let hold!: () => void;
    const held = new Promise<void>((r) => (hold = r));
    const q = new BatchQueue<number>(async (batch) => {
      applied.push(batch);
      if (applied.length === 1) await held;
      if (batch.includes(13)) throw new Error('refused 13');
    });
    const first = q.push(1);
    const results = [q.push(2), q.push(13), q.push(4)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
    hold();
    await first;
    expect(await Promise.all(results)).toEqual(['ok', 'refused 13', 'ok']);
    expect(applied).toEqual([[1], [2, 13, 4], [2], [13], [4]]);
  });
});
