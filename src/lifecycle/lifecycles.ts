import { createActor, type Actor } from 'xstate';
import type { Store } from '../store/store.js';
import { appMachine, stateName, type AppEvent } from './machine.js';

type AppActor = Actor<typeof appMachine>;

/** One running machine per app, its snapshot saved on every transition and restored at start. */
export class Lifecycles {
  private readonly actors = new Map<string, AppActor>();
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
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
      this.store.saveLifecycle(app, actor!.getPersistedSnapshot());
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
    this.actors.get(app)?.stop();
    this.actors.delete(app);
  }
}
