import { readFileSync } from 'node:fs';
import { userError } from '../../../lib/errors.js';
import { checkAddonName } from '../addon-name.js';
import type { Inventory } from '../inventory.js';
import { REDIS_BACKUP_MAGIC } from './instances.js';
import type { RedisServer } from './server.js';

/** A Redis instance's contents: the number of keys under its prefix. */
export function redisInventory(server: RedisServer): Inventory {
  return {
    async ofDump(path) {
      const data = readFileSync(path);
      if (!data.subarray(0, REDIS_BACKUP_MAGIC.length).equals(REDIS_BACKUP_MAGIC)) throw userError('ADDON_BACKUP_INVALID', `${path} is not a Redis addon backup hop3 made`);
      let count = 0;
      for (let at = REDIS_BACKUP_MAGIC.length; at < data.length; count++) {
        if (at + 4 > data.length) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
        at += 4 + data.readUInt32BE(at);
        if (at + 12 > data.length) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
        at += 12 + data.readUInt32BE(at + 8);
        if (at > data.length) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short`);
      }
      return { names: [], count };
    },
    async of(name) {
      checkAddonName(name);
      return server.withAdmin(async (c) => {
        let cursor = '0';
        // SCAN may return a key twice.
        const seen = new Set<string>();
        do {
          const [next, keys] = (await c.sendCommand(['SCAN', cursor, 'MATCH', `${name}:*`, 'COUNT', '1000'])) as [string, string[]];
          cursor = String(next);
          for (const k of keys) seen.add(String(k));
        } while (cursor !== '0');
        return { names: [], count: seen.size };
      });
    },
  };
}
