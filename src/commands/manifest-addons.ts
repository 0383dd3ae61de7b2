import { userError } from '../lib/errors.js';
import type { AppSpec } from '../manifest/types.js';
import type { AttachmentRecord } from '../store/types.js';
import { checkNewAddonName } from '../plugins/addons/addon-name.js';
import { URL_VARS } from '../plugins/addons/index.js';
import { newInstanceSpec } from '../plugins/addons/instance-provider.js';
import type { CommandContext } from './context.js';

/** What a deploy records for its `[[addons]]`: addons to create, attachments to add, and those to remove. */
export interface ManifestAddons {
  create: { name: string; type: string; credentials: string }[];
  attach: { addon: string; env: string; credentials: string }[];
  /** Attachments the app's previous hop3.toml declared and this one does not. */
  detach: AttachmentRecord[];
}

/** The addon an `[[addons]]` entry names: without a name (the manifest gives the type as name), `APP-TYPE`. */
const entryName = (app: string, a: AppSpec['addons'][number]) => (a.name === a.type ? `${app}-${a.type}` : a.name);

/**
 * `[[addons]]` of a release about to be recorded, checked before anything is: each names an
 * addon this app gets (created when missing, with a new sealed password) and the variable it gets
 * it in. Without a name (the manifest gives the type as name) the addon is `APP-TYPE`. An existing
 * addon attached to other apps only is refused: the manifest of one app cannot take another's
 * database; `hop3 addons attach` can. An entry the app's previous release declared and this
 * one does not is detached (the addon and its data are kept).
 */
export async function manifestAddons(ctx: CommandContext, app: string, spec: AppSpec): Promise<ManifestAddons> {
  const out: ManifestAddons = { create: [], attach: [], detach: [] };
  const mine = ctx.store.attachments({ app });
  const declared = new Set(spec.addons.map((a) => entryName(app, a)));
  const previous = ctx.store.listReleases(app)[0]?.spec.addons ?? [];
  const dropped = new Set(previous.map((a) => entryName(app, a)).filter((n) => !declared.has(n)));
  out.detach = mine.filter((m) => dropped.has(m.addon));
  for (const a of spec.addons) {
    const def = ctx.plugins.addons.of(a.type);
    const name = checkNewAddonName(entryName(app, a));
    const env = a.env ?? URL_VARS[def.type];
    const existing = ctx.store.getAddon(name);
    if (existing && existing.type !== def.type) {
      throw userError('ADDON_EXISTS', `[[addons]] ${name} is a ${a.type} addon in hop3.toml, but addon ${name} exists as ${existing.type}`, { hint: 'name it differently in hop3.toml (name = "...")' });
    }
    const attachedHere = mine.find((m) => m.addon === name);
    if (attachedHere) {
      if (attachedHere.env !== env) throw userError('ADDON_ATTACHED', `${app} gets addon ${name} as ${attachedHere.env}, not ${env} as hop3.toml says`, { hint: `detach it first: hop3 addons detach ${app} ${name}` });
      continue;
    }
    const others = existing ? ctx.store.attachments({ addon: name }).map((x) => x.app) : [];
    if (others.length > 0) {
      throw userError('ADDON_ATTACHED', `addon ${name} in hop3.toml is attached to ${others.join(', ')}; a manifest attaches only its own app's addons`, { hint: `attach it on purpose: hop3 addons attach ${app} ${name}` });
    }
    const taken = mine.find((m) => m.env === env && !dropped.has(m.addon)) ?? out.attach.find((m) => m.env === env);
    if (taken) throw userError('ADDON_ATTACHED', `${app} would get ${env} from two addons (${'addon' in taken ? taken.addon : ''} and ${name})`, { hint: 'give one of them env = "..." in hop3.toml' });
    if (!existing) {
      await ctx.plugins.addons.prepare(def.type, name);
      out.create.push({ name, type: def.type, credentials: ctx.plugins.addons.credentials().seal(def.provider.kind, newInstanceSpec(name)) });
    }
    out.attach.push({ addon: name, env, credentials: ctx.plugins.addons.sealLogin(def.type, name, app) });
  }
  return out;
}

/** Record them: inside the transaction that records the release. */
export function recordManifestAddons(ctx: CommandContext, app: string, m: ManifestAddons): void {
  for (const d of m.detach) {
    ctx.store.detach(d.addon, app);
    ctx.store.addEvent(app, 'addon.detached', { addon: d.addon, env: d.env, reason: 'manifest' });
  }
  for (const c of m.create) if (!ctx.store.getAddon(c.name)) ctx.store.createAddon(c);
  for (const a of m.attach) {
    ctx.store.attach(a.addon, app, a.env, a.credentials);
    ctx.store.addEvent(app, 'addon.attached', { addon: a.addon, env: a.env });
  }
}
