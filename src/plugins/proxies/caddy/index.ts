import { join } from 'node:path';
import type { PluginContext, Proxy, ProxySite } from '../../types.js';
import { canonicalJson, renderSiteRoute } from './config.js';
import { CaddyControl, caddyPaths } from './control.js';
import { CaddyServer } from './server.js';
import { siteProvider } from '../site-provider.js';
import { enableRequestMigration, SYSCTL_CONF } from './listener-handover.js';
import { certResources } from '../../certs/resource-provider.js';
import { hostServerProvider } from '../../host-server-provider.js';

/** hop3's own Caddy: one JSON route per app, assembled into the one config Caddy loads, with hop3's certificates. */
export default function caddyProxy(ctx: PluginContext): Proxy {
  const { config, layout, log } = ctx;
  const control = new CaddyControl({ layout, log: log.child({ component: 'caddy' }), httpPort: config.httpPort, httpsPort: config.httpsPort, bin: config.caddyBin, exec: ctx.exec });
  const server = new CaddyServer(control, log.child({ component: 'caddy' }), join(caddyPaths(layout).dir, 'sites'));
  const sitePath = (app: string) => server.sitePath(app);
  const render = (site: ProxySite) => `${canonicalJson(renderSiteRoute(site, config.httpsPort))}\n`;
  // What the conformance test round-trips: a paused site needs no backend.
  const sample = (app: string) => render({ app, release: 1, serverNames: [`${app}.${config.domain}`], target: { protocol: 'paused' }, staticPaths: [], staticMaxAge: 0, maxBodyBytes: 1024 });
  return {
    kind: 'proxy',
    name: 'caddy',
    server,
    setupHost(onLine) {
      const state = enableRequestMigration();
      onLine(state === 'unavailable'
        ? 'this kernel has no net.ipv4.tcp_migrate_req (Linux < 5.14): a Caddy config load may reset a few waiting connections'
        : `net.ipv4.tcp_migrate_req = 1 (${state === 'set' ? 'set now' : 'already on'}; kept in ${SYSCTL_CONF}): a Caddy config load resets no waiting connection`);
    },
    providers: [
      siteProvider(server, sitePath, sample),
      // hop3 issues, Caddy only loads: a stored certificate is served once a load names its new
      // digest, needed only once the app's site has HTTPS (a first one is loaded by the switch).
      certResources(ctx, async (name) => {
        if (server.servesCertificate(name)) await server.reloadCertificates(name);
      }),
      hostServerProvider(server, 'caddy'),
    ],
    sitePath,
    // Caddy runs as hop3's own account: the files it serves need no other owner.
    fileReader: () => null,
    render,
  };
}
