import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext } from '../../src/commands/context.js';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { createExec } from '../../src/lib/exec.js';
import { KeyedMutex } from '../../src/lib/keyed-mutex.js';
import { ensureLayout, layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import { Lifecycles } from '../../src/lifecycle/lifecycles.js';
import type { AppSpec } from '../../src/manifest/types.js';
import { addonsOfRecords } from '../../src/plugins/addons/backups/resolver.js';
import { backupService } from '../../src/plugins/addons/backups/service.js';
import { loadPlugins } from '../../src/plugins/registry.js';
import { Store } from '../../src/store/store.js';

/**
 * Commands over a real store in a throwaway HOP3_HOME. The reconciler is the one part left
 * out: its passes are what the integration tests drive; here only the triggers are counted.
 * What is made is undone by `cleanups` (run them after each test).
 */
export function commandContext(cleanups: (() => void)[], env: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), 'hop3-commands-'));
  const config = loadConfig({ HOP3_HOME: home, ...env });
  const layout = layoutOf(config.home);
  ensureLayout(layout);
  const store = new Store(layout.db);
  cleanups.push(() => rmSync(home, { recursive: true, force: true }), () => store.close());
  const log = createLogger('silent');
  const exec = createExec();
  const triggers: string[] = [];
  const plugins = loadPlugins({ config, layout, log, render: createRenderer(), exec });
  const ctx: CommandContext = {
    config, layout, log, store, exec, plugins,
    lifecycles: new Lifecycles(store),
    reconciler: { trigger: async (app: string) => void triggers.push(app), lastPass: new Map(), lastHostPass: null, abortRollout: () => undefined, forget: () => undefined },
    deployLocks: new KeyedMutex(),
    backups: backupService(layout, log, exec, addonsOfRecords(plugins.addons, store)),
  };
  return { ctx, store, triggers };
}

/** An app whose v1 (a static build of `spec`) is live, with desired `state`. */
export function liveApp(store: Store, name: string, spec: AppSpec, state: 'running' | 'stopped' = 'running') {
  store.createApp(name);
  const r = store.createRelease({ app: name, source: 'rpc', commit: null, spec, env: {}, ports: {}, artifact: { kind: 'static', dir: `apps/${name}/releases/1`, metadata: {} } });
  store.markLive(name, r.version);
  store.updateDesired(name, { desiredRelease: r.version, desiredState: state });
  store.setStatus(name, { sync: 'Synced', health: 'Healthy', message: '', observedGeneration: store.getApp(name)!.generation, currentRelease: r.version });
  return store.getApp(name)!;
}

/** The code of the error `call` throws or rejects with. */
export async function codeOf(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (err) {
    return err instanceof Hop3Error ? err.code : `not a Hop3Error: ${String(err)}`;
  }
  return 'no error';
}
