import { createExec } from '../../src/lib/exec.js';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { certPaths, desiredCert, isPublicName, readRecord, type CertDesired, type CertLive } from '../../src/plugins/certs/index.js';
import { certResources } from '../../src/plugins/certs/resource-provider.js';
import { writeRecord } from '../../src/plugins/certs/cert-files.js';
import { issueSelfSigned } from '../../src/plugins/certs/self-signed.js';
import type { ApplyContext } from '../../src/plugins/provider.js';
import type { Hop3Event } from '../../src/store/events.js';
import { plan } from '../../src/reconcile/plan.js';
import { UNKNOWN, type DesiredApp, type ObservedApp } from '../../src/reconcile/types.js';
import { changedFiles, snapshotFiles } from '../support/file-snapshot.js';

const DAY = 86_400_000;

describe('cert resources: the generic provider over the stored certificates', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-cert-res-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const layout = layoutOf(home);
  let clock = new Date();
  let activations = 0;
  const make = (env: Record<string, string> = {}) => certResources(
    { config: loadConfig({ HOP3_HOME: home, ...env }, 0), layout, log: createLogger('silent'), exec: createExec(), now: () => clock },
    async () => { activations++; },
  );
  const p = make();
  const actx: ApplyContext = { owner: 'site', log: createLogger('silent') };
  const want: CertDesired = { name: 'site', names: ['site.localhost', 'www.site.localhost'], mode: 'self-signed' };
  const res = (spec: CertDesired) => [{ kind: 'cert', name: spec.name, spec }];
  const look = async (spec = want) => (await p.observe(spec.name, res(spec))).get(spec.name);

  it('a certificate stored but never loaded (killed before the proxy was told) is loaded, not issued again', async () => {
    await p.apply('create', 'site', want, null, actx);
    const paths = certPaths(layout.certs, 'site');
    const stored = readRecord(paths)!;
    expect(stored.activated).toBeUndefined();
    writeRecord(paths, { ...stored, activated: false }); // what a kill between store and activate leaves
    const live = await look() as CertLive;
    expect(p.diff(want, live)).toBe('update');
    expect(p.expected!(want, live)).toBe(true); // not drift: nothing was changed by hand
    const before = activations;
    await p.apply('update', 'site', want, live, actx);
    expect(activations).toBe(before + 1);
    const after = await look() as CertLive;
    expect(after.fingerprint).toBe(live.fingerprint);
    expect(after.record?.activated).toBeUndefined();
    expect(p.diff(want, after)).toBe('none');
    await p.apply('delete', 'site', null, null, actx);
  });

  it('names every owner with a certificate on disk, the challenge directory never (a destroy cut short is found)', async () => {
    mkdirSync(join(layout.certs, 'challenges'), { recursive: true });
    await p.apply('create', 'orphan', { name: 'orphan', names: ['orphan.localhost'], mode: 'self-signed' }, null, { ...actx, owner: 'orphan' });
    expect(p.owners!()).toContain('orphan');
    expect(p.owners!()).not.toContain('challenges');
    await p.apply('delete', 'orphan', null, null, { ...actx, owner: 'orphan' });
    expect(p.owners!()).not.toContain('orphan');
    activations = 0;
  });

  it('round-trips: absent → create → observe → diff none, and the proxy is told to load it', async () => {
    expect(await look()).toBeNull();
    await p.apply('create', 'site', want, null, actx);
    expect(activations).toBe(1);
    const live = await look() as CertLive;
    expect(live.names).toEqual(want.names);
    expect(p.diff(want, live)).toBe('none');
    expect(p.describe(live)).toMatch(/^site\.localhost for site\.localhost, www\.site\.localhost, until \d{4}-/);
  });

  it('the owner\'s certificate, no longer desired (TLS off), is listed so the planner prunes it; delete → absent', async () => {
    const seen = await p.observe('site', []);
    expect([...seen.keys()]).toEqual(['site']);
    await p.apply('delete', 'site', null, seen.get('site') as CertLive, actx);
    expect(await look()).toBeNull();
    expect((await p.observe('site', [])).size).toBe(0);
  });

  it('observe on an unreadable certificate is Unknown, not absent', async () => {
    mkdirSync(join(layout.certs, 'odd', 'cert.pem'), { recursive: true });
    writeFileSync(join(layout.certs, 'odd', 'key.pem'), 'k');
    expect(await look({ ...want, name: 'odd' })).toBe(UNKNOWN);
  });

  it('a first issuance that fails stores a self-signed stand-in without failing, which the diff keeps asking to replace', async () => {
    const acmeLess = make();
    const acme: CertDesired = { name: 'shop', names: ['shop.example.org'], mode: 'acme' };
    await acmeLess.apply('create', 'shop', acme, null, { ...actx, owner: 'shop', signal: new AbortController().signal });
    const live = (await acmeLess.observe('shop', res(acme))).get('shop') as CertLive;
    expect(live.names).toEqual(['shop.example.org']);
    expect(live.keyMatches).toBe(true);
    expect(live.record).toMatchObject({ mode: 'acme', standIn: true, lastError: { code: 'ACME_NOT_CONFIGURED' } });
    expect(acmeLess.diff(acme, live)).toBe('update');
    expect(acmeLess.describe(live)).toMatch(/^self-signed stand-in for shop\.example\.org/);

    // Outside a rollout the retry throws (the work queue backs off); the stand-in stays, still a stand-in.
    const before = readFileSync(join(layout.certs, 'shop', 'bundle.pem'), 'utf8');
    const err = await acmeLess.apply('update', 'shop', acme, live, { ...actx, owner: 'shop' }).catch((e: unknown) => e);
    expect((err as Hop3Error).code).toBe('ACME_NOT_CONFIGURED');
    expect((err as Hop3Error).category).not.toBe('internal');
    expect(readFileSync(join(layout.certs, 'shop', 'bundle.pem'), 'utf8')).toBe(before);
    const after = (await acmeLess.observe('shop', res(acme))).get('shop') as CertLive;
    expect(after.record).toMatchObject({ standIn: true, lastError: { code: 'ACME_NOT_CONFIGURED' } });
    expect(acmeLess.diff(acme, after)).toBe('update');

    // Inside a rollout it is only recorded: the release goes live with the stand-in.
    await expect(acmeLess.apply('update', 'shop', acme, after, { ...actx, owner: 'shop', signal: new AbortController().signal })).resolves.toBeUndefined();
  });

  it('the planner: a missing certificate is created and one near expiry updated, both in sync (before the switch)', async () => {
    await p.apply('create', 'site', want, null, actx);
    const live = await look() as CertLive;
    const d: DesiredApp = {
      app: 'site', state: 'running', healPolicy: 'heal', settled: false, target: null,
      health: null, resources: res(want),
    };
    const o = (v: CertLive | null): ObservedApp => ({ resources: new Map([['cert', new Map([['site', v]])]]) });
    expect(plan(d, o(null), [p]).actions).toEqual([expect.objectContaining({ type: 'resource', op: 'create', kind: 'cert', name: 'site' })]);
    expect(plan(d, o(live), [p]).actions).toEqual([]);
    clock = new Date(live.notAfter.getTime() - 29 * DAY);
    expect(plan(d, o(live), [p]).actions).toEqual([expect.objectContaining({ type: 'resource', op: 'update', kind: 'cert' })]);
    clock = new Date();
    expect(p.phase).toBe('sync');
  });
});

describe('cert resources: what an apply records as events', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-cert-ev-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const layout = layoutOf(home);
  let clock = new Date();
  const exec = createExec();
  const make = (env: Record<string, string> = {}) => certResources(
    { config: loadConfig({ HOP3_HOME: home, ...env }, 0), layout, log: createLogger('silent'), exec, now: () => clock },
    async () => undefined,
  );
  const events: Hop3Event[] = [];
  const actx: ApplyContext = { owner: 'ev', log: createLogger('silent'), event: (e) => events.push(e) };
  const want: CertDesired = { name: 'ev', names: ['ev.localhost'], mode: 'self-signed' };
  const look = async (p: ReturnType<typeof make>, spec = want) => (await p.observe(spec.name, [{ kind: 'cert', name: spec.name, spec }])).get(spec.name) as CertLive;

  it('a renewal is recorded as cert.renewed with the names, the new notAfter and why; a first issuance or a repair of drift is not', async () => {
    const p = make();
    await p.apply('create', 'ev', want, null, actx);
    expect(events).toEqual([]);
    const live = await look(p);
    clock = new Date(live.notAfter.getTime() - 10 * DAY);
    try {
      expect(p.expected!(want, live)).toBe(true);
      await p.apply('update', 'ev', want, live, actx);
    } finally {
      clock = new Date();
    }
    const renewed = await look(p);
    expect(renewed.fingerprint).not.toBe(live.fingerprint);
    expect(events).toEqual([{ kind: 'cert.renewed', data: { names: ['ev.localhost'], notAfter: renewed.notAfter.toISOString(), reasons: ['expiry: 10 days left, renewed under 30'] } }]);
    // A certificate replaced by hand is drift: repaired, but no renewal event.
    events.length = 0;
    writeFileSync(join(layout.certs, 'ev', 'cert.pem'), readFileSync(join(layout.certs, 'ev', 'cert.pem'), 'utf8').replace(/\n$/, '\n\n'));
    const tampered = await look(p);
    expect(p.expected!(want, tampered)).toBe(false);
    await p.apply('update', 'ev', want, tampered, actx);
    expect(events).toEqual([]);
  });

  it('the renewal timer\'s look at a certificate that is fine (observe, plan) spawns nothing, writes nothing, plans nothing', async () => {
    const p = make();
    const live = await look(p);
    expect(p.diff(want, live)).toBe('none');
    const d: DesiredApp = { app: 'ev', state: 'running', healPolicy: 'heal', settled: true, target: null, health: null, resources: [{ kind: 'cert', name: 'ev', spec: want }] };
    const [spawns, files] = [exec.spawns, snapshotFiles(home)];
    for (let i = 0; i < 3; i++) {
      const seen = await p.observe('ev', d.resources as { kind: string; name: string; spec: CertDesired }[]);
      expect(plan(d, { resources: new Map([['cert', seen]]) }, [p])).toEqual({ actions: [], findings: [], rollout: false });
    }
    expect([exec.spawns - spawns, changedFiles(files, snapshotFiles(home))]).toEqual([0, []]);
  });

  it('a failed issuance is recorded as cert.failed once while it fails the same way (a retry adds none)', async () => {
    const p = make();
    const acme: CertDesired = { name: 'ac', names: ['ac.example.org'], mode: 'acme' };
    events.length = 0;
    await p.apply('create', 'ac', acme, null, { ...actx, signal: new AbortController().signal });
    expect(events).toEqual([{ kind: 'cert.failed', data: expect.objectContaining({ names: ['ac.example.org'], code: 'ACME_NOT_CONFIGURED', standIn: true }) }]);
    const failure = events[0]!.data as { message: string; hint: string };
    expect(failure.message).toBe('[tls] mode = "acme" needs HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL set for hop3-server: HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL are not set');
    expect(failure.hint).toMatch(/set both/);
    const standIn = await look(p, acme);
    await expect(p.apply('update', 'ac', acme, standIn, actx)).rejects.toThrow(/needs HOP3_ACME_DIRECTORY/);
    await expect(p.apply('update', 'ac', acme, standIn, actx)).rejects.toThrow(/needs HOP3_ACME_DIRECTORY/);
    expect(events.length).toBe(1);
    // Only one setting missing: the message names that one.
    const half = make({ HOP3_ACME_DIRECTORY: 'https://127.0.0.1:1/dir' });
    await expect(half.apply('update', 'ac', acme, standIn, actx)).rejects.toThrow(/: HOP3_ACME_EMAIL is not set$/);
    expect(events.map((e) => e.kind)).toEqual(['cert.failed', 'cert.failed']);
  });
});

describe('auto mode: which names a public CA can prove', () => {
  it.each([
    ['blog.example.org', true], ['a.b.example.com', true], ['blog.localhost', false], ['localhost', false], ['app.test', false],
    ['printer.local', false], ['db.internal', false], ['10.0.0.1', false], ['::1', false], ['intranet', false],
  ])('%s → %s', (name, expected) => expect(isPublicName(name)).toBe(expected));
});

describe('the desired certificate leaves wildcard names out', () => {
  it('covers the exact names only (HTTP-01 cannot prove a wildcard), and auto still picks ACME for them', () => {
    const acme = { acme: { directory: 'https://ca.example.org/dir', email: 'ops@example.org', caFile: null } };
    const auto = { mode: 'auto' as const, httpsOnly: false, hsts: false };
    expect(desiredCert('shop', ['shop.example.org', '*.shop.example.org'], auto, acme)).toEqual({ name: 'shop', names: ['shop.example.org'], mode: 'acme', renewRequestedAt: null });
  });
});

describe('a store cut short by a kill is not taken for tampering', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-cert-cut-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const layout = layoutOf(home);
  const exec = createExec();
  const p = certResources({ config: loadConfig({ HOP3_HOME: home }, 0), layout, log: createLogger('silent'), exec }, async () => undefined);
  const want: CertDesired = { name: 'cut', names: ['cut.localhost'], mode: 'self-signed' };
  const actx: ApplyContext = { owner: 'cut', log: createLogger('silent') };

  it('a new key beside the old certificate, with the record saying a store was under way, is a renewal to redo, not drift', async () => {
    await p.apply('create', 'cut', want, null, actx);
    const paths = certPaths(layout.certs, 'cut');
    const record = readRecord(paths)!;
    // What storeCert leaves when killed after the new key.pem: the record names what it was storing.
    const next = await issueSelfSigned(exec, paths.dir, want.names);
    writeRecord(paths, { ...record, storing: 'sha256-of-the-new-one' });
    writeFileSync(paths.key, next.key);
    const live = (await p.observe('cut', [{ kind: 'cert', name: 'cut', spec: want }])).get('cut') as CertLive;
    expect(live.keyMatches).toBe(false);
    expect(p.diff(want, live)).toBe('update');
    expect(p.expected!(want, live)).toBe(true);
    // The same files without the record's word are drift.
    writeRecord(paths, record);
    const tampered = (await p.observe('cut', [{ kind: 'cert', name: 'cut', spec: want }])).get('cut') as CertLive;
    expect(p.expected!(want, tampered)).toBe(false);
    // Storing again leaves a consistent certificate and no word of a store under way.
    await p.apply('update', 'cut', want, tampered, actx);
    const after = (await p.observe('cut', [{ kind: 'cert', name: 'cut', spec: want }])).get('cut') as CertLive;
    expect(p.diff(want, after)).toBe('none');
    expect(after.record?.storing).toBeUndefined();
  });
});
