import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { loginProvider } from '../login-provider.js';
import { redisInstances } from './instances.js';
import { redisInventory } from './inventory.js';
import { RedisServer } from './server.js';

/**
 * Redis: an instance is an ACL user confined to the key prefix `NAME:` (kind `redis-user`);
 * an app's login is an ACL user with the same prefix (kind `redis-login`).
 */
const redisAddon: AddonFactory = (ctx, retired) => {
  const server = new RedisServer(ctx);
  const { logins, ...instances } = redisInstances(server);
  return {
    type: 'redis', server, instances, provider: instanceProvider('redis-user', instances, newestBackupIn(ctx.layout)),
    logins, loginProvider: loginProvider('redis-login', logins, instances.adminSocket, retired), inventory: redisInventory(server),
  };
};
export default redisAddon;
