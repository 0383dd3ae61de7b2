import { createActor, type Actor } from 'xstate';
import type { Store } from '../store/store.js';
import { appMachine, stateName, type AppEvent } from './machine.js';

type AppActor = Actor<typeof appMachine>;

/** How soon a snapshot the store could not take (a locked or full disk) is written again. */
const RETRY_SAVE_MS = 500;

/** One running machine per app, its snapshot saved on every transition and restored at start. */
export class Lifecycles {
  private readonly actors = new Map<string, AppActor>();
  private readonly store: Store;
  /** Snapshots not saved yet; the newest per app wins. */
  private readonly unsaved = new Map<string, unknown>();
  private retry: NodeJS.Timeout | null = null;
  private readonly onSaveError: (app: string, err: unknown) => void;

  constructor(store: Store, onSaveError: (app: string, err: unknown) => void = () => undefined) {
    this.store = store;
    this.onSaveError = onSaveError;
  }

  /**
   * Save a snapshot, or keep it for a retry: a transition happens inside xstate, where an error
   * thrown by a subscriber would escape as an uncaught exception and end the daemon.
   */
  private save(app: string, snapshot: unknown): void {
    this.unsaved.set(app, snapshot);
    this.flush();
  }

  /** Write the snapshots still unsaved; what fails again is retried shortly. */
  flush(): void {
    for (const [app, snapshot] of [...this.unsaved]) {
      try {
        this.store.saveLifecycle(app, snapshot);
        if (this.unsaved.get(app) === snapshot) this.unsaved.delete(app);
      } catch (err) {
        this.onSaveError(app, err);
      }
    }
    if (this.unsaved.size > 0 && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.flush();
      }, RETRY_SAVE_MS);
      this.retry.unref();
    }
  }

  /** A last try at saving (the daemon stops), then no more retries. */
  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    for (const [app, snapshot] of [...this.unsaved]) {
      try {
        this.store.saveLifecycle(app, snapshot);
      } catch (err) {
        this.onSaveError(app, err);
      }
    }
    this.unsaved.clear();
  }

  private actor(app: string): AppActor {
    let actor = this.actors.get(app);
    if (actor) return actor;
    const saved = this.store.getApp(app)?.lifecycle;
    actor = createActor(appMachine, saved ? { snapshot: saved as never } : {});
    let last = stateName(actor.getSnapshot().value);
    actor.subscribe((snap) => {
      const name = stateName(snap.value);
      if (name === last) return;
      last = name;
      this.save(app, actor!.getPersistedSnapshot());
    });
    actor.start();
    // A deploy cut short by a restart starts over from a safe step.
    if (stateName(actor.getSnapshot().value).startsWith('deploying.')) actor.send({ type: 'RESUME' });
    this.actors.set(app, actor);
    return actor;
  }

  send(app: string, event: AppEvent): void {
    this.actor(app).send(event);
  }

  state(app: string): string {
    return stateName(this.actor(app).getSnapshot().value);
  }

  forget(app: string): void {
    this.unsaved.delete(app);
    this.actors.get(app)?.stop();
    this.actors.delete(app);
  }
}
