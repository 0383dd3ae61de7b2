import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { Lifecycles } from '../../src/lifecycle/lifecycles.js';
import { appMachine, DEPLOY_STEPS, stateName, type AppEvent } from '../../src/lifecycle/machine.js';
import { Store } from '../../src/store/store.js';

/** Run a fresh machine through `events`; the state name after each one. */
function walk(events: AppEvent[]): string[] {
  const actor = createActor(appMachine).start();
  const names = events.map((e) => {
    actor.send(e);
    return stateName(actor.getSnapshot().value);
  });
  actor.stop();
  return names;
}

const DEPLOY: AppEvent = { type: 'DEPLOY' };
const DEPLOYED: AppEvent = { type: 'DEPLOYED' };
const STOP: AppEvent = { type: 'STOP' };
const PAUSE: AppEvent = { type: 'PAUSE' };
const RESUME: AppEvent = { type: 'RESUME' };
const RETRY: AppEvent = { type: 'RETRY' };
const FAIL = (serving: boolean): AppEvent => ({ type: 'FAIL', serving });

describe('appMachine', () => {
  it('starts stopped', () => {
    const actor = createActor(appMachine).start();
    expect(stateName(actor.getSnapshot().value)).toBe('stopped');
  });

  it.each([
    { name: 'stopped → deploying → running', events: [DEPLOY, DEPLOYED], states: ['deploying.building', 'running'] },
    { name: 'running → stopped', events: [DEPLOY, DEPLOYED, STOP], states: ['deploying.building', 'running', 'stopped'] },
    { name: 'running → paused → running', events: [DEPLOY, DEPLOYED, PAUSE, RESUME], states: ['deploying.building', 'running', 'paused', 'running'] },
    { name: 'paused → stopped', events: [DEPLOY, DEPLOYED, PAUSE, STOP], states: ['deploying.building', 'running', 'paused', 'stopped'] },
    { name: 'running → failed → stopped', events: [DEPLOY, DEPLOYED, FAIL(false), STOP], states: ['deploying.building', 'running', 'failed', 'stopped'] },
    { name: 'running → failed even when "serving" (the running release itself failed)', events: [DEPLOY, DEPLOYED, FAIL(true)], states: ['deploying.building', 'running', 'failed'] },
    { name: 'failed → deploying on RETRY', events: [DEPLOY, FAIL(false), RETRY], states: ['deploying.building', 'failed', 'deploying.building'] },
    { name: 'failed → deploying on DEPLOY', events: [DEPLOY, FAIL(false), DEPLOY], states: ['deploying.building', 'failed', 'deploying.building'] },
    { name: 'running → deploying on a new deploy', events: [DEPLOY, DEPLOYED, DEPLOY], states: ['deploying.building', 'running', 'deploying.building'] },
    { name: 'a failed deploy with a release still serving returns to running', events: [DEPLOY, { type: 'STEP', step: 'verifying' }, FAIL(true)], states: ['deploying.building', 'deploying.verifying', 'running'] },
    { name: 'a failed deploy with nothing serving goes to failed', events: [DEPLOY, { type: 'STEP', step: 'releasing' }, FAIL(false)], states: ['deploying.building', 'deploying.releasing', 'failed'] },
    { name: 'STOP during a deploy', events: [DEPLOY, { type: 'STEP', step: 'starting' }, STOP], states: ['deploying.building', 'deploying.starting', 'stopped'] },
    { name: 'RESUME in deploying.verifying starts over at building', events: [DEPLOY, { type: 'STEP', step: 'verifying' }, RESUME], states: ['deploying.building', 'deploying.verifying', 'deploying.building'] },
  ] satisfies { name: string; events: AppEvent[]; states: string[] }[])('$name', ({ events, states }) => {
    expect(walk(events)).toEqual(states);
  });

  it.each([
    { name: 'PAUSE in stopped', events: [PAUSE], states: ['stopped'] },
    { name: 'RESUME in stopped', events: [RESUME], states: ['stopped'] },
    { name: 'DEPLOYED in stopped', events: [DEPLOYED], states: ['stopped'] },
    { name: 'FAIL in stopped', events: [FAIL(false)], states: ['stopped'] },
    { name: 'STEP in stopped', events: [{ type: 'STEP', step: 'switching' }], states: ['stopped'] },
    { name: 'PAUSE in deploying', events: [DEPLOY, PAUSE], states: ['deploying.building', 'deploying.building'] },
    { name: 'RETRY in running', events: [DEPLOY, DEPLOYED, RETRY], states: ['deploying.building', 'running', 'running'] },
    { name: 'STEP in running', events: [DEPLOY, DEPLOYED, { type: 'STEP', step: 'verifying' }], states: ['deploying.building', 'running', 'running'] },
    { name: 'PAUSE in paused', events: [DEPLOY, DEPLOYED, PAUSE, PAUSE], states: ['deploying.building', 'running', 'paused', 'paused'] },
    { name: 'FAIL in paused', events: [DEPLOY, DEPLOYED, PAUSE, FAIL(false)], states: ['deploying.building', 'running', 'paused', 'paused'] },
    { name: 'PAUSE in failed', events: [DEPLOY, FAIL(false), PAUSE], states: ['deploying.building', 'failed', 'failed'] },
    { name: 'RESUME in failed', events: [DEPLOY, FAIL(false), RESUME], states: ['deploying.building', 'failed', 'failed'] },
  ] satisfies { name: string; events: AppEvent[]; states: string[] }[])('ignores an illegal event: $name', ({ events, states }) => {
    expect(walk(events)).toEqual(states);
  });

  it('STEP events move through the deploying substates in order', () => {
    const names = walk([DEPLOY, ...DEPLOY_STEPS.map((step): AppEvent => ({ type: 'STEP', step })), DEPLOYED]);
    expect(names).toEqual(['deploying.building', ...DEPLOY_STEPS.map((s) => `deploying.${s}`), 'running']);
  });

  it('the deploy steps are the ones of the design, in order', () => {
    expect(DEPLOY_STEPS).toEqual(['building', 'releasing', 'configuring', 'starting', 'verifying', 'switching', 'retiring']);
  });

  it('a persisted snapshot restored into a new actor resumes in the same state', () => {
    for (const events of [
      [DEPLOY, DEPLOYED, PAUSE],
      [DEPLOY, { type: 'STEP', step: 'switching' }],
      [DEPLOY, FAIL(false)],
      [DEPLOY, DEPLOYED],
    ] satisfies AppEvent[][]) {
      const a = createActor(appMachine).start();
      for (const e of events) a.send(e);
      const want = stateName(a.getSnapshot().value);
      // Through JSON, as the store keeps it.
      const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot())) as never;
      a.stop();
      const b = createActor(appMachine, { snapshot: persisted }).start();
      expect(stateName(b.getSnapshot().value)).toBe(want);
      expect(want).not.toBe('stopped');
      b.stop();
    }
  });

  it('a restored actor keeps obeying the machine', () => {
    const a = createActor(appMachine).start();
    a.send(DEPLOY);
    a.send(DEPLOYED);
    a.send(PAUSE);
    const b = createActor(appMachine, { snapshot: a.getPersistedSnapshot() }).start();
    b.send(RESUME);
    expect(stateName(b.getSnapshot().value)).toBe('running');
    b.send(RETRY); // illegal in running
    expect(stateName(b.getSnapshot().value)).toBe('running');
  });
});

describe('stateName', () => {
  it.each([
    { value: 'stopped', name: 'stopped' },
    { value: { deploying: 'verifying' }, name: 'deploying.verifying' },
    { value: { a: { b: 'c' } }, name: 'a.b.c' },
    { value: {}, name: 'unknown' },
  ])('$name', ({ value, name }) => {
    expect(stateName(value)).toBe(name);
  });
});

describe('Lifecycles (persisted in the store)', () => {
  const stores: Store[] = [];
  const store = () => {
    const s = new Store(':memory:');
    stores.push(s);
    s.createApp('a');
    return s;
  };
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
  });

  it('an app starts stopped with no snapshot saved', () => {
    const s = store();
    expect(s.getApp('a')!.lifecycle).toBeNull();
    expect(new Lifecycles(s).state('a')).toBe('stopped');
    expect(s.getApp('a')!.lifecycle).toBeNull();
  });

  it('saves the snapshot on every transition', () => {
    const s = store();
    const l = new Lifecycles(s);
    l.send('a', DEPLOY);
    expect(l.state('a')).toBe('deploying.building');
    expect(s.getApp('a')!.lifecycle).not.toBeNull();
    expect(stateName((s.getApp('a')!.lifecycle as { value: unknown }).value)).toBe('deploying.building');
    l.send('a', DEPLOYED);
    expect(stateName((s.getApp('a')!.lifecycle as { value: unknown }).value)).toBe('running');
  });

  it('does not save on an ignored event', () => {
    const s = store();
    const l = new Lifecycles(s);
    l.send('a', PAUSE);
    expect(l.state('a')).toBe('stopped');
    expect(s.getApp('a')!.lifecycle).toBeNull();
  });

  it.each([
    { events: [DEPLOY, DEPLOYED], state: 'running' },
    { events: [DEPLOY, DEPLOYED, PAUSE], state: 'paused' },
    { events: [DEPLOY, FAIL(false)], state: 'failed' },
    { events: [DEPLOY, DEPLOYED, STOP], state: 'stopped' },
  ] satisfies { events: AppEvent[]; state: string }[])('a new Lifecycles over the same store resumes in $state', ({ events, state }) => {
    const s = store();
    const first = new Lifecycles(s);
    for (const e of events) first.send('a', e);
    expect(first.state('a')).toBe(state);
    first.forget('a');
    expect(new Lifecycles(s).state('a')).toBe(state);
  });

  it.each(DEPLOY_STEPS.map((step) => ({ step })))('a saved deploying.$step resumes at deploying.building', ({ step }) => {
    const s = store();
    const first = new Lifecycles(s);
    first.send('a', DEPLOY);
    first.send('a', { type: 'STEP', step });
    expect(first.state('a')).toBe(`deploying.${step}`);
    expect(stateName((s.getApp('a')!.lifecycle as { value: unknown }).value)).toBe(`deploying.${step}`);
    first.forget('a');

    const second = new Lifecycles(s);
    expect(second.state('a')).toBe('deploying.building');
    // The resumed step is saved too, and the deploy can go on from there.
    expect(stateName((s.getApp('a')!.lifecycle as { value: unknown }).value)).toBe('deploying.building');
    second.send('a', { type: 'STEP', step: 'releasing' });
    second.send('a', DEPLOYED);
    expect(second.state('a')).toBe('running');
  });

  it('keeps one machine per app', () => {
    const s = store();
    s.createApp('b');
    const l = new Lifecycles(s);
    l.send('a', DEPLOY);
    expect(l.state('a')).toBe('deploying.building');
    expect(l.state('b')).toBe('stopped');
    expect(s.getApp('b')!.lifecycle).toBeNull();
  });
});
