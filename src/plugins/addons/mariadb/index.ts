import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { mariadbInstances } from './instances.js';
import { mariadbInventory } from './inventory.js';
import { MariadbServer } from './server.js';

/** MariaDB (MySQL): an instance is a database and its user (kind `mariadb-database`). */
const mariadbAddon: AddonFactory = (ctx) => {
  const server = new MariadbServer(ctx);
  const instances = mariadbInstances(server);
  return { type: 'mariadb', server, instances, provider: instanceProvider('mariadb-database', instances, newestBackupIn(ctx.layout)), inventory: mariadbInventory(server) };
};
export default mariadbAddon;
