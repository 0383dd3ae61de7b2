import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ObservedFiles } from '../../lib/file-signature.js';
import { UNKNOWN } from '../../lib/unknown.js';
import type { Observed, Provider } from '../provider.js';
import { fileTargetFixture } from '../conformance.js';
import type { ProxyServer } from '../types.js';

export const SITE_KIND = 'site';

/** One app's site as the proxy plugin rendered it. */
export interface SiteSpec {
  path: string;
  content: string;
}

export interface SiteLive {
  path: string;
  /** The file on disk; null when it is gone while the running server still serves it. */
  content: string | null;
  /** Whether the running server loaded the file as it is on disk. */
  loaded: boolean;
}

const bytes = (content: string | null) => (content === null ? 'absent' : `${content.length} bytes`);

/**
 * Proxy sites as resources, for any proxy: the content is rendered by the proxy plugin; what is
 * live is the file and whether the running server loaded it (a file on disk is not proof that
 * the proxy serves it). Applies go through the server, which activates a site only once the
 * real tool accepted it.
 */
export function siteProvider(server: ProxyServer, sitePath: (app: string) => string, render: (app: string) => string): Provider<SiteSpec, SiteLive> {
  const dir = dirname(sitePath('x'));
  // Site files are named after their app, with whatever the proxy puts around the name.
  const [before, after] = basename(sitePath('app-name')).split('app-name') as [string, string];
  const appOf = (file: string): string | null => {
    if (file.length <= before.length + after.length || !file.startsWith(before) || !file.endsWith(after)) return null;
    const app = file.slice(before.length, file.length - after.length);
    // Only files with hop3's own names (a system proxy directory holds others too).
    return /^[a-z0-9-]+$/.test(app) && sitePath(app) === join(dir, file) ? app : null;
  };
  // An unchanged site file is not read again on every pass (and its content compares as one pointer).
  const files = new ObservedFiles();
  return {
    kind: SITE_KIND,
    phase: 'switch',
    async observe(owner, desired) {
      const path = desired[0]?.spec.path ?? sitePath(owner);
      const content = files.read(path);
      const seen: Observed<SiteLive> = new Map();
      if (content === UNKNOWN) return seen.set(owner, UNKNOWN);
      const loaded = server.loaded(path, content);
      if (loaded === null) return seen.set(owner, UNKNOWN);
      // Gone from disk and from what the server serves: absent.
      if (content === null && loaded) return desired.length > 0 ? seen.set(owner, null) : seen;
      return seen.set(owner, { path, content, loaded });
    },
    partial: (l) => l.content === null,
    diff: (d, l) => (d.content === l.content && l.loaded ? 'none' : 'update'),
    async apply(op, _name, desired, live) {
      if (op === 'delete') return server.apply(live!.path, null);
      return server.apply(desired!.path, desired!.content);
    },
    describe: (v) => ('loaded' in v ? `${bytes(v.content)}${v.loaded ? '' : ', not loaded by the proxy'}` : bytes(v.content)),
    settle: () => server.drained(),
    watchPaths: () => [dir],
    ownerOf: (path) => (dirname(path) === dir ? appOf(basename(path)) : null),
    owners: () => (existsSync(dir) ? readdirSync(dir) : []).flatMap((f) => appOf(f) ?? []),
    // The site is rendered by the proxy plugin itself, so any proxy's tool accepts it.
    conformance: fileTargetFixture((_layout, owner) => ({ kind: SITE_KIND, name: owner, spec: { path: sitePath(owner), content: render(owner) } }), true),
  };
}
