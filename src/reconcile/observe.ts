import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { linksTo, type Layout } from '../lib/layout.js';
import { parseUnitName } from '../plugins/deployers/unit-name.js';
import type { LoadedConfig, UnitStatus } from '../plugins/types.js';
import type { DesiredResource, Observed, Provider } from '../plugins/provider.js';
import type { DesiredApp, ObservedApp, ObservedUnit, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

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
      return this.byApp.get(app) ?? [];
    } catch {
      this.mtimeMs = -1;
      return UNKNOWN;
    }
  }
}

export interface ObserveDeps {
  layout: Layout;
  available: UnitDirectory;
  enabled: UnitDirectory;
  /** Vassal states from the emperor, or UNKNOWN when it cannot be asked. */
  vassals: Map<string, UnitStatus> | Unknown;
  /** Last known master pid per unit; first sightings set it. */
  knownPids: Map<string, number>;
  /** What the proxy's running server loaded. */
  proxy: LoadedConfig;
}

function read(path: string): string | null | Unknown {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : UNKNOWN;
  }
}

/** Look at the machine afresh for one app: files, vassal links, processes, the proxy site. */
export function observe(d: DesiredApp, deps: ObserveDeps): ObservedApp {
  const { layout, vassals, knownPids } = deps;
  const files = new Map<string, string | null | Unknown>();
  for (const unit of d.units) for (const f of [unit.config, ...unit.files]) files.set(f.path, read(f.path));

  const available = deps.available.unitsOf(d.app);
  const enabled = deps.enabled.unitsOf(d.app);
  let units: ObservedApp['units'] = UNKNOWN;
  if (available !== UNKNOWN && enabled !== UNKNOWN) {
    units = new Map<string, ObservedUnit>();
    for (const name of new Set([...available, ...enabled])) {
      // Enabled means hop3's own link to hop3's config file, nothing else in its place.
      const isEnabled = enabled.includes(name) && available.includes(name)
        && linksTo(join(layout.uwsgiEnabled, `${name}.ini`), join(layout.uwsgiAvailable, `${name}.ini`));
      let process: ObservedUnit['process'] = UNKNOWN;
      if (vassals !== UNKNOWN) {
        const v = vassals.get(`${name}.ini`);
        process = null;
        if (v) {
          const known = knownPids.get(name);
          if (known === undefined) knownPids.set(name, v.pid);
          process = { ...v, restartedFrom: known !== undefined && known !== v.pid ? known : null };
        }
      }
      units.set(name, { present: available.includes(name), enabled: isEnabled, process });
    }
  }
  const site = read(d.site.path);
  const loaded = site === UNKNOWN ? null : deps.proxy.loaded(d.site.path, site);
  return { units, files, site, siteLoaded: loaded ?? UNKNOWN, resources: new Map() };
}

/** Each provider looks at the owner's resources of its kind; one that fails is UNKNOWN as a whole. */
export async function observeResources(providers: readonly Provider[], owner: string, desired: DesiredResource[]): Promise<ObservedApp['resources']> {
  const seen: ObservedApp['resources'] = new Map();
  await Promise.all(providers.map(async (p) => {
    let live: Observed<unknown> | Unknown;
    try {
      live = await p.observe(owner, desired.filter((r) => r.kind === p.kind));
    } catch {
      live = UNKNOWN;
    }
    seen.set(p.kind, live);
  }));
  return seen;
}
