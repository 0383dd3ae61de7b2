import { asHop3Error, operationalError, userError } from '../lib/errors.js';
import { ENV_KEY_PATTERN } from '../manifest/index.js';
import { checkAddonName, checkNewAddonName } from '../plugins/addons/addon-name.js';
import { URL_VARS } from '../plugins/addons/index.js';
import { newInstanceSpec } from '../plugins/addons/instance-provider.js';
import { HOST_OWNER } from '../reconcile/host-pass.js';
import { UNKNOWN, type Unknown } from '../lib/unknown.js';
import type { AddonRecord, AttachmentRecord } from '../store/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { admit } from './admit.js';
import { failpoint } from '../lib/failpoint.js';
import type { Caller } from './authorize.js';
import { releaseConfigChange } from './config.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/**
 * Addons: records first. An addon's server is a host resource while an addon of its type exists;
 * its instance, and each attached app's own login to it, are resources of that app (created by
 * its pass, their drift found there). A detached app's login is a tombstone (the login absent is
 * what is desired), which the app's passes drop; destroying an addon is done here, as it has no
 * desired state to reconcile to.
 */

function requireAddon(ctx: CommandContext, name: unknown): AddonRecord {
  const a = ctx.store.getAddon(checkAddonName(name));
  if (!a) throw userError('ADDON_NOT_FOUND', `there is no addon ${name as string}`, { hint: 'see `hop3 addons`; create one with `hop3 addons create TYPE NAME`' });
  return a;
}

/** The host pass that starts (or finds running) the addon servers the records want. */
async function hostPass(ctx: CommandContext): Promise<void> {
  await ctx.reconciler.trigger(HOST_OWNER);
  const error = ctx.reconciler.lastHostPass?.error;
  if (error) ctx.log.warn({ err: error }, 'a host server did not start; addon operations wait for it');
}

/** `hop3 addons create TYPE NAME`: the record (with a random password, sealed), and its server wanted. */
export async function addonsCreate(ctx: CommandContext, caller: Caller, p: { type: string; name: string }) {
  admit(caller, 'addons.write', null);
  const name = checkNewAddonName(p.name);
  const def = ctx.plugins.addons.of(p.type);
  const existing = ctx.store.getAddon(name);
  if (existing) {
    if (existing.type === def.type) return addonView(ctx, existing);
    throw userError('ADDON_EXISTS', `addon ${name} exists already, of type ${existing.type}`, { hint: 'pick another name' });
  }
  await ctx.plugins.addons.prepare(def.type, name);
  const credentials = ctx.plugins.addons.credentials().seal(def.provider.kind, newInstanceSpec(name));
  const rec = await ctx.store.writeRetrying(() => ctx.store.createAddon({ name, type: def.type, credentials }));
  await hostPass(ctx);
  return addonView(ctx, rec);
}

/** `hop3 addons attach APP NAME [--as VAR]`: a new release whose processes get the URL in VAR. */
export async function addonsAttach(ctx: CommandContext, caller: Caller, p: { app: string; addon: string; as?: string | undefined; requestId?: string | undefined }) {
  admit(caller, 'config.write', p.app);
  const app = requireApp(ctx, p.app);
  const addon = requireAddon(ctx, p.addon);
  const env = p.as ?? URL_VARS[ctx.plugins.addons.of(addon.type).type];
  if (!ENV_KEY_PATTERN.test(env)) throw userError('ENV_INVALID', `${JSON.stringify(env)} is not an environment variable name`, { hint: 'letters, digits and _, not starting with a digit' });
  const mine = ctx.store.attachments({ app: app.name });
  const same = mine.find((a) => a.addon === addon.name);
  if (same?.env === env) return { app: app.name, addon: addon.name, env, attached: true };
  if (same) throw userError('ADDON_ATTACHED', `${app.name} is attached to ${addon.name} already, as ${same.env}`, { hint: `detach it first: hop3 addons detach ${app.name} ${addon.name}` });
  const taken = mine.find((a) => a.env === env);
  if (taken) throw userError('ADDON_ATTACHED', `${app.name} gets ${env} from addon ${taken.addon} already`, { hint: `name another variable: --as ${addon.type.toUpperCase()}_URL` });
  await hostPass(ctx);
  const credentials = ctx.plugins.addons.sealLogin(addon.type, addon.name, app.name);
  const r = await releaseConfigChange(ctx, app.name, () => {
    ctx.store.attach(addon.name, app.name, env, credentials);
    ctx.store.addEvent(app.name, 'addon.attached', { addon: addon.name, env });
  }, p.requestId);
  return { app: app.name, addon: addon.name, env, attached: true, ...r };
}

/**
 * `hop3 addons detach APP NAME`: a new release without the variable; the app's own login becomes
 * a tombstone in the same transaction, and the app's passes drop it (its sessions ended) in the
 * prune phase of that release: its URL no longer logs in, the other apps' still do; the data stays.
 * Not refused while the server cannot be asked: the login is dropped by the first pass that can.
 */
export async function addonsDetach(ctx: CommandContext, caller: Caller, p: { app: string; addon: string; requestId?: string | undefined }) {
  admit(caller, 'config.write', p.app);
  const app = requireApp(ctx, p.app);
  const addon = requireAddon(ctx, p.addon);
  const att = ctx.store.attachments({ app: app.name }).find((a) => a.addon === addon.name) ?? repeatedDetach(ctx, app.name, addon.name, p.requestId);
  if (!att) throw userError('ADDON_NOT_ATTACHED', `${app.name} is not attached to ${addon.name}`, { hint: `see \`hop3 addons ${app.name}\`` });
  const r = await releaseConfigChange(ctx, app.name, () => {
    ctx.store.detach(addon.name, app.name);
    ctx.store.addEvent(app.name, 'addon.detached', { addon: addon.name, env: att.env, ...(att.credentials === null ? { shared: true as const } : {}) });
  }, p.requestId);
  failpoint(ctx, 'after-detach-record', 'before any pass drops the login', { app: app.name, addon: addon.name });
  const others = ctx.store.attachments({ addon: addon.name }).map((a) => a.app);
  const revoked = await revokeAttachment(ctx, addon, att, DETACH_WAIT_MS);
  return {
    app: app.name, addon: addon.name, env: att.env, attached: false, revoked, sharedWith: others, ...r,
    ...(revoked ? {} : { hint: `${app.name}'s login is dropped by the first pass that reaches the ${addon.type} server; \`hop3 addons info ${addon.name}\` lists the logins still to drop` }),
  };
}

/**
 * A detach sent again by a client that lost the daemon before its answer (see callRecording): the
 * attachment is gone, recorded with the release that call made, which rollOut answers with. What
 * it was is read back from its event, whether its login was its own or the addon's shared one.
 */
function repeatedDetach(ctx: CommandContext, app: string, addon: string, requestId: string | undefined): AttachmentRecord | null {
  const release = requestId === undefined ? null : ctx.store.releaseByRequest(app, requestId);
  if (!release) return null;
  const event = ctx.store.listEvents({ app, limit: 1000 }).reverse().find((e) => e.kind === 'addon.detached' && e.data.addon === addon);
  return event?.kind === 'addon.detached' ? { addon, app, env: event.data.env, credentials: event.data.shared ? null : '', createdAt: release.createdAt } : null;
}

/** How long a detach waits for the pass that drops the login before it answers `revoked: false`. */
const DETACH_WAIT_MS = 60_000;

/**
 * Resolves once the release a change rolled out has settled (its rollout holds the app's deploy
 * lock until then).
 */
export function afterRollout(ctx: CommandContext, app: string): Promise<void> {
  return ctx.deployLocks.run(app, async () => undefined);
}

/** Whether the app's login to the addon is gone: no tombstone left (seen gone) and not attached again. */
function loginGone(ctx: CommandContext, addon: string, app: string): boolean {
  return ctx.store.loginTombstones({ app }).every((t) => t.addon !== addon) && ctx.store.attachments({ app }).every((a) => a.addon !== addon);
}

/**
 * Whether the access a removed attachment gave has ended, waiting at most `waitMs`: its login is
 * dropped by the app's passes (the rollout's prune phase, or one after it, for a stopped app), and
 * counts as revoked only once a pass saw it gone. One recorded before apps had their own logins
 * shared the addon's password: that changes once no app is attached.
 */
export async function revokeAttachment(ctx: CommandContext, addon: AddonRecord, att: AttachmentRecord, waitMs: number): Promise<boolean> {
  if (att.credentials === null) return ctx.store.attachments({ addon: addon.name }).length === 0 ? revoke(ctx, addon) : false;
  const timer = new AbortController();
  const bound = sleep(waitMs, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const);
  try {
    if ((await Promise.race([afterRollout(ctx, att.app), bound])) === 'timeout') return loginGone(ctx, addon.name, att.app);
    // Settled, or nothing rolled out (a stopped app): a pass of its own drops what the rollout did not.
    if (!loginGone(ctx, addon.name, att.app)) await Promise.race([ctx.reconciler.trigger(att.app), bound]);
    return loginGone(ctx, addon.name, att.app);
  } finally {
    timer.abort();
  }
}

/** A new password for an addon no app is attached to: the one its last app had no longer logs in. */
async function revoke(ctx: CommandContext, addon: AddonRecord): Promise<boolean> {
  const def = ctx.plugins.addons.of(addon.type);
  const box = ctx.plugins.addons.credentials();
  const spec = newInstanceSpec(addon.name);
  await ctx.store.writeRetrying(() => ctx.store.setAddonCredentials(addon.name, box.seal(def.provider.kind, spec)));
  try {
    const seen = await def.instances.observe([spec]);
    // Never made (attached to an app that never ran): nothing to revoke on the server.
    if (seen !== UNKNOWN && seen.get(addon.name) == null) return true;
    if (seen === UNKNOWN) throw operationalError('ADDON_SERVER_DOWN', `hop3's ${addon.type} server cannot be asked`);
    await def.instances.ensure(spec);
    return true;
  } catch (err) {
    // The new password is recorded: the next attach applies it; until then the old one may log in.
    ctx.log.warn({ addon: addon.name, err: asHop3Error(err).message }, 'the old credentials of an addon could not be revoked yet');
    return false;
  }
}

/**
 * Attachments recorded before apps had their own logins, removed (a destroyed app's, a manifest's):
 * the addon's password changes once no app is attached. The others' logins are tombstones, dropped by passes.
 */
export async function revokeShared(ctx: CommandContext, attachments: readonly AttachmentRecord[]): Promise<void> {
  for (const att of attachments) {
    const addon = att.credentials === null ? ctx.store.getAddon(att.addon) : null;
    if (addon) await revokeAttachment(ctx, addon, att, 0);
  }
}

/** `hop3 addons destroy NAME --yes`: its data is dropped, then its record. Refused while an app is attached. */
export async function addonsDestroy(ctx: CommandContext, caller: Caller, p: { addon: string; yes?: boolean | undefined }) {
  admit(caller, 'addons.write', null);
  const addon = requireAddon(ctx, p.addon);
  if (p.yes !== true) throw userError('CONFIRM', `destroying addon ${addon.name} deletes its data`, { hint: `run \`hop3 addons destroy ${addon.name} --yes\`` });
  const apps = ctx.store.attachments({ addon: addon.name }).map((a) => a.app);
  if (apps.length > 0) throw userError('ADDON_ATTACHED', `addon ${addon.name} is attached to ${apps.join(', ')}`, { hint: `detach it first: hop3 addons detach ${apps[0]} ${addon.name}` });
  await hostPass(ctx);
  await loginsDropped(ctx, addon);
  const finalBackup = await finalBackupOf(ctx, addon);
  await ctx.plugins.addons.of(addon.type).instances.drop(addon.name);
  await ctx.store.writeRetrying(() => ctx.store.deleteAddon(addon.name));
  await hostPass(ctx);
  return { addon: addon.name, type: addon.type, destroyed: true, finalBackup };
}

/**
 * A detached app's login to the addon outlives its database and role (a server-wide login), so it
 * is dropped first: by a pass of each app that left one; one still there refuses the destroy.
 */
async function loginsDropped(ctx: CommandContext, addon: AddonRecord): Promise<void> {
  const left = () => [...new Set(ctx.store.loginTombstones().filter((t) => t.addon === addon.name).map((t) => t.app))];
  for (const app of left()) await ctx.reconciler.trigger(app);
  const still = left();
  if (still.length > 0) {
    throw operationalError('ADDON_SERVER_DOWN', `the logins of ${still.join(', ')} to ${addon.name} are not dropped yet: nothing was destroyed`, {
      hint: `they are dropped once the ${addon.type} server answers; try again then`,
    });
  }
}

/**
 * The data goes only once a verified backup of it is kept: the id, or null for an instance never
 * created (no data). A server that does not answer, or a backup that does not verify, destroys nothing.
 */
async function finalBackupOf(ctx: CommandContext, addon: AddonRecord): Promise<string | null> {
  const def = ctx.plugins.addons.of(addon.type);
  const seen = await def.instances.observe([ctx.plugins.addons.credentials().open(def.provider.kind, addon.name, addon.credentials)]);
  if (seen === UNKNOWN) throw operationalError('ADDON_SERVER_DOWN', `the ${addon.type} server of ${addon.name} does not answer: nothing was destroyed`);
  if ((seen.get(addon.name) ?? null) === null) return null;
  const b = await ctx.backups.backups.create(addon.name, 'destroy');
  if (!b.verified) {
    throw operationalError('BACKUP_NOT_VERIFIED', `the final backup ${b.id} of ${addon.name} did not verify (${b.error ?? 'no reason given'}): nothing was destroyed`, {
      hint: `see \`hop3 backup list ${addon.name}\``,
    });
  }
  return b.id;
}

/** `hop3 addons [APP]`: every addon, or those APP is attached to, with their apps. */
export function addonsList(ctx: CommandContext, caller: Caller, p: { app?: string | undefined }) {
  admit(caller, 'addons.read', p.app ?? null);
  if (p.app !== undefined) {
    requireApp(ctx, p.app);
    return ctx.store.attachments({ app: p.app }).map((a) => ({ ...addonView(ctx, ctx.store.getAddon(a.addon)!), env: a.env }));
  }
  return ctx.store.listAddons().map((a) => addonView(ctx, a));
}

function addonView(ctx: CommandContext, a: AddonRecord) {
  const attachments = ctx.store.attachments({ addon: a.name }).map((x) => ({ app: x.app, env: x.env }));
  return { name: a.name, type: a.type, createdAt: a.createdAt, attachedTo: attachments };
}

/** `hop3 addons info NAME`: the record, and what its server says (version, whether the instance exists, its size). */
export async function addonsInfo(ctx: CommandContext, caller: Caller, p: { addon: string }) {
  admit(caller, 'addons.read', null);
  const addon = requireAddon(ctx, p.addon);
  const def = ctx.plugins.addons.of(addon.type);
  const spec = ctx.plugins.addons.credentials().open(def.provider.kind, addon.name, addon.credentials);
  const running = await def.server.reachable();
  const version = running ? await def.server.version().catch(() => null) : null;
  const seen = running ? await def.instances.observe([spec]).catch((): Unknown => UNKNOWN) : UNKNOWN;
  const live = seen === UNKNOWN ? UNKNOWN : seen.get(addon.name) ?? null;
  const instance = live === UNKNOWN ? 'unknown' : live === null ? 'not created yet (attach it to an app)' : def.provider.health?.(live) ?? 'Healthy';
  const sizeBytes = live !== UNKNOWN && live !== null ? await def.instances.size?.(addon.name).catch(() => null) ?? null : null;
  // Detached apps whose logins no pass has seen gone yet.
  const loginsToDrop = ctx.store.loginTombstones().filter((t) => t.addon === addon.name).map((t) => ({ app: t.app, detachedAt: t.createdAt }));
  return { ...addonView(ctx, addon), server: { running, version, port: running ? def.server.port : null }, instance, sizeBytes, loginsToDrop };
}

/**
 * `hop3 addons shell NAME`: how the CLI opens the type's client on the addon as its own role (the
 * password included: admins only). The client reaches the server on loopback, so the CLI runs it
 * only on the daemon's machine.
 */
export function addonsShell(ctx: CommandContext, caller: Caller, p: { addon: string }) {
  // Its own intent: it hands out the addon's password, which addons.write alone does not.
  admit(caller, 'addons.credentials', null);
  const addon = requireAddon(ctx, p.addon);
  const def = ctx.plugins.addons.of(addon.type);
  const spec = ctx.plugins.addons.credentials().open(def.provider.kind, addon.name, addon.credentials);
  return { addon: addon.name, type: def.type, ...def.instances.shell(spec) };
}

/** Masks the password of a URL's user info (`scheme://user:****@host`). */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]+@/i, '$1****@');
}
