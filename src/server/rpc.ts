import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asHop3Error, operationalError, userError, type Hop3Error } from '../lib/errors.js';
import { SCHEMAS_DIR } from '../lib/paths.js';
import { appView, cancelRelease, deployArchive, destroyApp, releaseConfigChange, releaseView, requireApp, rollback } from './apps.js';
import type { Hop3 } from './hop3.js';
import { compileParamsChecks, type MethodSchemas } from './rpc-params.js';
import { deployBranchesOf, ensureRepo, extractCommit } from '../git/repo.js';
import { chunked, isGzip, unpackArchive } from '../lib/unpack-archive.js';
import type { AppRecord } from '../store/types.js';


type Params = Record<string, unknown>;
type Handler = (h: Hop3, p: Params) => Promise<unknown> | unknown;

const app = (p: Params) => p.app as string;
/** `vN` or `N` (checked by the schema) as a number; undefined when not given. */
const version = (p: Params) => (p.version === undefined ? undefined : Number(String(p.version).replace(/^v/, '')));

/** Wait for the pass a desired change triggered, then answer with the app's status. */
async function settle(h: Hop3, name: string, detach = false) {
  if (detach) {
    // The client follows it (or not) through apps.status and apps.events.
    h.reconciler.trigger(name).catch((err: unknown) => h.log.warn({ app: name, err }, 'pass failed'));
    return appView(h, requireApp(h, name));
  }
  await h.reconciler.trigger(name);
  const error = h.reconciler.lastPass.get(name)?.error;
  if (error) {
    throw operationalError('PASS_FAILED', `${name}: the change is recorded, but applying it failed: ${error}`, {
      hint: `hop3-server retries it; see \`hop3 status ${name}\` and \`hop3 events ${name}\``,
    });
  }
  return appView(h, requireApp(h, name));
}

const METHODS: Record<string, Handler> = {
  'apps.list': (h) => h.store.listApps().map((a) => appView(h, a)),
  'apps.status': (h, p) => appView(h, requireApp(h, app(p))),
  'apps.deploy': async (h, p) => {
    const commit = (p.commit as string | undefined) ?? null;
    const limits = { maxBytes: h.config.maxAppBytes, maxFiles: h.config.maxAppFiles };
    // Without an upload, the commit comes from the app's repository (a push).
    const unpack = p.archive === undefined
      ? (dest: string) => extractCommit(h.layout, app(p), commit!, (p.quarantine as string | undefined) ?? null, dest, limits)
      : (dest: string) => {
        const archive = Buffer.from(p.archive as string, 'base64');
        return unpackArchive(chunked(archive), isGzip(archive), dest, limits).then(() => undefined);
      };
    return deployArchive(h, app(p), unpack, {
      commit,
      push: p.ref === undefined ? null : { ref: p.ref as string, old: (p.old as string | undefined) ?? '0'.repeat(40) },
      requestId: p.requestId as string | undefined,
    });
  },
  'apps.configure': async (h, p) => {
    const a = requireApp(h, app(p));
    await h.store.writeRetrying(() => {
      if (p.deployBranch !== undefined) h.store.setDeployBranch(a.name, p.deployBranch as string | null);
      if (p.healPolicy !== undefined) h.store.updateDesired(a.name, { healPolicy: p.healPolicy as 'heal' | 'report' });
    });
    const fresh = requireApp(h, a.name);
    return { app: a.name, deployBranch: fresh.deployBranch, deployBranches: deployBranchesOf(fresh), healPolicy: fresh.healPolicy };
  },
  'git.info': (h, p) => ({ app: app(p), deployBranches: deployBranchesOf(h.store.getApp(app(p))) }),
  'git.prepare': async (h, p) => ({ app: app(p), path: await ensureRepo(h.config, h.layout, app(p)) }),
  'apps.start': async (h, p) => {
    requireApp(h, app(p));
    await h.store.writeRetrying(() => h.store.updateDesired(app(p), { desiredState: 'running' }));
    return settle(h, app(p), p.detach === true);
  },
  'apps.stop': async (h, p) => {
    requireApp(h, app(p));
    await h.store.writeRetrying(() => h.store.updateDesired(app(p), { desiredState: 'stopped' }));
    return settle(h, app(p), p.detach === true);
  },
  'apps.pause': async (h, p) => {
    const a = requireApp(h, app(p));
    if (a.desiredState !== 'running' || a.currentRelease === null) {
      throw userError('APP_NOT_RUNNING', `${a.name} is ${a.currentRelease === null ? 'not deployed' : a.desiredState}: only a running app can be paused`, { hint: `\`hop3 start ${a.name}\` first` });
    }
    await h.store.writeRetrying(() => h.store.updateDesired(a.name, { desiredState: 'paused' }));
    return settle(h, a.name, p.detach === true);
  },
  'apps.resume': async (h, p) => {
    const a = requireApp(h, app(p));
    if (a.desiredState !== 'paused') throw userError('APP_NOT_PAUSED', `${a.name} is ${a.desiredState}, not paused`, { hint: `\`hop3 start ${a.name}\` starts a stopped app` });
    await h.store.writeRetrying(() => h.store.updateDesired(a.name, { desiredState: 'running' }));
    return settle(h, a.name, p.detach === true);
  },
  'apps.restart': async (h, p) => {
    requireApp(h, app(p));
    await h.store.writeRetrying(() => h.store.updateDesired(app(p), { desiredState: 'running', restart: true }));
    return settle(h, app(p), p.detach === true);
  },
  'apps.destroy': async (h, p) => {
    await destroyApp(h, app(p));
    return { app: app(p), destroyed: true };
  },
  'apps.reconcile': async (h, p) => {
    requireApp(h, app(p));
    await h.reconciler.trigger(app(p));
    const pass = h.reconciler.lastPass.get(app(p));
    return { app: app(p), actions: pass?.actions.map(({ type, drift }) => ({ type, drift: drift ?? null })) ?? [], findings: pass?.findings ?? [], error: pass?.error ?? null };
  },
  'apps.drift': (h, p) => {
    if (p.app !== undefined) requireApp(h, app(p));
    return h.store.listDrift(p.app as string | undefined, (p.limit as number | undefined) ?? 100);
  },
  'apps.events': (h, p) =>
    h.store.listEvents({ app: p.app as string | undefined, after: p.after as number | undefined, limit: p.limit as number | undefined }),
  'releases.rollback': (h, p) => rollback(h, app(p), version(p), { requestId: p.requestId as string | undefined }),
  'releases.cancel': (h, p) => {
    const a = requireApp(h, app(p));
    const inProgress = a.desiredRelease === null ? null : h.store.getRelease(a.name, a.desiredRelease);
    const v = version(p) ?? (inProgress?.status === 'pending' || inProgress?.status === 'built' ? inProgress.version : null);
    if (v === null) {
      throw userError('NOTHING_TO_CANCEL', `${a.name} has no deploy in progress`, { hint: `see \`hop3 releases ${a.name}\`` });
    }
    return cancelRelease(h, a.name, v, `cancelled: ${(p.reason as string | undefined) ?? 'by request'}`);
  },
  'releases.list': (h, p) => {
    const a = requireApp(h, app(p));
    return h.store.listReleases(a.name).map((r) => releaseView(r, a.currentRelease));
  },
  'config.get': (h, p) => {
    requireApp(h, app(p));
    return h.store.getEnv(app(p));
  },
  'config.set': async (h, p) => {
    requireApp(h, app(p));
    const values = p.values as Record<string, string>;
    return {
      app: app(p),
      ...(await releaseConfigChange(h, app(p), () => {
        h.store.editEnv(app(p), values, []);
        h.store.addEvent(app(p), 'config.changed', { set: Object.keys(values) });
      }, p.requestId as string | undefined)),
    };
  },
  'config.unset': async (h, p) => {
    const a = requireApp(h, app(p));
    const present = h.store.getEnv(a.name);
    const keys = (p.keys as string[]).filter((k) => k in present);
    // Nothing left to unset: done, unless this repeats a call that recorded a release (rollOut answers it).
    const repeated = p.requestId !== undefined && h.store.releaseByRequest(a.name, p.requestId as string) !== null;
    if (keys.length === 0 && !repeated) return { app: a.name };
    return {
      app: a.name,
      ...(await releaseConfigChange(h, a.name, () => {
        h.store.editEnv(a.name, {}, keys);
        h.store.addEvent(a.name, 'config.changed', { unset: keys });
      }, p.requestId as string | undefined)),
    };
  },
};

const schemas = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'rpc.json'), 'utf8')) as MethodSchemas;
const paramsChecks = compileParamsChecks(schemas);

export const RPC_METHODS = Object.keys(METHODS);

export interface JsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  APP_ERROR: -32000,
  UNAUTHORIZED: -32001,
} as const;

function toRpcError(err: Hop3Error): JsonRpcError {
  const code = err.code === 'PARAMS_INVALID' ? RPC.INVALID_PARAMS : err.category === 'internal' ? RPC.INTERNAL : RPC.APP_ERROR;
  return { code, message: err.message, data: { code: err.code, category: err.category, hint: err.hint, details: err.details } };
}

/** Answer one JSON-RPC request object. Never throws. */
export async function handleRpc(h: Hop3, req: unknown): Promise<{ jsonrpc: '2.0'; id: unknown; result?: unknown; error?: JsonRpcError }> {
  const r = req as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
  const id = typeof r?.id === 'string' || typeof r?.id === 'number' ? r.id : null;
  if (typeof r !== 'object' || r === null || r.jsonrpc !== '2.0' || typeof r.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: RPC.INVALID_REQUEST, message: 'not a JSON-RPC 2.0 request: needs jsonrpc "2.0" and a method name' } };
  }
  const handler = Object.hasOwn(METHODS, r.method) ? METHODS[r.method] : undefined;
  const checkParams = paramsChecks.get(r.method);
  if (!handler || !checkParams) {
    return { jsonrpc: '2.0', id, error: { code: RPC.METHOD_NOT_FOUND, message: `no method ${r.method}`, data: { methods: RPC_METHODS } } };
  }
  const params = r.params ?? {};
  try {
    const invalid = checkParams(params);
    if (invalid) throw invalid;
    return { jsonrpc: '2.0', id, result: await handler(h, params as Params) };
  } catch (err) {
    const e = asHop3Error(err);
    if (e.category === 'internal') h.log.error({ err, method: r.method }, 'rpc method failed');
    return { jsonrpc: '2.0', id, error: toRpcError(e) };
  }
}
