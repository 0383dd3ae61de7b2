import { Hop3Error } from '../../src/lib/errors.js';
import type { AppSpec } from '../../src/manifest/types.js';
import type { Store } from '../../src/store/store.js';

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
