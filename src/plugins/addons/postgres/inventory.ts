import { userError } from '../../../lib/errors.js';
import { ExecError } from '../../../lib/exec.js';
import { checkAddonName } from '../addon-name.js';
import type { Contents, Inventory } from '../inventory.js';
import { lastLines } from '../server-process.js';
import type { PostgresServer } from './server.js';

/** `pg_restore --list` names a table `ID; OID OID TABLE SCHEMA NAME OWNER`. */
const TABLE_ENTRY = /^\d+; \d+ \d+ TABLE (\S+) (\S+) \S+$/;

const contents = (names: string[]): Contents => ({ names: [...names].sort(), count: names.length });

/** A PostgreSQL instance's contents: its tables outside the system schemas. */
export function postgresInventory(server: PostgresServer): Inventory {
  return {
    async ofDump(path) {
      try {
        const { stdout } = await server.exec.run([server.bin('pg_restore'), '--list', path], { timeoutMs: 600_000 });
        return contents(stdout.split('\n').flatMap((l) => {
          const m = TABLE_ENTRY.exec(l);
          return m ? [`${m[1]}.${m[2]}`] : [];
        }));
      } catch (err) {
        throw userError('ADDON_BACKUP_INVALID', `${path} is not a PostgreSQL dump pg_restore can read: ${lastLines(err instanceof ExecError ? err.output : String(err))}`, { cause: err });
      }
    },
    async of(name) {
      checkAddonName(name);
      return server.withAdmin(async (c) => contents((await c.query<{ t: string }>(
        "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows.map((r) => r.t)), name);
    },
  };
}
