import type { AddonRecord } from '../../../store/types.js';
import { operationalError } from '../../../lib/errors.js';
import type { AddonPlugins } from '../index.js';
import type { AddonResolver } from './backups.js';

/**
 * Addons as the records know them: an addon's type comes from its record and its credentials are
 * opened from the sealed ones there, so a restore in place keeps the password the apps have.
 */
export function addonsOfRecords(addons: Pick<AddonPlugins, 'of' | 'credentials'>, records: { getAddon(name: string): AddonRecord | null }): AddonResolver {
  return {
    async find(name) {
      const rec = records.getAddon(name);
      if (rec === null) return null;
      const def = addons.of(rec.type);
      return { name, type: def.type, credentials: addons.credentials().open(def.provider.kind, name, rec.credentials) };
    },
    async target(type) {
      const def = addons.of(type);
      if (!def.server.wanted()) throw operationalError('ADDON_SERVER_DOWN', `hop3 uses no ${type} server: no ${type} addon is recorded`);
      await def.server.ensureRunning();
      return def;
    },
  };
}
