import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freePorts } from '../../src/lib/free-ports.js';
import { createLogger } from '../../src/lib/logger.js';
import { createHop3, type Hop3 } from '../../src/server/hop3.js';
import { roundTrip } from '../unit/provider-round-trip.js';

/**
 * The conformance round trip of the providers whose observation needs a running server: the
 * vassal provider against the real uWSGI emperor, the site provider against the real nginx
 * master (what it *loaded*, not only the file). Both servers run in a throwaway HOP3_HOME.
 */
describe('providers that need a running server round-trip against it', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-providers-'));
  let h: Hop3;

  beforeAll(async () => {
    const [httpPort, listenPort] = await freePorts(2);
    const config = loadConfig({ HOP3_HOME: home, HOP3_HTTP_PORT: String(httpPort), HOP3_LISTEN: `127.0.0.1:${listenPort}`, HOP3_LOG_LEVEL: 'silent' });
    h = createHop3(config, createLogger('silent'));
    for (const s of h.plugins.hostServers) await s.ensureRunning();
  }, 60_000);

  afterAll(async () => {
    if (h) {
      await h.reconciler.close();
      await h.plugins.supervisor.stop();
      await h.plugins.proxy.server.stop();
      h.store.close();
    }
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('every provider that needs a server is here', () => {
    expect(h.plugins.providers.filter((p) => p.conformance?.needsServer).map((p) => p.kind).sort()).toEqual(['site', 'vassal']);
  });

  it('vassal: create → observe → diff none (the emperor runs it); delete → absent; unreadable → UNKNOWN', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'vassal')!;
    await roundTrip(p, h.layout, 'conform');
  }, 30_000);

  it('the vassal created is the process the emperor reports', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'vassal')!;
    const r = p.conformance!.sample(h.layout, 'running');
    const actx = { owner: 'running', log: h.log };
    await p.apply('create', r.name, r.spec, null, actx);
    try {
      let live: any = null;
      for (let i = 0; i < 100 && !(live?.process?.pid > 0); i++) {
        await new Promise((res) => setTimeout(res, 100));
        live = (await p.observe('running', [r])).get(r.name);
      }
      expect(live.process.pid).toBeGreaterThan(0);
      expect(p.health!(live)).toBe('Healthy');
      await p.apply('delete', r.name, null, live, actx);
    } finally {
      await p.apply('delete', r.name, null, null, actx);
    }
  }, 30_000);

  it('site: create → observe → diff none (nginx loaded it); delete → absent; unreadable → UNKNOWN', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'site')!;
    await roundTrip(p, h.layout, 'conform');
  }, 30_000);

  it('site: a file written behind the server\'s back is observed as not loaded, and the diff asks for an update', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'site')!;
    const r = p.conformance!.sample(h.layout, 'behind');
    const { writeFileSync } = await import('node:fs');
    writeFileSync((r.spec as { path: string }).path, (r.spec as { content: string }).content);
    try {
      const live = (await p.observe('behind', [r])).get(r.name);
      expect(live).toMatchObject({ loaded: false });
      expect(p.diff(r.spec, live)).toBe('update');
    } finally {
      await p.apply('delete', r.name, null, { path: (r.spec as { path: string }).path, content: null, loaded: false }, { owner: 'behind', log: h.log });
    }
  }, 30_000);
});
