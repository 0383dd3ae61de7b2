import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { userError } from '../../../lib/errors.js';
import { checkAddonName } from '../addon-name.js';
import type { Contents, Inventory } from '../inventory.js';
import type { MariadbServer } from './server.js';

const CREATE_TABLE = /^CREATE TABLE `((?:[^`]|``)+)` \($/;
/** mariadb-dump's last line: a dump without it was cut short. */
const COMPLETED = /^-- Dump completed/;

const contents = (names: string[]): Contents => ({ names: [...names].sort(), count: names.length });

/** A MariaDB instance's contents: its base tables (views and routines are not counted). */
export function mariadbInventory(server: MariadbServer): Inventory {
  return {
    async ofDump(path) {
      const names: string[] = [];
      let last = '';
      for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
        const m = CREATE_TABLE.exec(line);
        if (m) names.push(m[1]!.replaceAll('``', '`'));
        if (line.trim() !== '') last = line;
      }
      if (!COMPLETED.test(last)) throw userError('ADDON_BACKUP_INVALID', `${path} is cut short: it does not end with mariadb-dump's "-- Dump completed" line`);
      return contents(names);
    },
    async of(name) {
      checkAddonName(name);
      return server.withAdmin(async (c) => {
        const [rows] = await c.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [name]);
        return contents((rows as Array<{ t: string }>).map((r) => r.t));
      });
    },
  };
}
