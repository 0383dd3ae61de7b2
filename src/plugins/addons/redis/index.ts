import type { AddonFactory } from '../addon.js';
import { newestBackupIn } from '../backups/catalogue.js';
import { instanceProvider } from '../instance-provider.js';
import { redisInstances } from './instances.js';
import { redisInventory } from './inventory.js';
import { RedisServer } from './server.js';

/** Redis: an instance is an ACL user confined to the key prefix `NAME:` (kind `redis-user`). */
const redisAddon: AddonFactory = (ctx) => {
  const server = new RedisServer(ctx);
  const instances = redisInstances(server);
  return { type: 'redis', server, instances, provider: instanceProvider('redis-user', instances, newestBackupIn(ctx.layout)), inventory: redisInventory(server) };
};
export default redisAddon;
