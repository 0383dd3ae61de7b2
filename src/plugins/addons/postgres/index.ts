import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { loginProvider } from '../login-provider.js';
import { postgresInstances } from './instances.js';
import { postgresInventory } from './inventory.js';
import { PostgresServer } from './server.js';

/**
 * PostgreSQL: an instance is a database and its role (kind `pg-database`);
 * an app's login is a role granted the addon's role (kind `pg-login`).
 */
const postgresAddon: AddonFactory = (ctx, retired) => {
  const server = new PostgresServer(ctx);
  const { logins, ...instances } = postgresInstances(server);
  return {
    type: 'postgres', server, instances, provider: instanceProvider('pg-database', instances, newestBackupIn(ctx.layout)),
    logins, loginProvider: loginProvider('pg-login', logins, instances.adminSocket, retired), inventory: postgresInventory(server),
  };
};
export default postgresAddon;
