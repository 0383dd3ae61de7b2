import { join } from 'node:path';
import { accountIds, workerAccount } from '../../../lib/accounts.js';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import { certPaths } from '../../certs/cert-files.js';
import { certResources } from '../../certs/resource-provider.js';
import type { PluginContext, Proxy, ProxySite } from '../../types.js';
import { NginxControl } from './master.js';
import { siteProvider } from '../site-provider.js';
import { upstreamPorts } from '../upstream-ports.js';
import { hostServerProvider } from '../../host-server-provider.js';

/** nginx server blocks, one file per app. */
export default function nginxProxy(ctx: PluginContext): Proxy {
  const { config, layout } = ctx;
  const dir = config.nginxMode === 'system' ? config.systemNginxDir : layout.nginxSites;
  const prefix = config.nginxMode === 'system' ? 'hop3-' : '';
  const server = new NginxControl(ctx);
  const sitePath = (app: string) => join(dir, `${prefix}${app}.conf`);
  const render = (site: ProxySite) =>
    ctx.render.render('nginx/site.conf.njk', {
      app: site.app,
      release: site.release,
      listenPort: config.httpPort,
      serverNames: site.serverNames,
      staticRoot: site.target.protocol === 'file' ? site.target.root : null,
      upstreamPort: site.target.protocol === 'http' ? site.target.port : null,
      // A scaled web process: an upstream block balances over its instances.
      upstreamPorts: site.target.protocol === 'http' && upstreamPorts(site.target).length > 1 ? upstreamPorts(site.target) : null,
      paused: site.target.protocol === 'paused',
      challengeDir: layout.challenges,
      staticPaths: site.staticPaths,
      staticMaxAge: site.staticMaxAge,
      maxBodyBytes: site.maxBodyBytes,
      tls: site.tls ?? null,
      httpsPort: config.httpsPort,
      httpsSuffix: config.httpsPort === 443 ? '' : `:${config.httpsPort}`,
    });
  // What the conformance test round-trips: a paused site needs no backend.
  const sample = (app: string) => render({ app, release: 1, serverNames: [`${app}.${config.domain}`], target: { protocol: 'paused' }, staticPaths: [], staticMaxAge: 0, maxBodyBytes: 1024 });
  return {
    kind: 'proxy',
    name: 'nginx',
    server,
    providers: [
      siteProvider(server, sitePath, sample),
      // nginx reads certificates when it loads its configuration: a stored one takes effect with a
      // reload, needed only once the app's site points at it (a first one is loaded by the switch).
      certResources(ctx, async (name) => {
        if (readTextOrNull(sitePath(name))?.includes(certPaths(layout.certs, name).bundle)) await server.reloadFiles();
      }),
      hostServerProvider(server, 'nginx'),
    ],
    sitePath,
    fileReader: () => {
      const worker = workerAccount();
      return worker === null ? null : accountIds(worker.user);
    },
    render,
  };
}
