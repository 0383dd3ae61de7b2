import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { privateFile } from '../lib/layout.js';
import { dirname } from 'node:path';
import { migrate } from './migrate.js';
import { STATE_DIR } from '../lib/paths.js';
import { asHop3Error } from '../lib/errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppSpec } from '../manifest/types.js';
import type { ScaleCounts } from '../manifest/instances.js';
import { specFromRecord } from '../manifest/stored.js';
import type { EventKind, Hop3Event } from './events.js';
import type {
  AddonRecord, AppRecord, AttachmentRecord, BuildArtifact, DriftRecord, EventRecord, Health, LoginTombstone, ReleaseRecord, ReleaseSource, ReleaseStatus, SyncStatus,
} from './types.js';

type Row = Record<string, unknown>;

const now = () => new Date().toISOString();
const json = (v: unknown) => JSON.stringify(v);

/**
 * An app's record with its desired release's status, in one row. A subquery, not a LEFT JOIN:
 * the join cost ~70 µs a row against ~8 µs (bench: 1,000 apps).
 */
const FOR_PASS = 'SELECT apps.*, (SELECT status FROM releases WHERE releases.app = apps.name AND releases.version = apps.desired_release) AS desired_release_status FROM apps';

function toApp(r: Row): AppRecord {
  const snapshot = r.lifecycle as string | null;
  let lifecycle: unknown;
  return {
    name: r.name as string,
    generation: r.generation as number,
    observedGeneration: r.observed_generation as number,
    desiredState: r.desired_state as AppRecord['desiredState'],
    desiredRelease: r.desired_release as number | null,
    currentRelease: r.current_release as number | null,
    restartCount: r.restart_count as number,
    healPolicy: r.heal_policy as AppRecord['healPolicy'],
    deployBranch: r.deploy_branch as string | null,
    owner: r.owner as string,
    // Parsed when read: only a lifecycle actor's start reads it, and every pass reads its app's record.
    get lifecycle() {
      if (lifecycle === undefined) lifecycle = snapshot ? JSON.parse(snapshot) : null;
      return lifecycle;
    },
    sync: r.sync as SyncStatus,
    health: r.health as Health,
    message: r.message as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

function toRelease(r: Row): ReleaseRecord {
  return {
    app: r.app as string,
    version: r.version as number,
    source: r.source as ReleaseSource,
    commit: r.commit_sha as string | null,
    spec: specFromRecord(JSON.parse(r.spec as string)),
    env: JSON.parse(r.env as string) as Record<string, string>,
    artifact: r.artifact ? (JSON.parse(r.artifact as string) as BuildArtifact) : null,
    ports: JSON.parse(r.ports as string) as Record<string, number>,
    scale: JSON.parse(r.scale as string) as ScaleCounts,
    ref: (r.ref as string | null) ?? null,
    status: r.status as ReleaseStatus,
    message: r.message as string,
    createdAt: r.created_at as string,
  };
}

/**
 * better-sqlite3 is synchronous: while a statement waits for another process's lock the whole
 * daemon waits. Keep that wait short; edits retry asynchronously (`writeRetrying`).
 */
export const BUSY_TIMEOUT_MS = 100;
/** How long an edit keeps retrying a locked database before it fails with DB_BUSY. */
export const BUSY_RETRY_MS = 800;

/** Drift history kept per app; older findings are pruned. */
const DRIFT_KEPT = 200;

/**
 * Desired-state records and history in SQLite (WAL). Every write that changes what an app
 * should be bumps its generation, so the reconciler can tell desired changes from drift.
 */
export class Store {
  readonly db: Database.Database;
  private readonly listeners = new Set<(app: string) => void>();

  constructor(path: string) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // SQLite gives the -wal and -shm files it creates the database file's mode, so an empty
      // database file made 0600 here keeps all three owner-only; older homes are fixed below.
      closeSync(openSync(path, 'a', 0o600));
    }
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    if (path !== ':memory:') for (const f of [path, `${path}-wal`, `${path}-shm`]) privateFile(f);
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(this.db, STATE_DIR);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Statements are prepared once and reused: preparing is most of the cost of a query, and
   * each prepared statement holds native memory until a full garbage collection.
   */
  private readonly statements = new Map<string, Database.Statement>();
  private passRows: Map<string, Row> | null = null;

  private sql(text: string, pluck = false): Database.Statement {
    const key = pluck ? `pluck:${text}` : text;
    let stmt = this.statements.get(key);
    if (!stmt) {
      stmt = this.db.prepare(text);
      if (pluck) stmt.pluck();
      // Not `reader`: a write with RETURNING is a reader too.
      if (!stmt.readonly) {
        // A write ends the read-ahead: its rows are the records as they were before it.
        const run = stmt.run.bind(stmt);
        stmt.run = ((...args: unknown[]) => {
          this.passRows = null;
          return run(...args);
        }) as typeof stmt.run;
      }
      this.statements.set(key, stmt);
    }
    return stmt;
  }

  /** Called with the app name after every desired-state change (the reconciler's record trigger). */
  onChange(fn: (app: string) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Apps changed inside the transaction running now: told once it commits. */
  private pendingChanges: Set<string> | null = null;

  private changed(app: string): void {
    if (this.pendingChanges) {
      this.pendingChanges.add(app);
      return;
    }
    for (const fn of this.listeners) fn(app);
  }

  /**
   * Run `fn` in one transaction: every write lands or none does. Listeners hear of the changes
   * only after the commit, so no pass reads a change that is then rolled back.
   */
  transaction<T>(fn: () => T): T {
    if (this.pendingChanges) return this.db.transaction(fn)();
    const changes = new Set<string>();
    this.pendingChanges = changes;
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } finally {
      this.pendingChanges = null;
    }
    for (const app of changes) this.changed(app);
    return result;
  }

  /**
   * `transaction(fn)`, retried while another process holds the database lock (each try waits
   * at most BUSY_TIMEOUT_MS, the daemon serves others between tries); then DB_BUSY. Safe
   * because a failed transaction changed nothing. Other failures (a full disk) throw at once,
   * as operational errors.
   */
  async writeRetrying<T>(fn: () => T, windowMs = BUSY_RETRY_MS): Promise<T> {
    const until = Date.now() + windowMs;
    for (;;) {
      try {
        return this.transaction(fn);
      } catch (err) {
        const e = asHop3Error(err);
        if (e.code !== 'DB_BUSY' || Date.now() >= until) throw e;
      }
      await sleep(50);
    }
  }

  // --- apps -------------------------------------------------------------------------------

  getApp(name: string): AppRecord | null {
    const r = this.sql('SELECT * FROM apps WHERE name = ?').get(name) as Row | undefined;
    return r ? toApp(r) : null;
  }

  /**
   * An app's record with its desired release's status, in one row: what a converged pass needs to
   * tell that its cached desired state still holds, without a second query per app.
   */
  getAppForPass(name: string): { app: AppRecord; desiredStatus: ReleaseStatus | null } | null {
    const r = this.passRows !== null ? this.passRows.get(name) : (this.sql(`${FOR_PASS} WHERE apps.name = ?`).get(name) as Row | undefined);
    return r ? { app: toApp(r), desiredStatus: (r.desired_release_status as ReleaseStatus | null) ?? null } : null;
  }

  /**
   * Read every app's getAppForPass row in one statement, for the passes of a resync: one
   * statement for all costs a fraction of a lookup each (most of a lookup is its read
   * transaction). Used until this store next writes (any write ends it: see `sql`), and until
   * `endReadAhead` (the resync's passes are done). Only the daemon writes hop3.db: a row another
   * program changed meanwhile is read by the first pass after that.
   */
  readAheadForPasses(): object {
    this.passRows = new Map((this.sql(FOR_PASS).all() as Row[]).map((r) => [r.name as string, r]));
    return this.passRows;
  }

  /** `ahead`: what readAheadForPasses returned (a later resync's read-ahead is its own to end). */
  endReadAhead(ahead: object): void {
    if (this.passRows === ahead) this.passRows = null;
  }

  listApps(): AppRecord[] {
    return (this.sql('SELECT * FROM apps ORDER BY name').all() as Row[]).map(toApp);
  }

  appNames(): string[] {
    return this.sql('SELECT name FROM apps ORDER BY name', true).all() as string[];
  }

  createApp(name: string, owner = 'admin'): AppRecord {
    const t = now();
    this.sql('INSERT INTO apps (name, owner, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO NOTHING')
      .run(name, owner, t, t);
    return this.getApp(name)!;
  }

  /** Change desired fields of an app; bumps the generation and triggers a reconcile. */
  updateDesired(
    name: string,
    patch: Partial<Pick<AppRecord, 'desiredState' | 'desiredRelease' | 'healPolicy'>> & { restart?: boolean },
  ): void {
    const sets: string[] = ['generation = generation + 1', 'updated_at = @t'];
    if (patch.desiredState !== undefined) sets.push('desired_state = @desiredState');
    if (patch.desiredRelease !== undefined) sets.push('desired_release = @desiredRelease');
    if (patch.healPolicy !== undefined) sets.push('heal_policy = @healPolicy');
    if (patch.restart) sets.push('restart_count = restart_count + 1');
    this.sql(`UPDATE apps SET ${sets.join(', ')} WHERE name = @name`).run({
      name,
      t: now(),
      desiredState: patch.desiredState ?? null,
      desiredRelease: patch.desiredRelease ?? null,
      healPolicy: patch.healPolicy ?? null,
    });
    this.changed(name);
  }

  /** Controller-side fields: what the last reconcile saw and did. Writes only on change. */
  setStatus(
    name: string,
    s: { sync: SyncStatus; health: Health; message: string; observedGeneration: number; currentRelease: number | null },
  ): void {
    this.sql(
        `UPDATE apps SET sync = @sync, health = @health, message = @message, observed_generation = @observedGeneration,
           current_release = @currentRelease, updated_at = @t
         WHERE name = @name AND (sync IS NOT @sync OR health IS NOT @health OR message IS NOT @message
           OR observed_generation IS NOT @observedGeneration OR current_release IS NOT @currentRelease)`,
      )
      .run({ name, t: now(), ...s });
  }

  /**
   * Ask for a new certificate for the app: recorded with a new generation (a desired change),
   * so the pass that follows renews a certificate stored before `at`.
   */
  requestCertRenewal(app: string, at: string): void {
    this.sql('INSERT INTO cert_renewals (app, requested_at) VALUES (?, ?) ON CONFLICT(app) DO UPDATE SET requested_at = excluded.requested_at')
      .run(app, at);
    this.updateDesired(app, {});
  }

  /** When a renewal of the app's certificate was last asked for; null if never. */
  certRenewalRequestedAt(app: string): string | null {
    return (this.sql('SELECT requested_at FROM cert_renewals WHERE app = ?', true).get(app) as string | undefined) ?? null;
  }

  /** Settings that do not change what runs (no new generation). */
  setDeployBranch(name: string, branch: string | null): void {
    this.sql('UPDATE apps SET deploy_branch = ?, updated_at = ? WHERE name = ?').run(branch, now(), name);
  }

  saveLifecycle(name: string, snapshot: unknown): void {
    this.sql('UPDATE apps SET lifecycle = ? WHERE name = ?').run(json(snapshot), name);
  }

  deleteApp(name: string): void {
    this.sql('DELETE FROM apps WHERE name = ?').run(name);
    this.changed(name);
  }

  // --- releases ---------------------------------------------------------------------------

  createRelease(r: {
    app: string; source: ReleaseSource; commit: string | null; spec: AppSpec; env: Record<string, string>;
    artifact?: BuildArtifact | null; ports: Record<string, number>; scale?: ScaleCounts; requestId?: string | null; ref?: string | null;
  }): ReleaseRecord {
    return this.db.transaction(() => {
      const next = ((this.sql('SELECT MAX(version) FROM releases WHERE app = ?', true).get(r.app) as number | null) ?? 0) + 1;
      this.sql(
          `INSERT INTO releases (app, version, source, commit_sha, spec, env, artifact, ports, scale, status, created_at, request_id, ref)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(r.app, next, r.source, r.commit, json(r.spec), json(r.env), r.artifact ? json(r.artifact) : null,
          json(r.ports), json(r.scale ?? {}), r.artifact ? 'built' : 'pending', now(), r.requestId ?? null, r.ref ?? null);
      return this.getRelease(r.app, next)!;
    })();
  }

  getRelease(app: string, version: number): ReleaseRecord | null {
    const r = this.sql('SELECT * FROM releases WHERE app = ? AND version = ?').get(app, version) as Row | undefined;
    return r ? toRelease(r) : null;
  }

  /** The release a call with this client-chosen id recorded, if any. */
  releaseByRequest(app: string, requestId: string): ReleaseRecord | null {
    const r = this.sql('SELECT * FROM releases WHERE app = ? AND request_id = ?').get(app, requestId) as Row | undefined;
    return r ? toRelease(r) : null;
  }

  /** A release's version and status alone (cheap: nothing parsed). */
  releaseStatus(app: string, version: number): { version: number; status: ReleaseStatus } | null {
    const r = this.sql('SELECT version, status FROM releases WHERE app = ? AND version = ?').get(app, version) as { version: number; status: ReleaseStatus } | undefined;
    return r ?? null;
  }

  listReleases(app: string): ReleaseRecord[] {
    return (this.sql('SELECT * FROM releases WHERE app = ? ORDER BY version DESC').all(app) as Row[]).map(toRelease);
  }

  /** Fail a release that has not gone live; false when it already had an outcome. */
  failRelease(app: string, version: number, message: string): boolean {
    return this.sql("UPDATE releases SET status = 'failed', message = ? WHERE app = ? AND version = ? AND status IN ('pending', 'built')")
      .run(message, app, version).changes > 0;
  }

  /**
   * A built release becomes the live one (the one live before retires) and the app's current
   * one, in one transaction so that no reader sees a live release the app does not call current;
   * false if it failed meanwhile.
   */
  markLive(app: string, version: number): boolean {
    return this.db.transaction(() => {
      if (this.sql("UPDATE releases SET status = 'live' WHERE app = ? AND version = ? AND status = 'built'").run(app, version).changes === 0) return false;
      this.sql("UPDATE releases SET status = 'retired' WHERE app = ? AND version <> ? AND status = 'live'").run(app, version);
      this.sql('UPDATE apps SET current_release = ?, updated_at = ? WHERE name = ?').run(version, now(), app);
      return true;
    })();
  }

  /** Releases on their way (not yet live or failed), oldest first. */
  pendingReleases(): ReleaseRecord[] {
    return (this.sql("SELECT * FROM releases WHERE status IN ('pending', 'built') ORDER BY app, version").all() as Row[]).map(toRelease);
  }

  /** A cancelled build that still finishes leaves its release failed. */
  setReleaseArtifact(app: string, version: number, artifact: BuildArtifact): void {
    this.sql("UPDATE releases SET artifact = ?, status = CASE status WHEN 'pending' THEN 'built' ELSE status END WHERE app = ? AND version = ?")
      .run(json(artifact), app, version);
  }

  /** Ports held by releases that may still run; a new release must not reuse them. */
  portsInUse(): Set<number> {
    const rows = this.sql("SELECT ports FROM releases WHERE status IN ('pending', 'built', 'live')", true).all() as string[];
    const used = new Set<number>();
    for (const r of rows) for (const p of Object.values(JSON.parse(r) as Record<string, number>)) used.add(p);
    return used;
  }

  // --- env --------------------------------------------------------------------------------

  getEnv(app: string): Record<string, string> {
    const rows = this.sql('SELECT key, value FROM env WHERE app = ? ORDER BY key').all(app) as { key: string; value: string }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  /** Replace the whole environment (a rollback restores the one of its release). */
  replaceEnv(app: string, values: Record<string, string>): void {
    this.db.transaction(() => {
      this.sql('DELETE FROM env WHERE app = ?').run(app);
      this.editEnv(app, values, []);
    })();
  }

  /** Set and unset keys in one transaction. */
  editEnv(app: string, set: Record<string, string>, unset: string[]): void {
    this.db.transaction(() => {
      const put = this.sql('INSERT INTO env (app, key, value) VALUES (?, ?, ?) ON CONFLICT(app, key) DO UPDATE SET value = excluded.value');
      for (const [k, v] of Object.entries(set)) put.run(app, k, v);
      const del = this.sql('DELETE FROM env WHERE app = ? AND key = ?');
      for (const k of unset) del.run(app, k);
    })();
  }

  // --- scale ----------------------------------------------------------------------------

  /** The app's desired instance counts by process type (a type without one runs one). */
  getScale(app: string): ScaleCounts {
    const rows = this.sql('SELECT process, count FROM scale WHERE app = ? ORDER BY process').all(app) as { process: string; count: number }[];
    return Object.fromEntries(rows.map((r) => [r.process, r.count]));
  }

  /** Set counts in one transaction (the release made from them is recorded in the same one). */
  setScale(app: string, counts: ScaleCounts): void {
    this.db.transaction(() => {
      const put = this.sql('INSERT INTO scale (app, process, count) VALUES (?, ?, ?) ON CONFLICT(app, process) DO UPDATE SET count = excluded.count');
      for (const [process, count] of Object.entries(counts)) put.run(app, process, count);
    })();
  }

  // --- events -----------------------------------------------------------------------------

  addEvent<K extends EventKind>(app: string | null, kind: K, data: Extract<Hop3Event, { kind: K }>['data']): number {
    return Number(this.sql('INSERT INTO events (app, at, kind, data) VALUES (?, ?, ?, ?)').run(app, now(), kind, json(data)).lastInsertRowid);
  }

  /**
   * With `after`, the next events after that id, oldest first (to follow progress); without it,
   * the newest `limit` events, oldest first.
   */
  listEvents(opts: { app?: string; after?: number; limit?: number }): EventRecord[] {
    const limit = Math.min(opts.limit ?? 100, 1000);
    const forward = opts.after !== undefined;
    const where = opts.app === undefined ? 'id > @after' : 'app = @app AND id > @after';
    const rows = this.sql(`SELECT * FROM events WHERE ${where} ORDER BY id ${forward ? 'ASC' : 'DESC'} LIMIT @limit`)
      .all({ app: opts.app, after: opts.after ?? 0, limit }) as Row[];
    if (!forward) rows.reverse();
    return rows.map((r) => ({
      id: r.id as number, app: r.app as string | null, at: r.at as string, kind: r.kind, data: JSON.parse(r.data as string),
    }) as EventRecord);
  }

  /**
   * Keep the newest `keep` events and none older than `maxAgeDays`, in one DELETE each. Each
   * limit is first checked on one row through the primary key, so a pass with nothing to prune
   * scans nothing and writes nothing.
   */
  pruneEvents(keep: number, maxAgeDays: number, at = Date.now()): number {
    let deleted = 0;
    const cutoff = new Date(at - maxAgeDays * 86_400_000).toISOString();
    const oldest = this.sql('SELECT at FROM events ORDER BY id LIMIT 1', true).get() as string | undefined;
    if (oldest !== undefined && oldest < cutoff) deleted += this.sql('DELETE FROM events WHERE at < ?').run(cutoff).changes;
    const last = this.sql('SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?', true).get(keep) as number | undefined;
    if (last !== undefined) deleted += this.sql('DELETE FROM events WHERE id <= ?').run(last).changes;
    return deleted;
  }

  // --- drift ------------------------------------------------------------------------------

  addDrift(d: Omit<DriftRecord, 'detectedAt'>): void {
    this.db.transaction(() => {
      this.sql('INSERT INTO drift (app, resource, kind, desired, observed, detected_at, action) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(d.app, d.resource, d.kind, d.desired, d.observed, now(), d.action);
      this.sql('DELETE FROM drift WHERE app = ? AND id <= (SELECT id FROM drift WHERE app = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
        .run(d.app, d.app, DRIFT_KEPT);
    })();
  }

  listDrift(app?: string, limit = 100): DriftRecord[] {
    const rows = (
      app === undefined
        ? this.sql('SELECT * FROM drift ORDER BY id DESC LIMIT ?').all(limit)
        : this.sql('SELECT * FROM drift WHERE app = ? ORDER BY id DESC LIMIT ?').all(app, limit)
    ) as Row[];
    return rows.map((r) => ({
      app: r.app as string, resource: r.resource as string, kind: r.kind as DriftRecord['kind'],
      desired: r.desired as string, observed: r.observed as string, detectedAt: r.detected_at as string,
      action: r.action as DriftRecord['action'],
    }));
  }

  deleteAppHistory(app: string): void {
    this.sql('DELETE FROM drift WHERE app = ?').run(app);
  }

  // --- addons -----------------------------------------------------------------------------

  createAddon(a: { name: string; type: string; credentials: string }): AddonRecord {
    const createdAt = now();
    this.sql('INSERT INTO addons (name, type, credentials, created_at) VALUES (?, ?, ?, ?)').run(a.name, a.type, a.credentials, createdAt);
    return { ...a, createdAt };
  }

  getAddon(name: string): AddonRecord | null {
    const r = this.sql('SELECT * FROM addons WHERE name = ?').get(name) as Row | undefined;
    return r ? toAddon(r) : null;
  }

  listAddons(): AddonRecord[] {
    return (this.sql('SELECT * FROM addons ORDER BY name').all() as Row[]).map(toAddon);
  }

  /** The types that have at least one addon: their servers are wanted running. */
  addonTypes(): ReadonlySet<string> {
    return new Set(this.sql('SELECT DISTINCT type FROM addons', true).all() as string[]);
  }

  setAddonCredentials(name: string, credentials: string): void {
    this.sql('UPDATE addons SET credentials = ? WHERE name = ?').run(credentials, name);
  }

  deleteAddon(name: string): void {
    this.sql('DELETE FROM addons WHERE name = ?').run(name);
  }

  /**
   * Recorded with the app's new release (in its transaction): the app's generation moves there.
   * A tombstone of the same login (detached, not dropped yet) goes: the login is desired again,
   * with the new password, and no pass may drop it for the old detach.
   */
  attach(addon: string, app: string, env: string, credentials: string): void {
    this.writeTombstones(() => {
      this.sql('DELETE FROM login_tombstones WHERE addon = ? AND app = ?').run(addon, app);
      this.sql('INSERT INTO attachments (addon, app, env, credentials, created_at) VALUES (?, ?, ?, ?, ?)').run(addon, app, env, credentials, now());
    });
    this.changed(app);
  }

  /**
   * The attachment goes, and its login (if it has one of its own) becomes a tombstone, in one
   * transaction: from then on the app's passes drop the login, however long that takes.
   * Returns the tombstone's id (null: no login of its own).
   */
  detach(addon: string, app: string): number | null {
    const id = this.writeTombstones(() => {
      const row = this.sql(`INSERT INTO login_tombstones (addon, app, credentials, created_at)
        SELECT addon, app, credentials, ? FROM attachments WHERE addon = ? AND app = ? AND credentials IS NOT NULL
        ON CONFLICT (addon, app) DO UPDATE SET credentials = excluded.credentials, created_at = excluded.created_at
        RETURNING id`).get(now(), addon, app) as { id: number } | undefined;
      this.sql('DELETE FROM attachments WHERE addon = ? AND app = ?').run(addon, app);
      return row?.id ?? null;
    });
    this.changed(app);
    return id;
  }

  /**
   * Every tombstone, read once and kept until one is written (the daemon is the only writer): each
   * login provider asks about every app in every pass, and there are almost never any.
   */
  private tombstones: LoginTombstone[] | null = null;

  /** Logins still to drop: of one app (destroyed or not), or all. */
  loginTombstones(q: { app?: string } = {}): LoginTombstone[] {
    const read = () => (this.sql('SELECT t.*, a.type FROM login_tombstones t JOIN addons a ON a.name = t.addon ORDER BY t.id').all() as Row[]).map((r) => ({
      id: r.id as number, addon: r.addon as string, type: r.type as string, app: r.app as string, credentials: r.credentials as string, createdAt: r.created_at as string,
    }));
    // Inside a transaction what is read may yet be rolled back: not kept.
    const all = this.pendingChanges ? read() : (this.tombstones ??= read());
    return q.app === undefined ? [...all] : all.filter((t) => t.app === q.app);
  }

  /** A pass saw the login gone: its tombstone goes (by id: a later detach of the same login keeps its own). */
  forgetLoginTombstone(id: number): void {
    this.writeTombstones(() => this.sql('DELETE FROM login_tombstones WHERE id = ?').run(id));
  }

  /** A write of tombstones: what was read of them is read again after it, committed or rolled back. */
  private writeTombstones<T>(fn: () => T): T {
    try {
      return this.transaction(fn);
    } finally {
      this.tombstones = null;
    }
  }

  /** The attachments of one app, or of one addon. */
  attachments(q: { app?: string; addon?: string }): AttachmentRecord[] {
    const rows = q.app !== undefined
      ? this.sql('SELECT * FROM attachments WHERE app = ? ORDER BY addon').all(q.app)
      : this.sql('SELECT * FROM attachments WHERE addon = ? ORDER BY app').all(q.addon ?? null);
    return (rows as Row[]).map((r) => ({ addon: r.addon as string, app: r.app as string, env: r.env as string, credentials: (r.credentials as string | null) ?? null, createdAt: r.created_at as string }));
  }
}

function toAddon(r: Row): AddonRecord {
  return { name: r.name as string, type: r.type as string, credentials: r.credentials as string, createdAt: r.created_at as string };
}
