import type { AccountIds } from '../lib/accounts.js';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { Exec } from '../lib/exec.js';
import type { Renderer } from '../lib/render.js';
import type { Layout } from '../lib/layout.js';
import type { AppSpec } from '../manifest/types.js';
import type { BuildArtifact, LoginTombstone, ReleaseRecord } from '../store/types.js';
import type { DesiredResource, Provider } from './provider.js';
import type { CronOutcome, Hop3Event } from '../store/events.js';

/** What every plugin gets: settings, paths, a logger, the template renderer and how to run programs. No module singletons. */
export interface PluginContext {
  config: Config;
  layout: Layout;
  log: Logger;
  render: Renderer;
  exec: Exec;
  /** What addon servers read to know whether they are wanted (the store); absent: none is. */
  addonRecords?: AddonRecords;
}

/** The addon records plugins read: the types that have at least one addon, and the logins detached apps left to drop. */
export interface AddonRecords {
  addonTypes(): ReadonlySet<string>;
  loginTombstones(q?: { app?: string }): LoginTombstone[];
  /** A login provider saw a retired login gone. */
  forgetLoginTombstone(id: number): void;
}

export interface BuildContext {
  app: string;
  version: number;
  spec: AppSpec;
  env: Record<string, string>;
  /** Release directory; the source is already extracted into `src/` inside it. */
  releaseDir: string;
  onLine: (line: string) => void;
  /** Aborted when the release is cancelled: the build's programs are killed. */
  signal?: AbortSignal;
  /** Pass to `run` for the app's own commands (process groups): the group is recorded, so a
   * daemon killed during the build never has a rerun beside the leftover. */
  onSpawn?: (pid: number) => void;
}

export interface Builder {
  kind: 'builder';
  name: string;
  /** The kind of artifact its builds make (exactly one deployer accepts it). */
  artifact: BuildArtifact['kind'];
  /**
   * The Debian packages of its toolchain: what `hop3-server setup --runtimes NAME` installs and
   * what a TOOLCHAIN_MISSING error names; empty when it needs nothing beyond hop3's own packages.
   */
  packages: string[];
  /** Cheap: looks at the spec and the source tree only. */
  accept(ctx: BuildContext): boolean;
  build(ctx: BuildContext): Promise<BuildArtifact>;
}

/** Where the proxy should send traffic for an app. */
export type DeploymentInfo =
  /** `morePorts`: the further instances of a scaled web process, balanced with `port`. */
  | { protocol: 'http'; address: '127.0.0.1'; port: number; morePorts?: number[] }
  | { protocol: 'file'; root: string };

/** One file the deployer wants on disk, with the resource name used in drift reports. */
export interface UnitFile {
  resource: string;
  path: string;
  content: string;
}

/** A process supervisor unit (a uWSGI vassal): its config file and the files it reads. */
export interface Unit {
  name: string;
  /** The Procfile process type it runs (`web`). */
  process: string;
  /** Which instance of it, as logs and ps show it: the type for the first (`web`), `web.2` for the next. */
  instance: string;
  /** Where the process writes its output. */
  log: string;
  config: UnitFile;
  files: UnitFile[];
}

/** What the process supervisor says about one running unit. */
export interface UnitStatus {
  pid: number;
  /** Times the supervisor restarted it after it died: a rise hop3 did not cause is drift. */
  respawns: number;
  ready: boolean;
  /** It keeps dying and the supervisor has given up on it for now. */
  cursed: boolean;
  /** When its current process was started (unix seconds), when the supervisor says. */
  startedAt?: number;
}

/** The server that runs units (the uWSGI emperor): a host resource, asked what runs. */
export interface UnitSupervisor extends HostServer {
  /** Status of every unit it runs, by its config file's name. Cheap: no process is spawned. */
  stats(timeoutMs?: number): Promise<Map<string, UnitStatus>>;
}

export interface Deployer extends ProvidesResources {
  kind: 'deployer';
  name: string;
  accept(artifact: BuildArtifact): boolean;
  /** The server that runs this deployer's units, when it needs one. */
  supervisor?: UnitSupervisor;
  /**
   * Pure: the units a release needs, as resources of this deployer's providers, and where the
   * proxy should point.
   */
  plan(release: ReleaseRecord, ctx: { restartCount: number }): { units: Unit[]; resources: DesiredResource[]; info: DeploymentInfo | null };
  /**
   * Pure: how a one-off command (`hop3 run`) of a release runs: the environment its processes
   * get, as process `run` and without a port, and the directory they run in. Absent: its
   * releases run no commands (a static site).
   */
  oneOff?(release: ReleaseRecord): OneOff;
}

/** Where and with what environment a one-off command of a release runs. */
export interface OneOff {
  env: Record<string, string>;
  cwd: string;
}

export interface ProxySite {
  app: string;
  release: number;
  serverNames: string[];
  /** Where requests go; `paused`: the app's names stay its own and every request gets a 503. */
  target: DeploymentInfo | { protocol: 'paused' };
  /** URL prefixes (ending in `/`) the proxy serves from the release's directories itself. */
  staticPaths: Array<{ prefix: string; root: string }>;
  /** Seconds a file served from `staticPaths` may be cached. */
  staticMaxAge: number;
  /** The largest request body let through; a larger one gets 413. */
  maxBodyBytes: number;
  /** HTTPS for the names, with the app's stored certificate; null: HTTP only. */
  tls?: ProxySiteTls | null;
}

export interface ProxySiteTls {
  /** PEM files the proxy loads (both may name one file holding the key and the chain). */
  certFile: string;
  keyFile: string;
  /** HTTP answers with a permanent redirect to HTTPS, except ACME's HTTP-01 challenges. */
  httpsOnly: boolean;
  /** HTTPS answers carry Strict-Transport-Security. */
  hsts: boolean;
}

/**
 * The proxy's running server: a site is activated only after the real tool accepted it, and
 * what it loaded is observed, not assumed from the files.
 */
export interface ProxyServer extends HostServer, LoadedConfig {
  /** Write (or with null, remove) a site and make the running server load it. */
  apply(path: string, content: string | null): Promise<void>;
  /** Resolves once requests taken by earlier configurations have finished (or after a bound). */
  drained(timeoutMs?: number): Promise<void>;
}

export interface Proxy extends ProvidesResources {
  kind: 'proxy';
  name: string;
  server: ProxyServer;
  /** What `hop3-server setup` (as root) changes on the host for this proxy, outside HOP3_HOME, on purpose. */
  setupHost?(onLine: (line: string) => void): void;
  /** Pure rendering of one app's site. */
  render(site: ProxySite): string;
  /** Path of an app's site file. */
  sitePath(app: string): string;
  /**
   * The account whose processes read served files, when it is not hop3's own (hop3 as root):
   * an app's files are given to it, so links the app shipped and files it shipped share one owner.
   */
  fileReader(): AccountIds | null;
}

export interface OsPlugin {
  kind: 'os';
  name: string;
  displayName: string;
  packages: string[];
  detect(osRelease: string): boolean;
  setupServer(onLine: (line: string) => void): Promise<void>;
  /** Install the packages that are missing; returns those it installed. */
  ensurePackages(packages: string[], opts?: { update?: boolean; onLine?: (line: string) => void }): Promise<string[]>;
  /**
   * Create a system account without a password and without creating its home, unless the name
   * exists; returns whether it was created and the account's home (an existing one's may differ).
   */
  ensureUser(user: string, home: string, shell: string): Promise<{ created: boolean; home: string }>;
}

/** Any plugin may bring providers of resource kinds (a deployer its units, a proxy its sites). */
export interface ProvidesResources {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each provider has its own spec and live types
  providers?: Provider<any, any>[];
}

/** An entry a scheduler has armed, with its last and next runs (what `hop3 cron` lists). */
export interface ScheduledEntry {
  process: string;
  release: number;
  schedule: string;
  command: string;
  /** A run of it is under way. */
  running: boolean;
  lastRun: { startedAt: string; endedAt: string | null; outcome: CronOutcome | null; exitCode: number | null } | null;
  nextRun: string | null;
}

/** Runs a release's scheduled processes (Procfile `cron:`), from resources of its own providers. */
export interface Scheduler extends ProvidesResources {
  kind: 'scheduler';
  name: string;
  /** Pure: the entries a release that runs arms (its addons' variables already in its env). */
  plan(release: ReleaseRecord): DesiredResource[];
  /** In the daemon: run armed entries on their schedule; `record` keeps an event of the app. */
  start(record: (app: string, e: Hop3Event) => void): void;
  /** Stop running them; resolves once the runs under way have ended. */
  stop(): Promise<void>;
  /** What is armed for `app`, by looking at it. */
  entries(app: string, now: Date): ScheduledEntry[];
}

export type Plugin = (Builder | Deployer | Proxy | OsPlugin | Scheduler) & ProvidesResources;
export type PluginFactory<P extends Plugin = Plugin> = (ctx: PluginContext) => P;

/** What the proxy observes about the configuration its running server has loaded. */
export interface LoadedConfig {
  /**
   * Whether the running server serves `path` as `content` (null: absent), i.e. it loaded the file
   * as it is on disk; null when that cannot be told (the server is not running).
   */
  loaded(path: string, content: string | null): boolean | null;
}

/**
 * A long-running server hop3 keeps up for every app (the process supervisor, the proxy master):
 * a host resource, brought to the host pass by hostServerProvider (src/plugins/host-server-provider.ts).
 */
export interface HostServer {
  /**
   * The kind of its host resource, also the resource its outage is recorded under in the drift of
   * each app that needs it.
   */
  resource: string;
  /** The resource kind of the apps that need it (an outage touches those apps). */
  uses: string;
  /** Where it writes its pid, and what its command line contains (a reused pid is not it). */
  pidFile: string;
  pidMarker: string;
  /** False when running it is not hop3's business (the system nginx): it is no host resource then. */
  managed(): boolean;
  /** Its pid when it runs, null when it is gone. Cheap: a pid file and /proc. */
  pid(): number | null;
  /**
   * False when the running server has not loaded its own configuration as hop3 renders it now (a
   * reload is due). Cheap: no process is spawned. Absent: there is nothing to load.
   */
  current?(): boolean;
  /**
   * Found running (by a daemon that just started, or started by someone else): catch up on what it
   * serves, by reading only, before any pass relies on it. Cheap once caught up. Absent: nothing to catch up on.
   */
  adopt?(): Promise<void>;
  /** Start it unless it runs (and have it load its own configuration when that is not current). Idempotent. */
  ensureRunning(): Promise<unknown>;
  stop(): Promise<void>;
  /**
   * Call `onChange(app)` when what the server runs for an app changed on its own (seen by a
   * cheap poll): the reconciler looks at that app. Returns the unsubscribe. Absent: a server
   * whose changes show in files and processes hop3 already watches.
   */
  watch?(onChange: (app: string) => void): () => void;
}
