import { existsSync } from 'node:fs';
import { UNKNOWN } from '../../../lib/unknown.js';
import type { AddonDefinition } from '../addon.js';
import type { InstanceSpec } from '../instance-provider.js';
import type { AddonResolver } from './backups.js';
import { operationalError } from '../../../lib/errors.js';

/**
 * Addons as the servers show them, until the addon records exist: an addon is an instance of
 * that name on one of hop3's servers that has been initialised. Its credentials come from
 * `credentials` (the records, once wired; none before, so a restore in place is refused and a
 * restore `--to` a new name makes it with new credentials).
 *
 * Wiring, once the records land: `find(name)` reads the addon's record (type) and opens its
 * sealed credentials (credentialBox(layout).open); `target(type)` is the registry's definition of
 * that type. Nothing else in backups changes.
 */
export function addonsOnServers(defs: readonly AddonDefinition[], credentials: (name: string) => InstanceSpec | null = () => null): AddonResolver {
  return {
    async find(name) {
      for (const d of defs) {
        if (!existsSync(d.server.paths.data) || !d.server.alive()) continue;
        const seen = await d.instances.observe([{ name, password: '' }]);
        if (seen !== UNKNOWN && (seen.get(name) ?? null) !== null) return { name, type: d.type, credentials: credentials(name) };
      }
      return null;
    },
    async target(type) {
      const d = defs.find((x) => x.type === type);
      if (d === undefined) throw operationalError('ADDON_SERVER_DOWN', `this hop3 runs no ${type} server`);
      await d.server.ensureRunning();
      return d;
    },
  };
}
