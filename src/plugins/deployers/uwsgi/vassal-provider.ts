import { rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../../lib/fs-atomic.js';
import { linksTo, type Layout } from '../../../lib/layout.js';
import { ObservedFiles } from '../../../lib/file-signature.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import type { Observed, Provider } from '../../provider.js';
import { fileTargetFixture } from '../../conformance.js';
import type { UnitStatus, UnitSupervisor } from '../../types.js';
import { parseUnitName } from '../unit-name.js';
import { UnitDirectory } from './unit-directory.js';

export const VASSAL_KIND = 'vassal';

/** A vassal as the records want it: its config file in uwsgi-available, enabled. */
export interface VassalSpec {
  path: string;
  content: string;
}

export interface VassalLive {
  /** The config file's content; undefined for a vassal that is not desired (not read). */
  content?: string | null;
  /** hop3's own link in uwsgi-enabled to hop3's config file, nothing else in its place. */
  enabled: boolean;
  /** null: the emperor does not list it; UNKNOWN: the emperor could not be asked. */
  process: (UnitStatus & { restartedFrom: number | null }) | null | Unknown;
}

/** How long one stats read of the emperor serves the passes of the same moment. */
const STATS_TTL_MS = 100;

/**
 * uWSGI vassals as resources: the config file, hop3's link that enables it, and the process the
 * emperor reports. A process restarted behind hop3's back (its master pid changed without hop3
 * asking) is drift the emperor already healed.
 */
export function vassalProvider(layout: Layout, emperor: UnitSupervisor): Provider<VassalSpec, VassalLive> {
  const available = new UnitDirectory(layout.uwsgiAvailable);
  const enabledDir = new UnitDirectory(layout.uwsgiEnabled);
  /** Master pid per unit as hop3 last saw it: a change hop3 did not cause is drift. */
  const knownPids = new Map<string, number>();
  const configs = new ObservedFiles();
  let statsCache: { at: number; value: Promise<Map<string, UnitStatus> | Unknown> } | null = null;
  const stats = () => {
    const now = Date.now();
    if (!statsCache || now - statsCache.at > STATS_TTL_MS) statsCache = { at: now, value: emperor.stats().catch(() => UNKNOWN) };
    return statsCache.value;
  };
  const configOf = (name: string) => join(layout.uwsgiAvailable, `${name}.ini`);
  const linkOf = (name: string) => join(layout.uwsgiEnabled, `${name}.ini`);
  // Any event on the emperor's queue makes it rescan its directory at once instead of at its
  // next tick; a stats request is such an event.
  const poke = () => void emperor.stats(1000).catch(() => undefined);

  return {
    kind: VASSAL_KIND,
    phase: 'sync',
    retireAfter: ['site'],
    async observe(owner, desired) {
      const inAvailable = available.unitsOf(owner);
      const inEnabled = enabledDir.unitsOf(owner);
      if (inAvailable === UNKNOWN || inEnabled === UNKNOWN) throw new Error(`the vassal directories of ${owner} cannot be listed`);
      const seen: Observed<VassalLive> = new Map();
      // No vassal of its own, desired or on disk (a static site): nothing to ask the emperor about.
      if (desired.length === 0 && inAvailable.length === 0 && inEnabled.length === 0) return seen;
      const vassals = await stats();
      const wanted = new Map(desired.map((r) => [r.name, r.spec]));
      for (const name of new Set([...wanted.keys(), ...inAvailable, ...inEnabled])) {
        const spec = wanted.get(name);
        const content = spec ? configs.read(spec.path) : undefined;
        if (content === UNKNOWN) {
          seen.set(name, UNKNOWN);
          continue;
        }
        // A desired vassal without its config file is missing, whatever link is left.
        if (content === null) {
          seen.set(name, null);
          continue;
        }
        const enabled = (spec !== undefined || (inEnabled.includes(name) && inAvailable.includes(name))) && linksTo(linkOf(name), configOf(name));
        let process: VassalLive['process'] = UNKNOWN;
        if (vassals !== UNKNOWN) {
          const v = vassals.get(`${name}.ini`);
          process = null;
          if (v) {
            const known = knownPids.get(name);
            if (known === undefined) knownPids.set(name, v.pid);
            process = { ...v, restartedFrom: known !== undefined && known !== v.pid ? known : null };
          }
        }
        seen.set(name, { ...(spec ? { content } : {}), enabled, process });
      }
      return seen;
    },
    diff: (d, l) => (l.content !== d.content || !l.enabled ? 'update' : 'none'),
    partial: (l) => !l.enabled,
    async apply(op, name, desired, live) {
      available.changed();
      enabledDir.changed();
      if (op === 'delete') {
        knownPids.delete(name);
        for (const path of [linkOf(name), configOf(name)]) rmSync(path, { force: true });
        return;
      }
      const spec = desired!;
      if (live?.content !== spec.content) writeVassal(spec.path, spec.content);
      if (!live?.enabled) {
        knownPids.delete(name); // a new vassal: its first pid is expected
        enable(linkOf(name), configOf(name));
      }
      poke();
    },
    describe: (v) => ('path' in v
      ? `${v.content.length} bytes, enabled`
      : `${v.content === undefined ? 'config' : v.content === null ? 'config absent' : `${v.content.length} bytes`}, ${v.enabled ? 'enabled' : 'not enabled'}`),
    health(l) {
      if (l.process === UNKNOWN) return 'Unknown';
      if (l.process === null) return 'Progressing';
      return l.process.cursed ? 'Degraded' : 'Healthy';
    },
    selfHealed(name, l) {
      const p = l.process;
      if (p === null || p === UNKNOWN || p.restartedFrom === null) return null;
      // The emperor already restarted it (a reload keeps the pid); record the drift once.
      return { resource: `process:${name}`, desired: 'running', observed: `pid ${p.restartedFrom} exited unexpectedly; the emperor restarted it as pid ${p.pid}` };
    },
    acknowledge(name, l) {
      if (l.process !== null && l.process !== UNKNOWN) knownPids.set(name, l.process.pid);
    },
    forget(owner) {
      for (const unit of [...knownPids.keys()]) if (parseUnitName(unit)?.app === owner) knownPids.delete(unit);
    },
    watchPaths: () => [layout.uwsgiAvailable, layout.uwsgiEnabled],
    ownerOf(path) {
      const name = basename(path);
      return name.endsWith('.ini') ? (parseUnitName(name.slice(0, -4))?.app ?? null) : null;
    },
    owners: () => [...new Set([...available.apps(), ...enabledDir.apps()])],
    // A vassal that runs without an app: the emperor keeps it up.
    conformance: fileTargetFixture((l, owner) => ({
      kind: VASSAL_KIND, name: `${owner}.v1.web`,
      spec: { path: join(l.uwsgiAvailable, `${owner}.v1.web.ini`), content: `[uwsgi]\nmaster = true\nprocesses = 1\nsocket = ${join(l.run, `${owner}.sock`)}\n` },
    }), true),
  };
}

/**
 * The emperor reloads a vassal when its config's mtime, in whole seconds, grows: a rewrite
 * within the same second as the last one must still move it forward.
 */
function writeVassal(path: string, content: string): void {
  const before = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  writeFileAtomic(path, content);
  if (before !== undefined) {
    const next = Math.max(Date.now() / 1000, Math.floor(before / 1000) + 1);
    utimesSync(path, next, next);
  }
}

function enable(link: string, target: string): void {
  if (linksTo(link, target)) return;
  // A dangling link, a plain file or a link elsewhere is replaced by the link hop3 wants.
  rmSync(link, { force: true });
  symlinkSync(target, link);
}
