import { checkAddonName } from '../addon-name.js';
import type { Contents, Inventory } from '../inventory.js';
import { listDump } from './dump-stream.js';
import type { PostgresServer } from './server.js';

/** `pg_restore --list` names a table `ID; OID OID TABLE SCHEMA NAME OWNER`. */
const TABLE_ENTRY = /^\d+; \d+ \d+ TABLE (\S+) (\S+) \S+$/;

const contents = (names: string[]): Contents => ({ names: [...names].sort(), count: names.length });

/** A PostgreSQL instance's contents: its tables outside the system schemas. */
export function postgresInventory(server: PostgresServer): Inventory {
  return {
    async ofDump(path) {
      return contents((await listDump(server, path)).split('\n').flatMap((l) => {
        const m = TABLE_ENTRY.exec(l);
        return m ? [`${m[1]}.${m[2]}`] : [];
      }));
    },
    async of(name) {
      checkAddonName(name);
      return server.withAdmin(async (c) => contents((await c.query<{ t: string }>(
        "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows.map((r) => r.t)), name);
    },
  };
}
