import { BatchQueue } from '../../../lib/batch-queue.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { asHop3Error, errorMessage } from '../../../lib/errors.js';
import { readTextOrNull, writeFileAtomic } from '../../../lib/fs-atomic.js';
import { privateDir } from '../../../lib/layout.js';
import type { Logger } from '../../../lib/logger.js';
import type { ProxyServer } from '../../types.js';
import { adminRequest } from './admin-api.js';
import { appOfRoute, assembleCaddyConfig, canonicalJson, certTagBase, SERVER_NAME, staticRootsOf, tlsOfRoute, type CaddyConfig, type CertDigest, type Json } from './config.js';
import type { CaddyControl } from './control.js';
import { warnUnlessRequestMigration } from './listener-handover.js';
import { connectionsTo, upstreamPortsOf } from './upstream-connections.js';

/**
 * How often the loaded config is looked at: a change behind hop3's back is seen within this. A
 * look at a large config costs Caddy and hop3 tens of ms (1,000 sites: ~1 MB), so the period
 * grows to keep looking under about 5 % of the time, up to MAX_POLL_MS.
 */
const POLL_MS = 400;
const MAX_POLL_MS = 5_000;
const POLL_COST_SHARE = 20;
const OBSERVE_TIMEOUT_MS = 2_000;

/** What Caddy was last seen to have loaded, per app, and around the apps. */
interface LoadedView {
  /** Which look made it: verdicts about it are remembered by this. */
  id: number;
  pid: number;
  /** A digest of the admin endpoint's answer as sent: an unchanged one is not parsed again. */
  digest: string;
  /** Each app's route, compact canonical JSON. */
  routes: Map<string, string>;
  /** Everything but the apps' routes, compact canonical JSON. */
  frame: string;
  /** The upstream ports the apps' routes proxy to. */
  ports: number[];
}

/** What Caddy answers when the config itself is wrong (not when it cannot be reached). */
const REFUSALS: ReadonlySet<string> = new Set(['CADDY_CONFIG_REJECTED', 'APP_LINK_OUTSIDE']);

interface SiteChange {
  path: string;
  content: string | null;
  /** Load even with no file changed: a certificate file was replaced. */
  force?: boolean;
}

/** What a certificate file holds now, as the tag it is loaded with names it. */
const fileDigest: CertDigest = (file) => {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  } catch {
    return null;
  }
};

/**
 * Which certificate files the frame a loaded one is compared with should load: those on disk, and
 * those it loaded (a file deleted since is the cert provider's drift to restore, not a sign that
 * no app's site is loaded). An entry removed behind hop3's back while its file is there differs.
 */
function expectedFiles(frame: string): CertDigest {
  const parsed = JSON.parse(frame) as { apps?: { tls?: TlsApp } };
  const files = new Set((parsed.apps?.tls?.certificates?.load_files ?? []).flatMap((c) => {
    const { certificate, key } = c as { certificate?: unknown; key?: unknown };
    return [certificate, key].filter((f): f is string => typeof f === 'string');
  }));
  return (file) => (files.has(file) || existsSync(file) ? '' : null);
}

type TlsApp = { certificates?: { load_files?: Array<{ tags?: Json }> } };
type Policy = { certificate_selection?: { any_tag?: Json } };

/** Tags without their digests: which content is loaded is activation's business, not the frame's. */
function withoutDigests(copy: { apps?: { tls?: TlsApp; http?: { servers?: Record<string, { tls_connection_policies?: Policy[] }> } } }): void {
  const strip = (tags: Json | undefined) => (Array.isArray(tags) ? tags.map((t) => (typeof t === 'string' ? certTagBase(t) : t)) : tags);
  for (const c of copy.apps?.tls?.certificates?.load_files ?? []) if (c.tags !== undefined) c.tags = strip(c.tags) as Json;
  for (const p of copy.apps?.http?.servers?.[SERVER_NAME]?.tls_connection_policies ?? []) {
    if (p.certificate_selection?.any_tag !== undefined) p.certificate_selection.any_tag = strip(p.certificate_selection.any_tag) as Json;
  }
}

type Servers = Record<string, { routes?: Json[] }>;
type WithServers = { apps?: { http?: { servers?: Servers } } };

/** The config without the apps' routes: what must equal the frame hop3 assembles. */
function frameOf(config: CaddyConfig): { frame: string; routes: Map<string, string>; ports: number[] } {
  const { apps } = config as WithServers;
  const server = apps?.http?.servers?.[SERVER_NAME];
  const routes = new Map<string, string>();
  const ports: number[] = [];
  let rest = server?.routes;
  if (server && Array.isArray(server.routes)) {
    rest = server.routes.filter((r) => {
      const app = appOfRoute(r);
      if (app === null || routes.has(app)) return true;
      routes.set(app, canonicalJson(r, 0));
      ports.push(...upstreamPortsOf(r));
      return false;
    });
  }
  // Copied along the path to the routes only, so the apps' routes (most of a large config) are
  // not cloned just to be left out.
  const frame = server && apps?.http?.servers
    ? { ...config, apps: { ...apps, http: { ...apps.http, servers: { ...apps.http.servers, [SERVER_NAME]: { ...server, routes: rest } } } } }
    : config;
  const copy = structuredClone(frame) as Parameters<typeof withoutDigests>[0];
  withoutDigests(copy);
  return { frame: canonicalJson(copy as CaddyConfig, 0), routes, ports };
}

/**
 * hop3's Caddy as the proxy's running server. Each app's site is a file holding its route
 * (`caddy/sites/APP.json`); `apply` writes or removes one, assembles the whole config from all
 * of them, and has Caddy validate and load it. What is loaded is observed through the admin
 * endpoint (a poll, and a look right after every load), never taken from the files.
 */
export class CaddyServer implements ProxyServer {
  readonly resource = 'proxy';
  readonly uses = 'site' as const;
  private readonly control: CaddyControl;
  private readonly log: Logger;
  private readonly sitesDir: string;
  private view: LoadedView | null = null;
  /** Observations are numbered so one that started before a load cannot undo what the load saw. */
  private seq = 0;
  private acceptedSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Stopped (hop3-server halt): no more polling. */
  private stopped = false;
  private polling = false;
  private readonly watchers = new Set<(app: string) => void>();
  private readonly changes = new BatchQueue<SiteChange>((batch) => this.applyBatch(batch));
  private handoverChecked = false;
  /**
   * Per site file, its content when last looked at and whether the view of that look loaded it:
   * a pass over many unchanged apps parses no file and keeps no second copy of any route.
   */
  private readonly loadedMemo = new Map<string, { content: string; view: number; loaded: boolean }>();
  private pidSeen: { at: number; pid: number | null } | null = null;
  /** Upstream ports the previous configs proxied to and the loaded one no longer does. */
  private readonly retiring = new Set<number>();

  constructor(control: CaddyControl, log: Logger, sitesDir: string) {
    this.control = control;
    this.log = log;
    this.sitesDir = sitesDir;
  }

  sitePath(app: string): string {
    return join(this.sitesDir, `${app}.json`);
  }

  pid(): number | null {
    const now = Date.now();
    if (this.pidSeen && now - this.pidSeen.at < 100) return this.pidSeen.pid;
    const pid = this.control.pid();
    this.pidSeen = { at: now, pid };
    return pid;
  }

  get pidFile(): string {
    return this.control.paths.pidfile;
  }

  /** The config path is in its command line: another home's Caddy that got a reused pid is not ours. */
  get pidMarker(): string {
    return this.control.paths.config;
  }

  managed(): boolean {
    return true;
  }

  private checkHandover(): void {
    if (!this.handoverChecked) {
      this.handoverChecked = true;
      warnUnlessRequestMigration(this.log);
    }
  }

  async ensureRunning(): Promise<unknown> {
    this.stopped = false;
    this.checkHandover();
    privateDir(this.sitesDir);
    // A Caddy started by an earlier daemon (or just now, with the last config it accepted) may
    // serve another set of sites than the files say: the next pass over each app compares.
    const state = await this.control.ensureRunning();
    this.pidSeen = null;
    await this.refresh(false);
    this.startPolling();
    return state;
  }

  /** A Caddy this daemon did not start (or has not looked at since it started): what it loaded is read once. */
  async adopt(): Promise<void> {
    this.checkHandover();
    const pid = this.pid();
    if (pid !== null && this.view?.pid !== pid) await this.refresh(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.control.stop();
    this.view = null;
    this.pidSeen = null;
  }

  watch(onChange: (app: string) => void): () => void {
    this.watchers.add(onChange);
    this.startPolling();
    return () => {
      this.watchers.delete(onChange);
    };
  }

  private startPolling(): void {
    if (this.timer || this.stopped) return;
    const next = (delay: number) => {
      this.timer = setTimeout(() => {
        const t = Date.now();
        void this.refresh(true).finally(() => {
          if (!this.stopped) next(Math.min(MAX_POLL_MS, Math.max(POLL_MS, (Date.now() - t) * POLL_COST_SHARE)));
        });
      }, delay);
      this.timer.unref();
    };
    next(POLL_MS);
  }

  /** Look at what Caddy has loaded; with `notify`, tell the watchers which apps it changed for. */
  private async refresh(notify: boolean): Promise<void> {
    if (notify && (this.polling || this.changes.busy)) return;
    this.polling = true;
    const seq = ++this.seq;
    try {
      const pid = this.pid();
      let next: LoadedView | null = null;
      if (pid !== null) {
        const reply = await adminRequest(this.control.paths.adminSocket, 'GET', '/config/', OBSERVE_TIMEOUT_MS).catch(() => null);
        if (reply?.status === 200) {
          const body = reply.body.trimEnd();
          // A digest, not the ~2 MB answer itself, is what the next look is compared with.
          const digest = createHash('sha256').update(body).digest('base64');
          const prev = this.view;
          if (prev && prev.pid === pid && prev.digest === digest) {
            next = prev;
          } else {
            const parsed: unknown = JSON.parse(body);
            const config = (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as CaddyConfig;
            next = { id: seq, pid, digest, ...frameOf(config) };
          }
        }
      }
      if (seq < this.acceptedSeq) return;
      this.acceptedSeq = seq;
      const prev = this.view;
      this.view = next;
      if (notify && prev !== next) this.tell(prev, next);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'could not read the config Caddy has loaded');
    } finally {
      this.polling = false;
    }
  }

  /** The apps whose part of the loaded config differs between two views. */
  private tell(prev: LoadedView | null, next: LoadedView | null): void {
    if (this.watchers.size === 0) return;
    const apps = new Set<string>();
    if (prev === null || next === null || prev.frame !== next.frame || prev.pid !== next.pid) {
      for (const a of [...(prev?.routes.keys() ?? []), ...(next?.routes.keys() ?? []), ...this.siteApps()]) apps.add(a);
    } else {
      for (const a of new Set([...prev.routes.keys(), ...next.routes.keys()])) if (prev.routes.get(a) !== next.routes.get(a)) apps.add(a);
    }
    for (const app of apps) for (const w of this.watchers) w(app);
  }

  private siteApps(): string[] {
    return existsSync(this.sitesDir) ? readdirSync(this.sitesDir).filter((f) => /^[a-z0-9][a-z0-9-]*\.json$/.test(f)).map((f) => f.slice(0, -5)) : [];
  }

  /** Whether `content`, a site file's, is the route `live` (compact canonical JSON) says. */
  private isRoute(content: string, live: string | undefined): boolean {
    if (live === undefined) return false;
    try {
      return canonicalJson(JSON.parse(content) as Json, 0) === live;
    } catch {
      return false; // not a route at all: nothing Caddy could have loaded
    }
  }

  /**
   * The frame hop3 would load around the routes Caddy has loaded (the routes are compared one by
   * one): the certificates and connection policies follow from the TLS sites among them.
   */
  private expectedFrame(view: LoadedView): string {
    const routes = [...view.routes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => JSON.parse(r) as Json);
    return frameOf(assembleCaddyConfig(routes, this.control.settings(), expectedFiles(view.frame))).frame;
  }

  /**
   * Whether the loaded frame is the one hop3 would load around its routes, decided once per loaded
   * view: with every app's certificate in it the frame is ~320 KB at 1,000 apps, and comparing it
   * again for each app's site made a pass over them compare ~320 MB of text.
   */
  private frameMemo: { view: LoadedView; matches: boolean } | null = null;

  loaded(path: string, content: string | null): boolean | null {
    const pid = this.pid();
    const view = this.view;
    if (pid === null || view === null || view.pid !== pid) return null;
    if (this.frameMemo?.view !== view) this.frameMemo = { view, matches: view.frame === this.expectedFrame(view) };
    if (!this.frameMemo.matches) return false;
    const live = view.routes.get(basename(path, '.json'));
    if (content === null) {
      this.loadedMemo.delete(path);
      return live === undefined;
    }
    const memo = this.loadedMemo.get(path);
    if (memo?.view === view.id && memo.content === content) return memo.loaded;
    const loaded = this.isRoute(content, live);
    this.loadedMemo.set(path, { content, view: view.id, loaded });
    return loaded;
  }

  /**
   * Wait until requests taken by earlier configs are done with the upstreams the loaded config
   * dropped, so those can be stopped without cutting one. Caddy's POST /load returns before the
   * old config's requests have finished (they do finish, within its grace period), and it tells
   * nothing of them; each holds a connection to its upstream, which the kernel's tables show.
   */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.changes.busy && Date.now() < deadline) {
      await Promise.race([this.changes.idle(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    }
    while (this.retiring.size > 0 && (await connectionsTo(this.retiring)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.retiring.size > 0 && Date.now() >= deadline) this.log.warn({ ports: [...this.retiring] }, 'requests of an earlier Caddy config still hold upstreams past the drain bound');
    this.retiring.clear();
  }

  /**
   * Put `content` at `path` (or remove it when null) and have Caddy load the whole config.
   * Changes that arrive while one is loading go together (one validate, one load); if Caddy
   * refuses a batch, its changes are retried one by one so only the bad one fails. A refused
   * change leaves its file as it was.
   */
  apply(path: string, content: string | null, force = false): Promise<void> {
    return this.changes.push({ path, content, force });
  }

  private async applyBatch(batch: SiteChange[]): Promise<void> {
    if (this.view === null && this.pid() !== null) await this.refresh(false);
    // A file already as wanted may still not be what Caddy loaded (changed through the admin
    // endpoint, or written before a daemon died): it is loaded all the same.
    const changes = batch.map((c) => ({ ...c, previous: readTextOrNull(c.path) }))
      .filter((c) => c.force === true || c.previous !== c.content || this.loaded(c.path, c.content) !== true);
    if (changes.length === 0) return;
    privateDir(this.sitesDir);
    const put = (path: string, content: string | null) => (content === null ? rmSync(path, { force: true }) : writeFileAtomic(path, content));
    const writes = changes.filter((c) => c.force !== true && c.previous !== c.content);
    for (const c of writes) put(c.path, c.content);
    try {
      const routes = this.siteRoutes();
      const before = this.view?.ports ?? [];
      // Every load reads the certificate files again: a tag names the content it loads.
      await this.control.apply({ config: assembleCaddyConfig(routes, this.control.settings(), fileDigest), staticRoots: staticRootsOf(routes) });
      const now = new Set(upstreamPortsOf(routes));
      for (const port of before) if (!now.has(port)) this.retiring.add(port);
      for (const port of now) this.retiring.delete(port);
    } catch (err) {
      // Not loaded: the files say what Caddy serves.
      for (const c of writes) put(c.path, c.previous);
      // A file that was already as wanted but refused (written before a daemon died) goes back
      // to the route Caddy serves, or it would make every other app's load fail with it.
      if (REFUSALS.has(asHop3Error(err).code)) {
        for (const c of changes) {
          if (writes.includes(c) || c.force === true) continue;
          const served = this.view?.routes.get(basename(c.path, '.json'));
          put(c.path, served === undefined ? null : `${canonicalJson(JSON.parse(served) as Json)}\n`);
        }
      }
      throw err;
    } finally {
      this.pidSeen = null;
      await this.refresh(false);
    }
  }

  /** Whether the app's site, as its file holds it, serves HTTPS with a certificate file. */
  servesCertificate(app: string): boolean {
    try {
      return tlsOfRoute(JSON.parse(readTextOrNull(this.sitePath(app)) ?? 'null') as Json) !== null;
    } catch {
      return false;
    }
  }

  /**
   * Have Caddy read the certificate files again: a load whose tags name their new digests (Caddy
   * would skip a config equal to the loaded one, and reads the files only when it takes a new one). It
   * goes through the queue of site changes, so it never loads routes older than theirs.
   */
  reloadCertificates(app: string): Promise<void> {
    return this.apply(this.sitePath(app), null, true);
  }

  /**
   * Every app's route as its site file holds it, in app order. For a file that is not its app's
   * route (edited by hand) the route Caddy has loaded stays: that app's own pass rewrites the
   * file, and no other app's change takes its site down meanwhile.
   */
  private siteRoutes(): Json[] {
    const routes: Json[] = [];
    for (const app of this.siteApps().sort()) {
      let route: Json = null;
      try {
        route = JSON.parse(readTextOrNull(this.sitePath(app)) ?? 'null') as Json;
      } catch {
        // handled below, as any file that is not the app's route
      }
      if (appOfRoute(route) !== app) {
        const loaded = this.view?.routes.get(app);
        this.log.warn({ app, kept: loaded !== undefined }, 'a Caddy site file is not its app\'s route: the loaded route stays until the app is reconciled');
        if (loaded === undefined) continue;
        route = JSON.parse(loaded) as Json;
      }
      routes.push(route);
    }
    return routes;
  }
}
