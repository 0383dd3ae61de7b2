import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { accountIds } from '../../lib/accounts.js';
import { operationalError, userError } from '../../lib/errors.js';
import { freePorts } from '../../lib/free-ports.js';
import { readTextOrNull, writeFileAtomic } from '../../lib/fs-atomic.js';
import type { Layout } from '../../lib/layout.js';
import type { AttachmentRecord } from '../../store/types.js';
import type { DesiredResource, Provider } from '../provider.js';
import { hostServerProvider } from '../host-server-provider.js';
import type { AddonRecords, PluginContext } from '../types.js';
import { ADDON_ACCOUNT, ensureAddonAccount } from './account.js';
import type { AddonDefinition, AddonFactory } from './addon.js';
import { credentialBox, type CredentialBox } from './credentials.js';
import { newInstanceSpec, type InstanceSpec } from './instance-provider.js';
import { UNKNOWN } from '../../lib/unknown.js';
import { loginName, newLoginSpec, type LoginSpec, type RetiredLogins } from './login-provider.js';
import mariadbAddon from './mariadb/index.js';
import postgresAddon from './postgres/index.js';
import redisAddon from './redis/index.js';
import type { AddonAccount, AddonServerContext, AddonType } from './server-process.js';
import { systemServer } from './system.js';
import { systemServerProvider } from './system-server-provider.js';

/** Every addon type hop3 ships; `hop3 addons create TYPE` names one of these (`mysql` is MariaDB). */
export const ADDON_TYPES: Record<AddonType, AddonFactory> = { postgres: postgresAddon, mariadb: mariadbAddon, redis: redisAddon };
const ALIASES: Record<string, AddonType> = { postgresql: 'postgres', pg: 'postgres', mysql: 'mariadb' };

/** The variable an attached app gets the URL in unless `--as` names another. */
export const URL_VARS: Record<AddonType, string> = { postgres: 'DATABASE_URL', mariadb: 'DATABASE_URL', redis: 'REDIS_URL' };

export interface AddonPlugins {
  definitions: AddonDefinition[];
  /** The definition of a type name as a user gives it (`postgres`, `mysql`, ...); a userError otherwise. */
  of(type: string): AddonDefinition;
  /** Sealed credentials, under secrets/addons.key (made on first use, not at load). */
  credentials(): CredentialBox;
  /**
   * Before addon `name` is recorded: choose and record hop3's own server's port and account; on the
   * machine's server (HOP3_ADDONS=system), refuse a name it has already (see claimName).
   */
  prepare(type: AddonType, name: string): Promise<void>;
  /** A new login of `app` to `addon` (a `type` addon), its password sealed for the attachment's record. */
  sealLogin(type: string, addon: string, app: string): string;
  /** The login an attachment record holds, opened; null for one recorded before apps had their own. */
  openLogin(type: string, attachment: Pick<AttachmentRecord, 'addon' | 'app' | 'credentials'>): LoginSpec | null;
  /** The instance and login resources and environment an app gets from its attachments. Pure but for opening credentials. */
  attached(attachments: readonly AttachmentRecord[], sealed: (addon: string) => { type: string; credentials: string } | null): {
    resources: DesiredResource[]; env: Record<string, string>;
  };
  /** Instance providers (app resources) and server providers (host resources). */
  providers: Provider[];
}

export const portFile = (layout: Layout, type: AddonType) => join(layout.home, 'addons', `${type}.port`);

/**
 * On a server shared with the machine's other users a database, role or user of that name may be
 * someone else's: the first pass would take it over (its password reset, its owner changed), so the
 * name is refused. Asked before anything is recorded; a server that does not answer refuses too,
 * as nothing could be checked.
 */
async function claimName(def: AddonDefinition, spec: InstanceSpec): Promise<void> {
  await def.server.ensureRunning();
  const seen = await def.instances.observe([spec]);
  if (seen === UNKNOWN) throw operationalError('ADDON_SERVER_DOWN', `${def.server.label} could not be asked whether ${spec.name} exists`);
  if (seen.get(spec.name)) {
    throw userError('ADDON_EXISTS', `${def.server.label} has a database, role or user named ${spec.name} already, which hop3 did not make`, { hint: 'pick another name: hop3 never takes over what it did not create' });
  }
}

export function canonicalType(type: string): AddonType {
  const t = (ALIASES[type] ?? type) as AddonType;
  if (!Object.hasOwn(ADDON_TYPES, t)) {
    throw userError('ADDON_TYPE_UNKNOWN', `${JSON.stringify(type.slice(0, 40))} is not an addon type hop3 has`, { hint: `one of ${[...Object.keys(ADDON_TYPES), 'mysql'].join(', ')}` });
  }
  return t;
}

/**
 * hop3's own addon servers (or, HOP3_ADDONS=system, the machine's, observed only), each a host resource only while an addon of its type is recorded, and
 * their instances as app resources. `records` absent (tests, `hop3-server` admin commands): no
 * server is wanted.
 */
export function loadAddons(ctx: PluginContext): AddonPlugins {
  const records: AddonRecords | null = ctx.addonRecords ?? null;
  const uid = process.getuid?.() ?? 0;
  let box: CredentialBox | null = null;
  const accounts = new Map<AddonType, AddonAccount | null>();
  const definitions = (Object.keys(ADDON_TYPES) as AddonType[]).map((type) => {
    const configured = ctx.config.addonPorts[type];
    const sctx: AddonServerContext = {
      layout: ctx.layout,
      log: ctx.log,
      exec: ctx.exec,
      get port(): number {
        if (configured !== 0) return configured;
        const recorded = Number(readTextOrNull(portFile(ctx.layout, type))?.trim());
        if (Number.isInteger(recorded) && recorded > 0 && recorded < 65536) return recorded;
        throw operationalError('ADDON_SERVER_DOWN', `hop3's ${type} server has no port yet`, { hint: `create a ${type} addon first (the port is chosen then), or set HOP3_${type.toUpperCase()}_PORT` });
      },
      get account(): AddonAccount | null {
        if (uid !== 0) return null;
        const known = accounts.get(type);
        if (known !== undefined) return known;
        const ids = accountIds(ADDON_ACCOUNT);
        return ids === null ? null : { user: ADDON_ACCOUNT, ...ids };
      },
      wanted: () => records?.addonTypes().has(type) ?? false,
      prepare: () => prepareOwn(type),
      system: systemServer(ctx.config, type),
    };
    return ADDON_TYPES[type](sctx, retiredLogins(type));
  });

  function openOrNull(type: AddonType, t: Parameters<typeof openLogin>[1]) {
    try {
      return openLogin(type, t);
    } catch {
      return null;
    }
  }

  /** The tombstones of `type` logins (see state/008_login_tombstones.sql), opened for its login provider. */
  function retiredLogins(type: AddonType): RetiredLogins {
    const mine = (app?: string) => (records?.loginTombstones(app === undefined ? {} : { app }) ?? []).filter((t) => t.type === type);
    return {
      // One whose sealed password cannot be opened is still dropped: dropping needs only its name.
      of: (owner) => mine(owner).map((t) => ({ ...(openOrNull(type, t) ?? { addon: t.addon, user: loginName(t.addon, t.app), password: '' }), id: t.id })),
      has: (owner) => mine(owner).length > 0,
      owners: () => [...new Set(mine().map((t) => t.app))],
      gone: (id) => records?.forgetLoginTombstone(id),
    };
  }

  async function prepareOwn(type: AddonType): Promise<void> {
    // The machine's server has its own account and port.
    if (ctx.config.addonsMode === 'system') return;
    if (!accounts.has(type)) accounts.set(type, await ensureAddonAccount(ctx.exec, join(ctx.layout.home, 'addons'), ADDON_ACCOUNT, uid));
    if (ctx.config.addonPorts[type] !== 0 || existsSync(portFile(ctx.layout, type))) return;
    const [port] = await freePorts(1);
    mkdirSync(join(ctx.layout.home, 'addons'), { recursive: true, mode: 0o711 });
    writeFileAtomic(portFile(ctx.layout, type), `${port}\n`, 0o644);
  }

  async function prepare(type: AddonType, name: string): Promise<void> {
    const def = of(type);
    if (def.server.system === null) return prepareOwn(type);
    await claimName(def, newInstanceSpec(name));
  }

  const of = (type: string) => definitions.find((d) => d.type === canonicalType(type))!;
  const credentials = () => (box ??= credentialBox(ctx.layout));
  // Sealed under the login's own name and kind: a password copied into another attachment does not open.
  const sealLogin = (type: string, addon: string, app: string) => {
    const login = newLoginSpec(addon, app);
    return credentials().seal(of(type).loginProvider.kind, { name: login.user, password: login.password });
  };
  const openLogin = (type: string, a: Pick<AttachmentRecord, 'addon' | 'app' | 'credentials'>): LoginSpec | null => {
    if (a.credentials === null) return null;
    const user = loginName(a.addon, a.app);
    return { addon: a.addon, user, password: credentials().open(of(type).loginProvider.kind, user, a.credentials).password };
  };
  return {
    definitions,
    of,
    credentials,
    prepare,
    sealLogin,
    openLogin,
    attached(attachments, sealed) {
      const resources: DesiredResource[] = [];
      const env: Record<string, string> = {};
      for (const a of attachments) {
        const rec = sealed(a.addon);
        if (rec === null) continue;
        const def = of(rec.type);
        const instance: InstanceSpec = credentials().open(def.provider.kind, a.addon, rec.credentials);
        resources.push({ kind: def.provider.kind, name: a.addon, spec: instance });
        const login = openLogin(def.type, a);
        if (login !== null) resources.push({ kind: def.loginProvider.kind, name: login.user, spec: login });
        // An attachment recorded before apps had logins of their own keeps reaching it as the addon's role.
        const spec: InstanceSpec = login === null ? instance : { name: a.addon, user: login.user, password: login.password };
        const details = def.instances.connectionDetails(spec);
        const urlVar = URL_VARS[def.type];
        if (details[urlVar] !== undefined) env[a.env] = details[urlVar];
        // What else the details say under the URL's stem, passwords aside (REDIS_KEY_PREFIX), follows the
        // variable's name: CACHE_URL brings CACHE_KEY_PREFIX.
        const stem = urlVar.replace(/URL$/, '');
        const mine = a.env.endsWith('URL') ? a.env.replace(/URL$/, '') : `${a.env}_`;
        for (const [k, v] of Object.entries(details)) {
          if (k !== urlVar && k.startsWith(stem) && !v.includes(spec.password)) env[`${mine}${k.slice(stem.length)}`] = v;
        }
      }
      return { resources, env };
    },
    // Instances before the logins that reach them, and both before the servers' providers: only those are app resources.
    providers: [...definitions.map((d) => d.provider), ...definitions.map((d) => d.loginProvider),
      ...definitions.map((d) => (d.server.system === null ? hostServerProvider(d.server, d.type) : systemServerProvider(d.server, d.type)))],
  };
}
