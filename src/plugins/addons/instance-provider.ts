import { renameSync } from 'node:fs';
import type { Health } from '../../store/types.js';
import { UNKNOWN, type Unknown } from '../../lib/unknown.js';
import type { Layout } from '../../lib/layout.js';
import type { DesiredResource, Diff, Observed, Provider } from '../provider.js';
import { checkAddonName } from './addon-name.js';
import { randomPassword } from './server-process.js';

/** An addon instance as the records want it: its name and the credentials it is reached with. */
export interface InstanceSpec {
  name: string;
  /** Random, per instance; sealed at rest by the records (secret-box), plain only in memory. */
  password: string;
  /** For connectionDetails: the login `password` belongs to (an attachment's own); absent, the instance's own. */
  user?: string;
}

/**
 * An instance as observed on its server. `parts` are what it is made of (a database and its
 * role; a Redis ACL user), each present or not; `passwordValid` says whether the desired
 * credentials log in (false when a part is missing); `confined` whether its access is the one
 * hop3 gives (a Redis user's rules widened by hand are not).
 */
export interface InstanceLive {
  name: string;
  parts: Record<string, boolean>;
  passwordValid: boolean;
  confined: boolean;
}

/**
 * A client to run on the daemon's machine: `program` with `args` and `env`, and at most one secret
 * file, written 0600 in a private temporary directory (removed after) and named to the program by
 * the variable `file.env` or by the argument `${file.flag}PATH` put first. The password goes in
 * that file, or in `env` where the client reads nothing else, never in argv.
 */
export interface ShellCommand {
  program: string;
  args: string[];
  env: Record<string, string>;
  file: { content: string; env?: string; flag?: string } | null;
}

/** The backup of one instance: the file and what it holds. */
export interface InstanceDump {
  path: string;
  bytes: number;
  sha256: string;
}

/** What a type of addon does with its instances on its (running) server. */
export interface InstanceOps {
  /** The instances named in `specs`; UNKNOWN when the server cannot be asked. */
  observe(specs: InstanceSpec[]): Promise<Map<string, InstanceLive | null> | Unknown>;
  /** Create what is missing and make the credentials and access the desired ones. Idempotent. */
  ensure(spec: InstanceSpec): Promise<void>;
  /** Remove the instance and its data. Idempotent. */
  drop(name: string): Promise<void>;
  /** Environment variables an app gets to reach it (DATABASE_URL, REDIS_URL, ...) as `spec.user`. */
  connectionDetails(spec: InstanceSpec): Record<string, string>;
  /** Write the instance's data to `path` (a temporary file renamed into place). */
  dump(name: string, path: string): Promise<InstanceDump>;
  /** Make `spec`'s instance hold exactly what `path` holds (created first when missing). */
  restore(spec: InstanceSpec, path: string): Promise<void>;
  /** Bytes the instance's data takes on its server; absent when the server cannot tell per instance. */
  size?(name: string): Promise<number>;
  /** How `hop3 addons shell` opens the type's own client on `spec`'s instance, over loopback TCP. */
  shell(spec: InstanceSpec): ShellCommand;
  /** The socket hop3's admin connections use: the conformance test hides it to make observation fail. */
  adminSocket(): string;
}

export function newInstanceSpec(name: string): InstanceSpec {
  return { name: checkAddonName(name), password: randomPassword() };
}

const complete = (live: InstanceLive) => Object.values(live.parts).every(Boolean) && live.passwordValid && live.confined;

/**
 * An addon type's instances as resources of one kind (`pg-database`, `mariadb-database`,
 * `redis-user`). A live instance that is missing a part, has other credentials or wider access
 * is updated (ensure is idempotent, so the update also repairs); a server that does not answer
 * makes every instance UNKNOWN, and nothing is created or dropped on that.
 */
export function instanceProvider(kind: string, ops: InstanceOps, newestBackup: (name: string) => string | null): Provider<InstanceSpec, InstanceLive> {
  return {
    kind,
    phase: 'sync',
    // Instances are dropped by the addon's own destroy, never pruned from an app's pass.
    observesDesiredOnly: true,
    async observe(_owner, desired) {
      const specs = desired.map((r) => ({ ...r.spec, name: checkAddonName(r.name) }));
      const seen = await ops.observe(specs).catch((): Unknown => UNKNOWN);
      const out: Observed<InstanceLive> = new Map();
      for (const s of specs) out.set(s.name, seen === UNKNOWN ? UNKNOWN : (seen.get(s.name) ?? null));
      return out;
    },
    diff(_desired, live): Diff {
      return complete(live) ? 'none' : 'update';
    },
    async apply(op, name, desired) {
      checkAddonName(name);
      if (op === 'delete') return ops.drop(name);
      if (desired === null) throw new Error(`${kind}: ${op} of ${name} without a desired spec`);
      await ops.ensure({ ...desired, name });
    },
    describe(value) {
      if ('parts' in value) {
        const missing = Object.entries(value.parts).filter(([, v]) => !v).map(([k]) => k);
        // Data is never healed by recreating it silently: the finding names what to restore.
        const newest = missing.includes('database') ? newestBackup(value.name) : null;
        const restore = newest === null ? 'no backup to restore' : `restore backup ${newest} (hop3 backup restore ${newest})`;
        const data = missing.includes('database') ? [`${restore}; a repair recreates it empty`] : [];
        const notes = [...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []), ...data, ...(value.passwordValid ? [] : ['credentials do not log in']), ...(value.confined ? [] : ['access wider than hop3 gave'])];
        return `${kind} ${value.name}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
      }
      return `${kind} ${value.name}`;
    },
    health(live): Health {
      return complete(live) ? 'Healthy' : Object.values(live.parts).some(Boolean) ? 'Degraded' : 'Missing';
    },
    partial(live) {
      const parts = Object.values(live.parts);
      return parts.some(Boolean) && !parts.every(Boolean);
    },
    // Its role is there and its database is not: it was made, and dropped since (a missing pair
    // cannot be told from one never made, and is created).
    dataLost: (live) => live.parts.database === false && Object.values(live.parts).some(Boolean),
    conformance: {
      sample: (_layout: Layout, owner: string): DesiredResource => ({ kind, name: owner, spec: newInstanceSpec(owner) }),
      // hop3 runs as root: modes would not stop it. Its admin socket moved aside, the server cannot be asked.
      breakTarget: () => renameSync(ops.adminSocket(), `${ops.adminSocket()}.hidden`),
      repairTarget: () => renameSync(`${ops.adminSocket()}.hidden`, ops.adminSocket()),
      needsServer: true,
    },
  };
}
