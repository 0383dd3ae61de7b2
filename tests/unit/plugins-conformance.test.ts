import { createExec } from '../../src/lib/exec.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRenderer } from '../../src/lib/render.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ensureLayout, layoutOf } from '../../src/lib/layout.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { roundTrip } from './provider-round-trip.js';
import { acceptingBuilder } from '../../src/reconcile/execute.js';
import type { AppSpec } from '../../src/manifest/types.js';
import type { BuildArtifact } from '../../src/store/types.js';
import { createLogger } from '../../src/lib/logger.js';
import { loadPlugins, PLUGINS } from '../../src/plugins/registry.js';
import type { Plugin, PluginContext, ProxySite } from '../../src/plugins/types.js';

const ARTIFACT_KINDS: BuildArtifact['kind'][] = ['virtualenv', 'static', 'command', 'rack', 'php'];
const config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080' }, 0);
const ctx: PluginContext = { config, layout: layoutOf(config.home), log: createLogger('silent'), exec: createExec(), render: createRenderer() };

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;
const UBUNTU = `NAME="Ubuntu"
VERSION="24.04 LTS (Noble Numbat)"
ID=ubuntu
ID_LIKE=debian
`;
const FEDORA = `NAME="Fedora Linux"
VERSION="40 (Workstation Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Workstation Edition)"
HOME_URL="https://fedoraproject.org/"
SUPPORT_URL="https://ask.fedoraproject.org/"
`;

/** Checks one plugin against the contract of its kind; returns what was checked. */
function checkContract(p: Plugin): string {
  expect(typeof p.name).toBe('string');
  expect(p.name).toMatch(/^[a-z][a-z0-9-]*$/);
  switch (p.kind) {
    case 'builder':
      expect(ARTIFACT_KINDS).toContain(p.artifact);
      expect(typeof p.accept).toBe('function');
      expect(typeof p.build).toBe('function');
      // What hop3-server setup --runtimes hands to apt: package names only.
      expect(Array.isArray(p.packages)).toBe(true);
      for (const pkg of p.packages) expect(pkg).toMatch(/^[a-z0-9][a-z0-9.+-]*$/);
      return 'builder';
    case 'deployer':
      expect(typeof p.accept).toBe('function');
      expect(typeof p.plan).toBe('function');
      // Every deployer accepts at least one of the artifact kinds builders produce (each kind has one taker: below).
      expect(ARTIFACT_KINDS.filter((kind) => p.accept({ kind, dir: 'x', metadata: {} })).length).toBeGreaterThan(0);
      return 'deployer';
    case 'proxy': {
      expect(typeof p.render).toBe('function');
      expect(typeof p.sitePath).toBe('function');
      const path = p.sitePath('blog');
      expect(path.startsWith('/')).toBe(true);
      expect(path).toContain('blog');
      const site: ProxySite = { app: 'blog', release: 1, serverNames: ['blog.localhost'], target: { protocol: 'http', address: '127.0.0.1', port: 20000 }, staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 1048576 };
      const out = p.render(site);
      // Pure: the same site renders the same text (the planner compares it with the file).
      expect(p.render({ ...site, serverNames: [...site.serverNames] })).toBe(out);
      expect(out).toContain('blog.localhost');
      expect(out).toContain('20000');
      return 'proxy';
    }
    case 'os':
      expect(typeof p.displayName).toBe('string');
      expect(p.displayName.length).toBeGreaterThan(0);
      expect(Array.isArray(p.packages)).toBe(true);
      expect(p.packages.length).toBeGreaterThan(0);
      for (const pkg of p.packages) expect(pkg).toMatch(/^[a-z0-9][a-z0-9.+-]*$/);
      expect(typeof p.detect).toBe('function');
      expect(typeof p.ensurePackages).toBe('function');
      expect(typeof p.ensureUser).toBe('function');
      expect(typeof p.setupServer).toBe('function');
      expect(p.detect(DEBIAN)).toBe(true);
      expect(p.detect(UBUNTU)).toBe(true);
      expect(p.detect(FEDORA)).toBe(false);
      expect(p.detect('')).toBe(false);
      return 'os';
    case 'scheduler':
      expect(typeof p.plan).toBe('function');
      expect(typeof p.start).toBe('function');
      expect(typeof p.stop).toBe('function');
      expect(typeof p.entries).toBe('function');
      // Its entries are resources of a provider it brings (the planner pairs them by key).
      expect(p.providers?.length).toBeGreaterThan(0);
      return 'scheduler';
  }
}

describe('plugins', () => {
  it('every registered plugin honours the contract of its kind', () => {
    expect(PLUGINS.length).toBeGreaterThan(0);
    const plugins = PLUGINS.map((factory) => factory(ctx));
    const checked = plugins.map((p) => `${checkContract(p)}:${p.name}`);
    // Names are unique within a kind (`static` is both a builder and a deployer: loadPlugins
    // keeps kinds apart, so a name only has to identify a plugin among those of its kind).
    expect(new Set(checked).size).toBe(checked.length);
    // hop3 cannot work without at least one plugin of each kind.
    for (const kind of ['builder', 'deployer', 'proxy', 'os'] as const) expect(plugins.some((p) => p.kind === kind)).toBe(true);
  });

  it('a factory builds a fresh plugin each time, from its context alone', () => {
    for (const factory of PLUGINS) {
      const a = factory(ctx);
      const b = factory(ctx);
      expect(a).not.toBe(b);
      expect(a.kind).toBe(b.kind);
      expect(a.name).toBe(b.name);
    }
  });

  it('loadPlugins sorts the registry by kind, keeping the registry order', () => {
    const plugins = loadPlugins(ctx);
    const all = PLUGINS.map((f) => f(ctx));
    expect(plugins.builders.map((p) => p.name)).toEqual(all.filter((p) => p.kind === 'builder').map((p) => p.name));
    expect(plugins.deployers.map((p) => p.name)).toEqual(all.filter((p) => p.kind === 'deployer').map((p) => p.name));
    expect(plugins.oses.map((p) => p.name)).toEqual(all.filter((p) => p.kind === 'os').map((p) => p.name));
    expect(plugins.proxy.name).toBe(all.find((p) => p.kind === 'proxy')!.name);
  });

  it('loadPlugins refuses a registry without a proxy', () => {
    expect(() => loadPlugins(ctx, PLUGINS.filter((f) => f(ctx).kind !== 'proxy'))).toThrow(/proxy/);
  });

  it('loadPlugins takes the proxy HOP3_PROXY names, and names the ones it has when there is none of that name', () => {
    const other = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_PROXY: 'traefik' }, 0);
    expect(() => loadPlugins({ ...ctx, config: other })).toThrow(/HOP3_PROXY=traefik names no proxy hop3 has; it has nginx, caddy/);
    expect(loadPlugins(ctx).proxy.name).toBe('nginx');
    expect(loadPlugins(ctx).supervisor.resource).toBe('emperor');
  });
});

describe('the registry', () => {
  const FAMILIES = { builders: 'builder', deployers: 'deployer', proxies: 'proxy', os: 'os', schedulers: 'scheduler' } as const;

  it.each(Object.entries(FAMILIES))('the plugin folders under src/plugins/%s equal the registered %s plugins', (family, kind) => {
    const dir = join(PROJECT_ROOT, 'src', 'plugins', family);
    // A folder is a plugin once it has its index.ts (one in the making has none yet).
    const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'index.ts'))).map((e) => e.name);
    const registered = PLUGINS.map((f) => f(ctx)).filter((p) => p.kind === kind).map((p) => p.name);
    expect(folders.sort()).toEqual([...registered].sort());
  });

  it("each builder's artifact kind is accepted by exactly one deployer", () => {
    const plugins = loadPlugins(ctx);
    expect(plugins.builders.length).toBeGreaterThan(0);
    for (const b of plugins.builders) {
      const takers = plugins.deployers.filter((d) => d.accept({ kind: b.artifact, dir: 'x', metadata: {} })).map((d) => d.name);
      expect(takers, `${b.name} builds ${b.artifact}`).toHaveLength(1);
    }
  });

  it('every registered provider has one kind, a phase and a conformance fixture', () => {
    const { providers, hostProviders } = loadPlugins(ctx);
    expect(providers.map((p) => p.kind)).toEqual(expect.arrayContaining(['runfile', 'vassal', 'site', 'cron']));
    for (const p of [...providers, ...hostProviders]) {
      expect(['sync', 'switch']).toContain(p.phase);
      expect(p.conformance, `${p.kind} says how the conformance test round-trips it`).toBeDefined();
    }
  });
});

describe('every provider round-trips', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-conformance-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const cfg = loadConfig({ HOP3_HOME: home, HOP3_HTTP_PORT: '8080' }, 0);
  const layout = layoutOf(home);
  ensureLayout(layout);
  const { providers } = loadPlugins({ config: cfg, layout, log: createLogger('silent'), exec: createExec(), render: createRenderer() });

  it.each(providers.filter((p) => !p.conformance?.needsServer).map((p) => [p.kind, p] as const))('%s: create → observe → diff none; delete → absent; unreadable → UNKNOWN', async (_kind, p) => {
    await roundTrip(p, layout, `conform-${p.kind}`);
  });

  it('the providers that need a running server are round-tripped by the integration test', () => {
    const needing = providers.filter((p) => p.conformance?.needsServer).map((p) => p.kind);
    expect(needing).toEqual(expect.arrayContaining(['vassal', 'site']));
  });
});

describe('host resources come from plugins, through the same registry path', () => {
  const providersOf = (proxy: string) => loadPlugins({ ...ctx, config: loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_PROXY: proxy }, 0) });

  it.each([
    ['nginx', ['proxy:nginx', 'emperor:uwsgi']],
    ['caddy', ['proxy:caddy', 'emperor:uwsgi']],
  ])('HOP3_PROXY=%s: the proxy brings its server, the uwsgi deployer its emperor; the proxy\'s starts first', (proxy, keys) => {
    const { providers, hostProviders } = providersOf(proxy);
    expect(hostProviders.flatMap((p) => p.host!.desired().map((r) => `${r.kind}:${r.name}`))).toEqual(keys);
    // An app pass never looks at them, and a host pass at nothing else.
    expect(providers.filter((p) => p.host)).toEqual([]);
    for (const p of hostProviders) {
      expect(p.conformance?.needsServer, `${p.kind} is round-tripped against the real server`).toBe(true);
      expect(p.host!.neededBy.length).toBeGreaterThan(0);
      // What the outage touches is an app resource kind some provider has.
      for (const k of p.host!.neededBy) expect(providers.map((x) => x.kind)).toContain(k);
    }
  });

  it('the system nginx is not hop3\'s to run: no host resource stands for it', () => {
    const system = loadPlugins({ ...ctx, config: loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_NGINX: 'system' }, 0) });
    expect(system.hostProviders.flatMap((p) => p.host!.desired()).map((r) => r.kind)).toEqual(['emperor']);
  });
});

describe('the builder is chosen by observation, before the plan', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-builders-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const cfg = loadConfig({ HOP3_HOME: home }, 0);
  const layout = layoutOf(home);
  const plugins = loadPlugins({ config: cfg, layout, log: createLogger('silent'), exec: createExec(), render: createRenderer() });
  const base = { app: 'site', source: 'push', commit: null, env: {}, artifact: null, ports: {}, status: 'pending', message: '', createdAt: '' } as const;
  const spec: AppSpec = {
    name: null, metadata: {}, build: { builder: 'auto', before: [] }, run: { workers: 1, beforeRun: [], maxBodyBytes: 1024 },
    static: { paths: [], maxAge: 0 }, tls: { mode: 'auto', httpsOnly: false, hsts: false }, processes: [], env: {}, domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 }, addons: [],
  };

  const web = [{ name: 'web', kind: 'web', command: './serve' }] as const;
  it.each([
    { files: { 'index.html': '<h1>hi</h1>' }, builder: 'static', version: 1, processes: [] },
    { files: { 'requirements.txt': '', 'wsgi.py': 'application = None\n' }, builder: 'python', version: 2, processes: [] },
    { files: { 'package.json': '{}', 'index.html': '<div id=app>' }, builder: 'node', version: 3, processes: [] },
    { files: { 'go.mod': 'module x\n', 'package.json': '{}' }, builder: 'go', version: 4, processes: [] },
    { files: { serve: '#!/bin/sh\n' }, builder: 'generic', version: 5, processes: web },
  ])('a source tree with $files is accepted by $builder', ({ files, builder, version, processes }) => {
    const tree: AppSpec = { ...spec, processes: [...processes] };
    const src = join(layout.releaseDir('site', version), 'src');
    mkdirSync(src, { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(src, f), content);
    expect(acceptingBuilder({ app: 'site', layout, plugins }, { ...base, version, spec: tree })).toBe(builder);
    // Exactly one builder takes it: the registry's order does not decide, the detection table does.
    const bctx = { app: 'site', version, spec: tree, env: {}, releaseDir: layout.releaseDir('site', version), onLine: () => undefined };
    expect(plugins.builders.filter((b) => b.accept(bctx)).map((b) => b.name)).toEqual([builder]);
  });
});
