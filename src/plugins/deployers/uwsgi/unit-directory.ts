import { readdirSync, statSync } from 'node:fs';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { parseUnitName } from '../unit-name.js';

/**
 * The unit names in a vassal directory, grouped by app. The listing is redone only when the
 * directory's mtime moves (any entry added, removed or renamed), so a pass over many apps lists
 * each directory once instead of once per app. The kernel stamps mtimes from a coarse clock, so
 * a listing taken within a few ms of the last change is not trusted for the next look.
 */
export class UnitDirectory {
  private readonly dir: string;
  private mtimeMs = -1;
  private listedAt = 0;
  private byApp = new Map<string, string[]>();

  constructor(dir: string) {
    this.dir = dir;
  }

  unitsOf(app: string): string[] | Unknown {
    const all = this.all();
    return all === UNKNOWN ? UNKNOWN : (all.get(app) ?? []);
  }

  /** Every app with a unit here. */
  apps(): string[] {
    const all = this.all();
    return all === UNKNOWN ? [] : [...all.keys()];
  }

  private all(): Map<string, string[]> | Unknown {
    try {
      const mtimeMs = statSync(this.dir).mtimeMs;
      if (mtimeMs !== this.mtimeMs || this.listedAt - mtimeMs < 50) {
        const byApp = new Map<string, string[]>();
        for (const f of readdirSync(this.dir)) {
          const unit = f.endsWith('.ini') ? parseUnitName(f.slice(0, -4)) : null;
          if (unit) byApp.set(unit.app, [...(byApp.get(unit.app) ?? []), f.slice(0, -4)]);
        }
        this.byApp = byApp;
        this.mtimeMs = mtimeMs;
        this.listedAt = Date.now();
      }
      return this.byApp;
    } catch {
      this.mtimeMs = -1;
      return UNKNOWN;
    }
  }
}
