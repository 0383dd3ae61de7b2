import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { postgresInstances } from './instances.js';
import { postgresInventory } from './inventory.js';
import { PostgresServer } from './server.js';

/** PostgreSQL: an instance is a database and its role (kind `pg-database`). */
const postgresAddon: AddonFactory = (ctx) => {
  const server = new PostgresServer(ctx);
  const instances = postgresInstances(server);
  return { type: 'postgres', server, instances, provider: instanceProvider('pg-database', instances, newestBackupIn(ctx.layout)), inventory: postgresInventory(server) };
};
export default postgresAddon;
