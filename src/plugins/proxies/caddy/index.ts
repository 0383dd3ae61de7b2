import { join } from 'node:path';
import type { PluginContext, Proxy, ProxySite } from '../../types.js';
import { canonicalJson, renderSiteRoute } from './config.js';
import { CaddyControl, caddyPaths } from './control.js';
import { CaddyServer } from './server.js';

/** hop3's own Caddy: one JSON route per app, assembled into the one config Caddy loads. */
export default function caddyProxy(ctx: PluginContext): Proxy {
  const { config, layout, log } = ctx;
  const control = new CaddyControl({ layout, log: log.child({ component: 'caddy' }), httpPort: config.httpPort, bin: config.caddyBin });
  const server = new CaddyServer(control, log.child({ component: 'caddy' }), join(caddyPaths(layout).dir, 'sites'));
  return {
    kind: 'proxy',
    name: 'caddy',
    server,
    sitePath: (app) => server.sitePath(app),
    // Caddy runs as hop3's own account: the files it serves need no other owner.
    fileReader: () => null,
    render: (site: ProxySite) => `${canonicalJson(renderSiteRoute(site))}\n`,
  };
}
