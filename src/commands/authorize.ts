import { userError } from '../lib/errors.js';

/**
 * Who asks. Today there is one role: whoever holds the admin token, which the HTTP edge checks
 * before a request is read (RPC and git smart HTTP alike). Users and roles will add kinds here,
 * and `authorize` is where each command asks whether its caller may act on an app.
 */
export type Caller =
  | { kind: 'admin' }
  /** hop3-server acting on its own: recovery at start (an unlanded push rolled back). */
  | { kind: 'daemon' };

/** The caller the HTTP edge vouches for once the admin token matched. */
export const ADMIN: Caller = Object.freeze({ kind: 'admin' });
export const DAEMON: Caller = Object.freeze({ kind: 'daemon' });

/** Every intent a caller may be allowed or refused, one per command or query. */
export type Intent =
  | 'apps.read' | 'apps.logs' | 'apps.run' | 'apps.deploy' | 'apps.configure' | 'apps.scale' | 'apps.lifecycle' | 'apps.destroy' | 'apps.reconcile'
  | 'releases.rollback' | 'releases.cancel' | 'config.read' | 'config.write' | 'git.read' | 'git.prepare'
  | 'certs.read' | 'certs.renew' | 'addons.read' | 'addons.write' | 'addons.credentials' | 'backups.read' | 'backups.write' | 'backups.restore';

/**
 * Throws when `caller` may not act; returns otherwise. The admin may do everything, so nothing
 * is refused yet: the call sits in each command so that adding roles changes this one function.
 */
export function authorize(caller: Caller, intent: Intent, app: string | null): void {
  if (caller.kind === 'admin' || caller.kind === 'daemon') return;
  throw userError('FORBIDDEN', `not allowed: ${intent}${app === null ? '' : ` on ${app}`}`, { hint: 'ask an admin of this hop3' });
}
