import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from '../lib/layout.js';
import type { VassalStatus } from '../plugins/deployers/uwsgi/emperor.js';
import { parseUnitName } from '../plugins/deployers/unit-name.js';
import type { DesiredApp, ObservedApp, ObservedUnit, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

export interface ObserveDeps {
  layout: Layout;
  /** Vassal states from the emperor, or UNKNOWN when it cannot be asked. */
  vassals: Map<string, VassalStatus> | Unknown;
  /** Last known master pid per unit; first sightings set it. */
  knownPids: Map<string, number>;
}

function read(path: string): string | null | Unknown {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : UNKNOWN;
  }
}

/** Names of this app's units in a vassal directory. */
function unitsIn(dir: string, app: string): string[] | Unknown {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.ini'))
      .map((f) => f.slice(0, -4))
      .filter((n) => parseUnitName(n)?.app === app);
  } catch {
    return UNKNOWN;
  }
}

/** Look at the machine afresh for one app: files, vassal links, processes, the proxy site. */
export function observe(d: DesiredApp, deps: ObserveDeps): ObservedApp {
  const { layout, vassals, knownPids } = deps;
  const files = new Map<string, string | null | Unknown>();
  for (const unit of d.units) for (const f of [unit.config, ...unit.files]) files.set(f.path, read(f.path));

  const available = unitsIn(layout.uwsgiAvailable, d.app);
  const enabled = unitsIn(layout.uwsgiEnabled, d.app);
  let units: ObservedApp['units'] = UNKNOWN;
  if (available !== UNKNOWN && enabled !== UNKNOWN) {
    units = new Map<string, ObservedUnit>();
    for (const name of new Set([...available, ...enabled])) {
      // An enabled link only counts when it leads to a config file.
      const isEnabled = enabled.includes(name) && existsSync(join(layout.uwsgiEnabled, `${name}.ini`));
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
  return { units, files, site: read(d.site.path) };
}
