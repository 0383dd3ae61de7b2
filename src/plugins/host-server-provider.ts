import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { lookPid } from '../lib/pidfile.js';
import { UNKNOWN } from '../lib/unknown.js';
import type { Observed, Provider } from './provider.js';
import type { HostServer } from './types.js';

/** A host server wanted running; `server` names it in reports. */
export interface HostServerSpec {
  server: string;
}

export interface HostServerLive {
  pid: number;
  /** It loaded its own configuration as hop3 renders it now (false: a reload is due). */
  current: boolean;
}

/**
 * A long-running server as a host resource `{kind: server.resource, name}`: observe reads its pid
 * file and /proc (no spawn; unreadable is UNKNOWN, never "not running"), create starts it, update
 * has it load its own configuration, delete stops it. Host servers are never pruned: only what is
 * desired is observed, so a server that is not wanted is left alone rather than stopped.
 */
export function hostServerProvider(server: HostServer, name: string): Provider<HostServerSpec, HostServerLive> {
  const look = () => lookPid(server.pidFile, server.pidMarker);
  const desired = () => (server.managed() ? [{ kind: server.resource, name, spec: { server: name } }] : []);
  /** What the pid file held before the conformance test put a directory in its place. */
  let saved: string | null = null;
  return {
    kind: server.resource,
    phase: 'sync',
    observesDesiredOnly: true,
    async observe(_owner, wanted) {
      const seen: Observed<HostServerLive> = new Map();
      if (!wanted.some((r) => r.name === name)) return seen;
      const pid = look();
      if (pid === UNKNOWN || pid === null) return seen.set(name, pid);
      await server.adopt?.();
      return seen.set(name, { pid, current: server.current?.() ?? true });
    },
    diff: (_d, live) => (live.current ? 'none' : 'update'),
    async apply(op) {
      if (op === 'delete') await server.stop();
      else await server.ensureRunning();
    },
    describe: (v) => ('pid' in v ? `pid ${v.pid}${v.current ? '' : ', its configuration not loaded'}` : `${v.server} running`),
    ...(server.watch ? { watch: (onChange: (owner: string) => void) => server.watch!(onChange) } : {}),
    host: {
      desired,
      neededBy: [server.uses],
      glance: () => {
        const pid = look();
        return pid === UNKNOWN ? 'unknown' : String(pid);
      },
    },
    conformance: {
      sample: () => ({ kind: server.resource, name, spec: { server: name } }),
      needsServer: true,
      // A directory in place of the pid file cannot be read as one, even by root.
      breakTarget() {
        saved = statSync(server.pidFile, { throwIfNoEntry: false })?.isFile() ? readFileSync(server.pidFile, 'utf8') : null;
        rmSync(server.pidFile, { force: true });
        mkdirSync(server.pidFile, { recursive: true });
      },
      repairTarget() {
        rmSync(server.pidFile, { recursive: true, force: true });
        if (saved !== null) writeFileSync(server.pidFile, saved);
      },
    },
  };
}
