import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Caller } from '../commands/authorize.js';
import { addonsAttach, addonsCreate, addonsDestroy, addonsDetach, addonsInfo, addonsList, addonsShell } from '../commands/addons.js';
import { createBackup, listBackups, restoreBackup, scheduleBackup } from '../commands/backups.js';
import { listCerts, renewCert } from '../commands/certs.js';
import { configSet, configUnset } from '../commands/config.js';
import { listCron } from '../commands/cron.js';
import { deploy, type DeployInput } from '../commands/deploy.js';
import { destroy } from '../commands/destroy.js';
import { gitPrepare } from '../commands/git.js';
import { pause, restart, resume, start, stop, type LifecycleInput } from '../commands/lifecycle.js';
import { appStatus, configGet, gitInfo, listApps, listDrift, listEvents, listReleases } from '../commands/queries.js';
import { listProcesses } from '../commands/processes.js';
import { reconcileNow } from '../commands/reconcile-now.js';
import { logs } from '../commands/logs.js';
import { runOneOff } from '../commands/run.js';
import type { Emit } from '../commands/stream.js';
import { cancel, rollback } from '../commands/releases.js';
import { scale } from '../commands/scale.js';
import { configure } from '../commands/settings.js';
import { asHop3Error, type Hop3Error } from '../lib/errors.js';
import { SCHEMAS_DIR } from '../lib/paths.js';
import type { HealPolicy } from '../store/types.js';
import type { Hop3 } from './hop3.js';
import { compileParamsChecks, type MethodSchemas } from './rpc-params.js';

/** Params as `schemas/rpc.json` checked them: their types hold by the time a handler reads them. */
type Params = Record<string, unknown>;
type Handler = (h: Hop3, caller: Caller, p: Params) => Promise<unknown> | unknown;

const app = (p: Params) => p.app as string;
const optional = <T>(v: unknown) => v as T | undefined;
/** `vN` or `N` (checked by the schema) as a number; undefined when not given. */
const version = (p: Params) => (p.version === undefined ? undefined : Number(String(p.version).replace(/^v/, '')));
const lifecycle = (p: Params): LifecycleInput => ({ app: app(p), detach: optional<boolean>(p.detach) });

/** Method names → commands (src/commands); each command validates, authorizes and records. */
const METHODS: Record<string, Handler> = {
  'apps.list': (h, c) => listApps(h, c),
  'apps.status': (h, c, p) => appStatus(h, c, app(p)),
  'apps.deploy': (h, c, p) => deploy(h, c, p as unknown as DeployInput),
  'apps.configure': (h, c, p) => configure(h, c, {
    app: app(p), deployBranch: optional<string | null>(p.deployBranch), healPolicy: optional<HealPolicy>(p.healPolicy),
  }),
  'git.info': (h, c, p) => gitInfo(h, c, app(p)),
  'git.prepare': (h, c, p) => gitPrepare(h, c, { app: app(p) }),
  'apps.start': (h, c, p) => start(h, c, lifecycle(p)),
  'apps.stop': (h, c, p) => stop(h, c, lifecycle(p)),
  'apps.pause': (h, c, p) => pause(h, c, lifecycle(p)),
  'apps.resume': (h, c, p) => resume(h, c, lifecycle(p)),
  'apps.restart': (h, c, p) => restart(h, c, lifecycle(p)),
  'apps.destroy': (h, c, p) => destroy(h, c, { app: app(p) }),
  'apps.reconcile': (h, c, p) => reconcileNow(h, c, { app: app(p) }),
  'apps.scale': (h, c, p) => scale(h, c, { app: app(p), counts: p.counts as Record<string, number>, requestId: optional<string>(p.requestId) }),
  'apps.ps': (h, c, p) => listProcesses(h, c, app(p)),
  'apps.drift': (h, c, p) => listDrift(h, c, { app: optional<string>(p.app), limit: optional<number>(p.limit) }),
  'apps.events': (h, c, p) =>
    listEvents(h, c, { app: optional<string>(p.app), after: optional<number>(p.after), limit: optional<number>(p.limit) }),
  'releases.rollback': (h, c, p) => rollback(h, c, { app: app(p), version: version(p), requestId: optional<string>(p.requestId) }),
  'releases.cancel': (h, c, p) => cancel(h, c, { app: app(p), version: version(p), reason: optional<string>(p.reason) }),
  'releases.list': (h, c, p) => listReleases(h, c, app(p)),
  'cron.list': (h, c, p) => listCron(h, c, app(p)),
  'certs.list': (h, c, p) => listCerts(h, c, { app: optional<string>(p.app) }),
  'certs.renew': (h, c, p) => renewCert(h, c, { app: app(p) }),
  'backups.create': (h, c, p) => createBackup(h, c, { name: p.name as string }),
  'backups.list': (h, c, p) => listBackups(h, c, { name: optional<string>(p.name) }),
  'backups.restore': (h, c, p) => restoreBackup(h, c, { id: p.id as string, to: optional<string>(p.to) }),
  'backups.schedule': (h, c, p) => scheduleBackup(h, c, { name: p.name as string, cron: p.cron as string, keep: p.keep as number }),
  'config.get': (h, c, p) => configGet(h, c, app(p), p.reveal === true),
  'config.set': (h, c, p) => configSet(h, c, { app: app(p), values: p.values as Record<string, string>, requestId: optional<string>(p.requestId) }),
  'config.unset': (h, c, p) => configUnset(h, c, { app: app(p), keys: p.keys as string[], requestId: optional<string>(p.requestId) }),
  'addons.create': (h, c, p) => addonsCreate(h, c, { type: p.type as string, name: p.name as string }),
  'addons.attach': (h, c, p) => addonsAttach(h, c, { app: app(p), addon: p.addon as string, as: optional<string>(p.as), requestId: optional<string>(p.requestId) }),
  'addons.detach': (h, c, p) => addonsDetach(h, c, { app: app(p), addon: p.addon as string, requestId: optional<string>(p.requestId) }),
  'addons.list': (h, c, p) => addonsList(h, c, { app: optional<string>(p.app) }),
  'addons.info': (h, c, p) => addonsInfo(h, c, { addon: p.addon as string }),
  'addons.shell': (h, c, p) => addonsShell(h, c, { addon: p.addon as string }),
  'addons.destroy': (h, c, p) => addonsDestroy(h, c, { addon: p.addon as string, yes: optional<boolean>(p.yes) }),
};

type StreamHandler = (h: Hop3, caller: Caller, p: Params, emit: Emit, signal: AbortSignal) => Promise<unknown>;

/**
 * Methods whose answer comes in pieces while they run: each piece is a JSON-RPC notification
 * (`method`: the call's method, `params`: the piece) on a line of its own, and the last line is
 * the call's response (see handleStream).
 */
const STREAMS: Record<string, StreamHandler> = {
  'apps.logs': (h, c, p, emit, signal) => logs(h, c, {
    app: app(p), process: optional<string>(p.process), lines: optional<number>(p.lines), follow: p.follow === true,
  }, emit, signal),
  'apps.run': (h, c, p, emit, signal) => runOneOff(h, c, { app: app(p), command: p.command as string[], timeout: optional<number>(p.timeout) }, emit, signal),
};

export const isStreamMethod = (method: unknown): boolean => typeof method === 'string' && Object.hasOwn(STREAMS, method);

const schemas = JSON.parse(readFileSync(join(SCHEMAS_DIR, 'rpc.json'), 'utf8')) as MethodSchemas;
const paramsChecks = compileParamsChecks(schemas);

export const RPC_METHODS = [...Object.keys(METHODS), ...Object.keys(STREAMS)];

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

/**
 * Answer one JSON-RPC request object. Never throws. `caller` is who the HTTP edge authenticated
 * (today: the admin token's holder).
 */
export async function handleRpc(h: Hop3, req: unknown, caller: Caller): Promise<{ jsonrpc: '2.0'; id: unknown; result?: unknown; error?: JsonRpcError }> {
  const r = req as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
  const id = typeof r?.id === 'string' || typeof r?.id === 'number' ? r.id : null;
  if (typeof r !== 'object' || r === null || r.jsonrpc !== '2.0' || typeof r.method !== 'string') {
    return { jsonrpc: '2.0', id, error: { code: RPC.INVALID_REQUEST, message: 'not a JSON-RPC 2.0 request: needs jsonrpc "2.0" and a method name' } };
  }
  if (isStreamMethod(r.method)) {
    return { jsonrpc: '2.0', id, error: { code: RPC.INVALID_REQUEST, message: `${r.method} answers as a stream: send it alone, not in a batch` } };
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
    return { jsonrpc: '2.0', id, result: await handler(h, caller, params as Params) };
  } catch (err) {
    const e = asHop3Error(err);
    if (e.category === 'internal') h.log.error({ err, method: r.method }, 'rpc method failed');
    return { jsonrpc: '2.0', id, error: toRpcError(e) };
  }
}

/**
 * Answer one call of a stream method: `emit` gets each piece as a JSON-RPC notification, and the
 * response (result or error) is returned. Never throws.
 */
export async function handleStream(
  h: Hop3, req: { id?: unknown; method: string; params?: unknown }, caller: Caller, emit: (message: object) => void | Promise<void>, signal: AbortSignal,
): Promise<{ jsonrpc: '2.0'; id: unknown; result?: unknown; error?: JsonRpcError }> {
  const id = typeof req.id === 'string' || typeof req.id === 'number' ? req.id : null;
  const params = req.params ?? {};
  try {
    const invalid = paramsChecks.get(req.method)!(params);
    if (invalid) throw invalid;
    const result = await STREAMS[req.method]!(h, caller, params as Params, (piece) => emit({ jsonrpc: '2.0', method: req.method, params: piece }), signal);
    return { jsonrpc: '2.0', id, result };
  } catch (err) {
    const e = asHop3Error(err);
    if (e.category === 'internal') h.log.error({ err, method: req.method }, 'rpc stream failed');
    return { jsonrpc: '2.0', id, error: toRpcError(e) };
  }
}
