import { createHash } from 'node:crypto';
import type { Health } from '../../store/types.js';
import { UNKNOWN, type Unknown } from '../../lib/unknown.js';
import { operationalError } from '../../lib/errors.js';
import type { DesiredResource, Diff, Observed, Provider } from '../provider.js';
import { checkAddonName, isAddonName } from './addon-name.js';
import { renameSync } from 'node:fs';
import { randomPassword } from './server-process.js';

/**
 * One app's own way into one addon: a PostgreSQL role that is a member of the addon's role, a
 * MariaDB user with the grants on the addon's database, a Redis ACL user confined to the addon's
 * key prefix. Each attachment has its own, with its own random password, so detaching one app
 * drops its login and leaves the others' working.
 */
export interface LoginSpec {
  /** The addon it reaches (its database, its key prefix). */
  addon: string;
  /** The login's name on the server: see loginName. */
  user: string;
  /** Random, per attachment; sealed at rest (secret-box), plain only in memory. */
  password: string;
}

/** A login as observed: `passwordValid` whether the desired password logs in to the addon; `confined` whether its access is the one hop3 gives. */
export interface LoginLive {
  user: string;
  passwordValid: boolean;
  confined: boolean;
  /** The tombstone that retired it (its app was detached): present only on a login no longer desired. */
  retired?: number;
}

/** A detached app's login still to drop (its tombstone), its password opened. */
export interface RetiredLogin extends LoginSpec {
  id: number;
}

/** Where a login provider finds the logins the records retired (state/008_login_tombstones.sql). */
export interface RetiredLogins {
  /** The owner's logins of this provider's type still to drop. */
  of(owner: string): RetiredLogin[];
  /** Whether it has any: cheap (records kept in memory, nothing opened). */
  has(owner: string): boolean;
  /** Every owner that has one, a destroyed app included. */
  owners(): string[];
  /** It was seen gone: its tombstone goes. */
  gone(id: number): void;
}

export const NO_RETIRED_LOGINS: RetiredLogins = { of: () => [], has: () => false, owners: () => [], gone: () => undefined };

/** What a type of addon does with logins on its (running) server. */
export interface LoginOps {
  /** The logins in `specs` (null: absent); UNKNOWN when the server cannot be asked. */
  observe(specs: LoginSpec[]): Promise<Map<string, LoginLive | null> | Unknown>;
  /** Create it, or make its password and access the desired ones. Idempotent. Its addon's instance must exist. */
  ensure(spec: LoginSpec): Promise<void>;
  /** End its sessions and remove it (what it owns goes to the addon). Idempotent. */
  drop(user: string): Promise<void>;
}

/** The longest login name: PostgreSQL's identifier limit (63 bytes) is the smallest of the three servers'. */
const LOGIN_MAX = 63;

/**
 * `ADDON_APP`: neither addon nor app names have `_`, so the name says whose it is. An app name too
 * long for that (app names go up to 63) is replaced by `_` and 16 hex digits of its sha256
 * (`ADDON__<hex>`), which no plain name can be mistaken for.
 */
export function loginName(addon: string, app: string): string {
  checkAddonName(addon);
  const plain = `${addon}_${app}`;
  if (plain.length <= LOGIN_MAX && /^[a-z0-9-]+$/.test(app)) return plain;
  return `${addon}__${createHash('sha256').update(app).digest('hex').slice(0, 16)}`;
}

/** The addon a login name belongs to, or null for a name hop3 does not make. */
export function addonOfLogin(user: string): string | null {
  const m = /^([a-z0-9-]+)_(?:[a-z0-9-]+|_[0-9a-f]{16})$/.exec(user);
  return m?.[1] !== undefined && isAddonName(m[1]) ? m[1] : null;
}

export function checkLoginName(user: string): string {
  if (user.length > LOGIN_MAX || addonOfLogin(user) === null) throw new Error(`${JSON.stringify(user.slice(0, 80))} is not a login name hop3 makes`);
  return user;
}

export function newLoginSpec(addon: string, app: string): LoginSpec {
  return { addon, user: loginName(addon, app), password: randomPassword() };
}

const complete = (live: LoginLive) => live.passwordValid && live.confined;

/**
 * An addon type's logins as resources of one kind (`pg-login`, `mariadb-login`, `redis-login`),
 * owned by the attached app. A login whose password no longer logs in or whose access was widened
 * is updated (ensure repairs both); a dropped one is created again; a server that does not answer
 * makes them UNKNOWN.
 *
 * It observes the desired logins and the owner's retired ones (detached, see RetiredLogins): a
 * retired login still on the server is live without a desired resource, so the planner deletes it
 * in the prune phase, after the switch to the release without its variable. One seen gone, before
 * or after that delete, loses its tombstone; one that could not be seen keeps it for a later pass.
 */
export function loginProvider(kind: string, ops: LoginOps, adminSocket: () => string, retired: RetiredLogins = NO_RETIRED_LOGINS): Provider<LoginSpec, LoginLive> {
  /** The owner's retired logins, but for one desired again (re-attached): that one is the desired one's. */
  const retiredOf = (owner: string, desired: readonly LoginSpec[]) => retired.of(owner).filter((t) => !desired.some((d) => d.user === t.user));
  const forget = (id: number) => {
    try {
      retired.gone(id);
    } catch {
      // Seen gone again by the next pass, which tries again.
    }
  };
  return {
    kind,
    phase: 'sync',
    // The desired logins, and retired ones: with neither it is not asked.
    observesDesiredOnly: true,
    hasRetired: (owner) => retired.has(owner),
    // Its drop waits for a server that does not answer; the release without the login need not.
    retiresLater: true,
    // Requests the proxy still passed to the old release (which has the URL) finish before its sessions are ended.
    retireAfter: ['site'],
    async observe(owner, desired: DesiredResource<LoginSpec>[]) {
      const specs = desired.map((r) => ({ ...r.spec, user: checkLoginName(r.name) }));
      const gone = retiredOf(owner, specs).map((t) => ({ ...t, user: checkLoginName(t.user) }));
      const out: Observed<LoginLive> = new Map();
      if (specs.length === 0 && gone.length === 0) return out;
      const seen = await ops.observe([...specs, ...gone]).catch((): Unknown => UNKNOWN);
      for (const s of specs) out.set(s.user, seen === UNKNOWN ? UNKNOWN : (seen.get(s.user) ?? null));
      for (const t of gone) {
        const live = seen === UNKNOWN ? UNKNOWN : (seen.get(t.user) ?? null);
        if (live === null) forget(t.id);
        else out.set(t.user, live === UNKNOWN ? UNKNOWN : { ...live, retired: t.id });
      }
      return out;
    },
    owners: () => retired.owners(),
    diff(_desired, live): Diff {
      return complete(live) ? 'none' : 'update';
    },
    retired: (live) => live.retired !== undefined,
    async apply(op, name, desired, live, ctx) {
      checkLoginName(name);
      if (op === 'delete') {
        try {
          await ops.drop(name);
        } catch (err) {
          // A retired login's drop that fails keeps its tombstone, and the next pass tries again:
          // it must not hold back (or fail) the release that no longer uses it.
          if (live?.retired !== undefined) return;
          throw err;
        }
        // Its tombstone goes once the login is seen gone; not seen (the server went away since), a later pass looks.
        const t = retired.of(ctx.owner).find((r) => r.id === live?.retired);
        if (!t) return;
        const seen = await ops.observe([t]).catch((): Unknown => UNKNOWN);
        if (seen === UNKNOWN) return;
        if (seen.get(name) != null) throw operationalError('ADDON_COMMAND_FAILED', `${kind} ${name} is still there after it was dropped`);
        forget(t.id);
        return;
      }
      if (desired === null) throw new Error(`${kind}: ${op} of ${name} without a desired spec`);
      await ops.ensure({ ...desired, user: name });
    },
    describe(value) {
      if ('confined' in value) {
        const notes = [...(value.passwordValid ? [] : ['credentials do not log in']), ...(value.confined ? [] : ['access wider than hop3 gave'])];
        return `${kind} ${value.user}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
      }
      return `${kind} ${value.user}`;
    },
    health(live): Health {
      return complete(live) ? 'Healthy' : 'Degraded';
    },
    conformance: {
      // Round-tripped in addon-servers.test.ts, on an instance made first (a login reaches an addon).
      sample: (_layout, owner): DesiredResource => {
        const spec = newLoginSpec(owner, 'conform');
        return { kind, name: spec.user, spec };
      },
      breakTarget: () => renameSync(adminSocket(), `${adminSocket()}.hidden`),
      repairTarget: () => renameSync(`${adminSocket()}.hidden`, adminSocket()),
      needsServer: true,
    },
  };
}
