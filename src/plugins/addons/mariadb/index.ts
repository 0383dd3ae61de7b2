import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { loginProvider } from '../login-provider.js';
import { mariadbInstances } from './instances.js';
import { mariadbInventory } from './inventory.js';
import { MariadbServer } from './server.js';

/**
 * MariaDB (MySQL): an instance is a database and its user (kind `mariadb-database`);
 * an app's login is a user with the grants on its database (kind `mariadb-login`).
 */
const mariadbAddon: AddonFactory = (ctx, retired) => {
  const server = new MariadbServer(ctx);
  const { logins, ...instances } = mariadbInstances(server);
  return {
    type: 'mariadb', server, instances, provider: instanceProvider('mariadb-database', instances, newestBackupIn(ctx.layout)),
    logins, loginProvider: loginProvider('mariadb-login', logins, instances.adminSocket, retired), inventory: mariadbInventory(server),
  };
};
export default mariadbAddon;
