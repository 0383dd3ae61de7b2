import type { Provider } from '../provider.js';
import type { Inventory } from './inventory.js';
import type { InstanceLive, InstanceOps, InstanceSpec } from './instance-provider.js';
import type { LoginLive, LoginOps, LoginSpec, RetiredLogins } from './login-provider.js';
import type { AddonServer, AddonServerContext, AddonType } from './server-process.js';

/**
 * One type of addon: the server hop3 runs for it (a host-owned resource once the core supervises
 * it), what it does with instances on that server, and those instances as resources of one kind.
 * Not registered in src/plugins/registry.ts yet: the planner does not know addons.
 */
export interface AddonDefinition {
  type: AddonType;
  server: AddonServer;
  instances: InstanceOps;
  provider: Provider<InstanceSpec, InstanceLive>;
  /** Each attachment's own login to an instance, and those logins as resources of the attached app. */
  logins: LoginOps;
  loginProvider: Provider<LoginSpec, LoginLive>;
  /** What an instance or a dump holds, for verifying backups. */
  inventory: Inventory;
}

/** `retired`: the logins of detached apps its login provider drops; absent, none (no records). */
export type AddonFactory = (ctx: AddonServerContext, retired?: RetiredLogins) => AddonDefinition;
