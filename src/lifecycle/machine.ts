import { setup } from 'xstate';

/** The steps of a deploy, in order (DESIGN.md, "Lifecycle"). */
export const DEPLOY_STEPS = ['building', 'releasing', 'configuring', 'starting', 'verifying', 'switching', 'retiring'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

export type AppEvent =
  | { type: 'DEPLOY' }
  | { type: 'STEP'; step: DeployStep }
  | { type: 'DEPLOYED' }
  /** A deploy or the running release failed; `serving` says whether a live release still serves. */
  | { type: 'FAIL'; serving: boolean }
  | { type: 'STOP' }
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'RETRY' };

const stepTransitions = DEPLOY_STEPS.map((step) => ({
  guard: ({ event }: { event: AppEvent }) => event.type === 'STEP' && event.step === step,
  target: `.${step}`,
}));

/**
 * One app's lifecycle: stopped → deploying → running, running ⇄ paused, running → failed →
 * stopped, failed → deploying on retry. A failed deploy with a release still serving returns
 * to running: a failed build never takes down the running release.
 */
export const appMachine = setup({ types: { events: {} as AppEvent } }).createMachine({
  id: 'app',
  initial: 'stopped',
  states: {
    stopped: { on: { DEPLOY: 'deploying', RETRY: 'deploying' } },
    deploying: {
      initial: 'building',
      states: Object.fromEntries(DEPLOY_STEPS.map((s) => [s, {}])),
      on: {
        STEP: stepTransitions,
        DEPLOYED: 'running',
        FAIL: [{ guard: ({ event }) => event.serving, target: 'running' }, { target: 'failed' }],
        STOP: 'stopped',
        // After a daemon restart a deploy starts over from its first step: every step is idempotent.
        RESUME: '.building',
      },
    },
    running: { on: { DEPLOY: 'deploying', STOP: 'stopped', PAUSE: 'paused', FAIL: 'failed' } },
    paused: { on: { RESUME: 'running', STOP: 'stopped', DEPLOY: 'deploying' } },
    failed: { on: { STOP: 'stopped', RETRY: 'deploying', DEPLOY: 'deploying' } },
  },
});

/** `deploying.verifying` style name of a snapshot value. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  const [parent, child] = Object.entries(value as Record<string, unknown>)[0] ?? ['unknown', undefined];
  return child === undefined ? parent : `${parent}.${stateName(child)}`;
}
