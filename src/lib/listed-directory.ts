import { readdirSync, statSync } from 'node:fs';
import { UNKNOWN, type Unknown } from './unknown.js';

/** A look this recent is reused: a pass over many apps asks about the same directory for each. */
const REUSE_MS = 20;
/** The kernel stamps mtimes from a coarse clock: a listing this close to the mtime is not trusted for the next look. */
const SETTLED_MS = 50;

/**
 * What a directory lists, summarized once per change: the listing is redone only when the
 * directory's mtime moves (an entry added, removed or renamed), so a pass over many apps lists
 * it once instead of once per app, and a look within REUSE_MS of the last one reuses it (as the
 * emperor's stats are reused for 100 ms). Whoever writes in the directory calls `changed()`, so
 * its own change is seen by the very next look. A directory that cannot be looked at is
 * UNKNOWN; so is one that is not there, unless `absentIsEmpty` (a directory made on first use).
 */
export class ListedDirectory<T> {
  private mtimeMs = -1;
  private listedAt = 0;
  private lookedAt = -Infinity;
  private summary: T | null = null;
  private readonly dir: string;
  private readonly summarize: (files: string[]) => T;
  private readonly absentIsEmpty: boolean;

  constructor(dir: string, summarize: (files: string[]) => T, absentIsEmpty = false) {
    this.dir = dir;
    this.summarize = summarize;
    this.absentIsEmpty = absentIsEmpty;
  }

  look(): T | Unknown {
    const now = performance.now();
    if (this.summary !== null && now - this.lookedAt < REUSE_MS) return this.summary;
    try {
      const st = this.absentIsEmpty ? statSync(this.dir, { throwIfNoEntry: false }) : statSync(this.dir);
      const mtimeMs = st ? st.mtimeMs : -2;
      if (this.summary === null || mtimeMs !== this.mtimeMs || this.listedAt - mtimeMs < SETTLED_MS) {
        this.summary = this.summarize(st ? readdirSync(this.dir) : []);
        this.mtimeMs = mtimeMs;
        this.listedAt = Date.now();
      }
      this.lookedAt = now;
      return this.summary;
    } catch {
      this.changed();
      return UNKNOWN;
    }
  }

  /** The directory was written to: the next look lists it again. */
  changed(): void {
    this.summary = null;
    this.mtimeMs = -1;
  }
}
