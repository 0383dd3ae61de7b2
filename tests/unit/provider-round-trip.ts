import { expect } from 'vitest';
import type { Layout } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { UNKNOWN, type Unknown } from '../../src/lib/unknown.js';
import type { Observed, Provider } from '../../src/plugins/provider.js';

/**
 * The round trip every provider honours: create → observe → diff is none; delete → observe is
 * absent; an unreadable target observes as UNKNOWN. Providers whose observation needs a running
 * server (the emperor, the proxy) get it in tests/integration/providers.test.ts.
 */
export async function roundTrip(p: Provider, layout: Layout, owner: string): Promise<void> {
  const fixture = p.conformance!;
  const r = fixture.sample(layout, owner);
  expect(r.kind).toBe(p.kind);
  const actx = { owner, log: createLogger('silent') };
  const look = async () => {
    const seen = await p.observe(owner, [r]);
    return seen.get(r.name);
  };
  expect(await look(), 'absent before the create').toBeNull();
  await p.apply('create', r.name, r.spec, null, actx);
  const live = await look();
  expect(live, 'observed after the create').not.toBeNull();
  expect(live).not.toBe(UNKNOWN);
  expect(p.diff(r.spec, live)).toBe('none');
  // The reconciler does not ask it about an owner with nothing of its kind desired: that holds
  // only if such a look would list nothing, the live resource included.
  if (p.observesDesiredOnly) expect([...(await p.observe(owner, [])).keys()], 'observesDesiredOnly: nothing listed with none desired').toEqual([]);
  // Idempotent: the same create again changes nothing more.
  await p.apply('create', r.name, r.spec, live ?? null, actx);
  expect(p.diff(r.spec, await look())).toBe('none');
  await p.apply('delete', r.name, null, live ?? null, actx);
  const gone = await p.observe(owner, []);
  expect(gone.get(r.name) ?? null, 'absent after the delete').toBeNull();
  fixture.breakTarget(r);
  try {
    const blind: Observed<unknown> | Unknown = await p.observe(owner, [r]).catch(() => UNKNOWN);
    expect(blind === UNKNOWN || blind.get(r.name) === UNKNOWN, 'an unreadable target is UNKNOWN, never absent').toBe(true);
  } finally {
    fixture.repairTarget(r);
  }
}

