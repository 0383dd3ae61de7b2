import { join } from 'node:path';
import { accountIds, workerAccount } from '../../../lib/accounts.js';
import { renderTemplate } from '../../../lib/render.js';
import { certResources } from '../../certs/resource-provider.js';
import type { PluginContext, ProvidesResources, Proxy, ProxySite } from '../../types.js';
import { NginxControl } from './master.js';

/** nginx server blocks, one file per app. */
export default function nginxProxy(ctx: PluginContext): Proxy & ProvidesResources {
  const { config, layout } = ctx;
  const dir = config.nginxMode === 'system' ? config.systemNginxDir : layout.nginxSites;
  const prefix = config.nginxMode === 'system' ? 'hop3-' : '';
  const server = new NginxControl(ctx);
  return {
    kind: 'proxy',
    name: 'nginx',
    server,
    // nginx reads certificates when it loads its configuration: a stored one takes effect with a reload.
    providers: [certResources(ctx, () => server.reloadFiles())],
    sitePath: (app) => join(dir, `${prefix}${app}.conf`),
    fileReader: () => {
      const worker = workerAccount();
      return worker === null ? null : accountIds(worker.user);
    },
    render: (site: ProxySite) =>
      renderTemplate('nginx/site.conf.njk', {
        app: site.app,
        release: site.release,
        listenPort: config.httpPort,
        serverNames: site.serverNames,
        staticRoot: site.target.protocol === 'file' ? site.target.root : null,
        upstreamPort: site.target.protocol === 'http' ? site.target.port : null,
        paused: site.target.protocol === 'paused',
        challengeDir: layout.challenges,
        staticPaths: site.staticPaths,
        staticMaxAge: site.staticMaxAge,
        maxBodyBytes: site.maxBodyBytes,
        tls: site.tls ?? null,
        httpsPort: config.httpsPort,
        httpsSuffix: config.httpsPort === 443 ? '' : `:${config.httpsPort}`,
      }),
  };
}
