import type { Config } from '../config.js';
import type { Exec } from '../lib/exec.js';
import type { KeyedMutex } from '../lib/keyed-mutex.js';
import type { Layout } from '../lib/layout.js';
import type { Logger } from '../lib/logger.js';
import type { Lifecycles } from '../lifecycle/lifecycles.js';
import type { BackupService } from '../plugins/addons/backups/service.js';
import type { Plugins } from '../plugins/registry.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { Store } from '../store/store.js';

/**
 * What a command needs, and nothing of how apps are run: commands edit records and ask the
 * reconciler to look, the reconciler decides what that means on the machine. The daemon's
 * context object satisfies it; GitOps and a dashboard will pass the same one.
 */
export interface CommandContext {
  config: Config;
  layout: Layout;
  log: Logger;
  store: Store;
  plugins: Plugins;
  /** How programs are run (git, for pushed commits). */
  exec: Exec;
  lifecycles: Pick<Lifecycles, 'state' | 'forget'>;
  reconciler: Pick<Reconciler, 'trigger' | 'lastPass' | 'lastHostPass' | 'abortRollout' | 'forget'>;
  /** Serializes deploys per app: a second one waits until the first is live or failed. */
  deployLocks: KeyedMutex;
  /** Backups of addons and apps' data, and their schedules (HOP3_HOME/backups). */
  backups: BackupService;
}
