import { ListedDirectory } from '../../../lib/listed-directory.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { parseUnitName } from '../unit-name.js';

function byApp(files: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of files) {
    const unit = f.endsWith('.ini') ? parseUnitName(f.slice(0, -4)) : null;
    if (unit) out.set(unit.app, [...(out.get(unit.app) ?? []), f.slice(0, -4)]);
  }
  return out;
}

/** The unit names in a vassal directory, grouped by app (listed once per change: see ListedDirectory). */
export class UnitDirectory {
  private readonly listing: ListedDirectory<Map<string, string[]>>;

  constructor(dir: string) {
    this.listing = new ListedDirectory(dir, byApp);
  }

  unitsOf(app: string): string[] | Unknown {
    const all = this.listing.look();
    return all === UNKNOWN ? UNKNOWN : (all.get(app) ?? []);
  }

  /** Every app with a unit here. */
  apps(): string[] {
    const all = this.listing.look();
    return all === UNKNOWN ? [] : [...all.keys()];
  }

  /** hop3 wrote or removed a unit here. */
  changed(): void {
    this.listing.changed();
  }
}
