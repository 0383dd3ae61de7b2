import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN } from '../../src/commands/authorize.js';
import { listCerts, renewCert } from '../../src/commands/certs.js';
import { appStatus } from '../../src/commands/queries.js';
import { codeOf, commandContext, liveApp as liveAppOf } from './command-fixtures.js';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { certProvider } from '../../src/plugins/certs/index.js';
import { Store } from '../../src/store/store.js';

const spec = (tls = '') => assertValidSpec(parseAppSpec({ 'hop3.toml': `[build]\nbuilder = "static"\n[run]\nstatic = "public"\n${tls}` }));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** The certs commands over a real store and real certificate files; passes are only counted. */
function context(env: Record<string, string> = {}) {
  const made = commandContext(cleanups, env);
  const { config, layout, log, exec } = made.ctx;
  // What the pass does once a certificate is desired: the provider stores it under certs/<app>/.
  return { ...made, provider: certProvider({ config, layout, log, exec }) };
}

/** An app whose v1 (with `tls`, a [tls] section or nothing) is live. */
const liveApp = (store: Store, name: string, tls = '', domains: string[] = []) => liveAppOf(store, name, { ...spec(tls), domains });

const snapshot = (store: Store) => JSON.stringify({
  apps: store.db.prepare('SELECT * FROM apps').all(),
  renewals: store.db.prepare('SELECT * FROM cert_renewals').all(),
  events: store.db.prepare('SELECT COUNT(*) AS n FROM events').get(),
});

describe('hop3 certs (certs.list)', () => {
  it('lists every app with [tls] not off, desired beside stored', async () => {
    const { ctx, store, provider } = context();
    liveApp(store, 'blog', '', ['www.blog.test']);
    liveApp(store, 'plain', '[tls]\nmode = "off"\n');
    liveApp(store, 'fresh', '[tls]\nmode = "self-signed"\n');
    store.createApp('empty'); // no release: nothing asks for a certificate yet
    await provider.apply('create', { name: 'blog', names: ['blog.localhost', 'www.blog.test'], mode: 'self-signed' });

    const rows = listCerts(ctx, ADMIN, {});
    expect(rows.map((r) => [r.app, r.status])).toEqual([['blog', 'valid'], ['fresh', 'pending']]);
    const blog = rows[0]!;
    expect(blog).toMatchObject({ names: ['blog.localhost', 'www.blog.test'], mode: 'self-signed', issuer: 'blog.localhost', lastError: null, reasons: [] });
    const days = (Date.parse(blog.notAfter!) - Date.parse(blog.notBefore!)) / 86_400_000;
    expect(Math.round(days)).toBe(90);
    expect(listCerts(ctx, ADMIN, { app: 'fresh' }).map((r) => r.app)).toEqual(['fresh']);
    expect(listCerts(ctx, ADMIN, { app: 'plain' })).toEqual([]);
    expect(await codeOf(() => listCerts(ctx, ADMIN, { app: 'nope' }))).toBe('APP_NOT_FOUND');
  });

  it('shows a failed first issuance as error with its code and message', async () => {
    // mode "acme" with no ACME settings: the provider records ACME_NOT_CONFIGURED next to the (absent) certificate.
    const { ctx, store, provider } = context();
    liveApp(store, 'shop', '[tls]\nmode = "acme"\n');
    await expect(provider.apply('create', { name: 'shop', names: ['shop.localhost'], mode: 'acme' })).rejects.toThrow(/^\[tls\] mode = "acme" needs HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL set for hop3-server: HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL are not set$/);
    const [row] = listCerts(ctx, ADMIN, { app: 'shop' });
    expect(row).toMatchObject({ status: 'error', mode: 'acme', lastError: { code: 'ACME_NOT_CONFIGURED', message: expect.stringMatching(/HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL are not set$/) } });
  });
});

describe('an app may not take the name of the ACME challenge directory', () => {
  it('"challenges" is refused as an app name, so no certificate can live in certs/challenges/', async () => {
    const { ctx } = context();
    expect(await codeOf(async () => listCerts(ctx, ADMIN, { app: 'challenges' }))).toBe('APP_NAME_INVALID');
    expect(await codeOf(() => renewCert(ctx, ADMIN, { app: 'challenges' }))).toBe('APP_NAME_INVALID');
  });
});

describe('hop3 certs renew (certs.renew)', () => {
  it('refuses an unknown app, an app with [tls] off and one with no release, and changes nothing', async () => {
    const { ctx, store, triggers } = context();
    liveApp(store, 'plain', '[tls]\nmode = "off"\n');
    store.createApp('empty');
    const before = snapshot(store);
    expect(await codeOf(() => renewCert(ctx, ADMIN, { app: 'nope' }))).toBe('APP_NOT_FOUND');
    expect(await codeOf(() => renewCert(ctx, ADMIN, { app: 'plain' }))).toBe('TLS_OFF');
    await expect(renewCert(ctx, ADMIN, { app: 'plain' })).rejects.toThrow('plain has no certificate to renew: its [tls] mode is "off"');
    await expect(renewCert(ctx, ADMIN, { app: 'empty' })).rejects.toThrow('empty has no certificate to renew: it has no release yet');
    expect(await codeOf(() => renewCert(ctx, ADMIN, { app: 'Bad_Name' }))).toBe('APP_NAME_INVALID');
    expect(snapshot(store)).toBe(before);
    expect(triggers).toEqual([]);
  });

  it('records the request once, with one new generation, until a certificate issued since is stored', async () => {
    const { ctx, store, triggers, provider } = context();
    const app = liveApp(store, 'blog');
    await provider.apply('create', { name: 'blog', names: ['blog.localhost'], mode: 'self-signed' });
    expect(listCerts(ctx, ADMIN, { app: 'blog' })[0]!.status).toBe('valid');

    const first = await renewCert(ctx, ADMIN, { app: 'blog' });
    expect(first).toMatchObject({ app: 'blog', recorded: true, generation: app.generation + 1 });
    expect(store.getApp('blog')!.generation).toBe(app.generation + 1);
    expect(store.certRenewalRequestedAt('blog')).toBe(first.requestedAt);
    expect(triggers).toEqual(['blog']);
    const row = listCerts(ctx, ADMIN, { app: 'blog' })[0]!;
    expect(row).toMatchObject({ status: 'renewing', renewRequestedAt: first.requestedAt, reasons: [`renewal requested at ${first.requestedAt}`] });

    // Asked again while it waits: the same request, no new generation, no new event.
    const events = store.listEvents({ app: 'blog', limit: 1000 }).length;
    const again = await renewCert(ctx, ADMIN, { app: 'blog' });
    expect(again).toEqual({ app: 'blog', requestedAt: first.requestedAt, generation: app.generation + 1, recorded: false });
    expect(store.getApp('blog')!.generation).toBe(app.generation + 1);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM cert_renewals').get()).toEqual({ n: 1 });
    expect(store.listEvents({ app: 'blog', limit: 1000 }).length).toBe(events);
    expect(store.listEvents({ app: 'blog', limit: 1000 }).filter((e) => e.kind === 'cert.renewal-requested').map((e) => e.data))
      .toEqual([{ requestedAt: first.requestedAt }]);

    // The pass stores a new certificate: the request is met, and a new one can be made.
    await provider.apply('update', { name: 'blog', names: ['blog.localhost'], mode: 'self-signed', renewRequestedAt: first.requestedAt });
    const renewed = listCerts(ctx, ADMIN, { app: 'blog' })[0]!;
    expect(renewed.status).toBe('valid');
    expect(Date.parse(renewed.issuedAt!)).toBeGreaterThanOrEqual(Date.parse(first.requestedAt));
    await new Promise((r) => setTimeout(r, 5));
    const next = await renewCert(ctx, ADMIN, { app: 'blog' });
    expect(next.recorded).toBe(true);
    expect(next.requestedAt > first.requestedAt).toBe(true);
    expect(store.getApp('blog')!.generation).toBe(app.generation + 2);
  });

  it('is recorded for a certificate not issued yet, and forgotten with the app', async () => {
    const { ctx, store } = context();
    liveApp(store, 'blog');
    const r = await renewCert(ctx, ADMIN, { app: 'blog' });
    expect(r.recorded).toBe(true);
    expect(listCerts(ctx, ADMIN, { app: 'blog' })[0]).toMatchObject({ status: 'pending', renewRequestedAt: r.requestedAt });
    store.deleteApp('blog');
    expect(store.certRenewalRequestedAt('blog')).toBeNull();
  });
});

describe('hop3 status urls', () => {
  it('lists https after http unless [tls] is off, with the port when it is not the standard one', () => {
    const { ctx, store } = context({ HOP3_HTTP_PORT: '8080', HOP3_HTTPS_PORT: '8443' });
    liveApp(store, 'blog', '', ['www.blog.test']);
    liveApp(store, 'plain', '[tls]\nmode = "off"\n');
    expect(appStatus(ctx, ADMIN, 'blog').urls).toEqual([
      'http://blog.localhost:8080/', 'http://www.blog.test:8080/', 'https://blog.localhost:8443/', 'https://www.blog.test:8443/',
    ]);
    expect(appStatus(ctx, ADMIN, 'plain').urls).toEqual(['http://plain.localhost:8080/']);
    const standard = context({ HOP3_HTTP_PORT: '80', HOP3_HTTPS_PORT: '443' });
    liveApp(standard.store, 'blog');
    expect(appStatus(standard.ctx, ADMIN, 'blog').urls).toEqual(['http://blog.localhost/', 'https://blog.localhost/']);
  });
});
