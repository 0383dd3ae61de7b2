import { join } from 'node:path';
import { instancesOf } from '../../../manifest/instances.js';
import type { ProcessSpec } from '../../../manifest/types.js';
import type { ReleaseRecord } from '../../../store/types.js';
import type { Deployer, DeploymentInfo, PluginContext, Unit } from '../../types.js';
import { unitName } from '../unit-name.js';
import { EmperorControl } from './emperor.js';
import { RUN_FILE_KIND } from '../../files/run-file-provider.js';
import { vassalProvider, VASSAL_KIND } from './vassal-provider.js';
import type { DesiredResource } from '../../provider.js';
import { hostServerProvider } from '../../host-server-provider.js';
import { processEnv } from '../../process-env.js';
import { serverPluginVassal } from './server-plugin-vassal.js';

/** The processes uWSGI runs for a release: wsgi apps natively, web and worker commands as daemons. */
const RUNS = new Set<ProcessSpec['kind']>(['wsgi', 'web', 'worker']);

/**
 * Runs Procfile processes as vassals of the uWSGI emperor: one vassal per process instance
 * (`hop3 scale`), per release, so a new release starts beside the old one and the proxy switches
 * only when it is healthy.
 */
export default function uwsgiDeployer(ctx: PluginContext): Deployer {
  const { layout, config } = ctx;
  const supervisor = new EmperorControl(ctx);
  return {
    kind: 'deployer',
    name: 'uwsgi',
    supervisor,
    providers: [vassalProvider(layout, supervisor), hostServerProvider(supervisor, 'uwsgi')],
    accept: (artifact) => ['virtualenv', 'command', 'rack', 'php'].includes(artifact.kind),
    plan(release: ReleaseRecord, { restartCount }) {
      const runDir = join(layout.releaseDir(release.app, release.version), 'run');
      const units: Unit[] = [];
      const httpPorts: number[] = [];
      for (const proc of instancesOf(release.spec, release.scale).filter((p) => RUNS.has(p.kind))) {
        const name = unitName(release.app, release.version, proc.name);
        const port = release.ports[proc.name];
        const { env, cwd, venv } = processEnv(layout, release, proc.process, port, proc.index);
        const runFile = join(runDir, `${proc.name}.json`);
        const plugged = serverPluginVassal(release.artifact!, proc, { layout, cwd });
        const runContent = `${JSON.stringify(proc.kind === 'wsgi' ? { env, cwd, entry: proc.command } : plugged ? { env, cwd } : { env, cwd, command: proc.command }, null, 2)}\n`;
        const vars = {
          app: release.app, release: release.version, process: proc.name, port, venv, cwd, runFile, restartCount,
          libDir: layout.lib, python: config.pythonBin, workers: release.spec.run.workers,
          pidfile: join(layout.run, `${name}.pid`), logfile: join(layout.appLog(release.app), `${proc.name}.log`),
          logMaxBytes: config.logMaxBytes, dataDir: join(layout.app(release.app), 'data'),
          ...plugged?.vars,
        };
        const ini = ctx.render.render(plugged?.template ?? (proc.kind === 'wsgi' ? 'uwsgi/wsgi.ini.njk' : 'uwsgi/command.ini.njk'), vars);
        units.push({
          name,
          process: proc.process,
          instance: proc.name,
          log: vars.logfile,
          config: { resource: `vassal:${name}`, path: join(layout.uwsgiAvailable, `${name}.ini`), content: ini },
          files: [{ resource: `runfile:${name}`, path: runFile, content: runContent }],
        });
        if ((proc.kind === 'wsgi' || proc.kind === 'web') && port !== undefined) httpPorts.push(port);
      }
      const [first, ...more] = httpPorts;
      const info: DeploymentInfo | null = first === undefined ? null : { protocol: 'http', address: '127.0.0.1', port: first, ...(more.length > 0 ? { morePorts: more } : {}) };
      // The files a vassal reads come before the vassal (the run-file provider's phase comes first).
      const resources: DesiredResource[] = units.flatMap((u) => [
        ...u.files.map((f) => ({ kind: RUN_FILE_KIND, name: `${u.name}${u.files.length > 1 ? `:${f.path}` : ''}`, spec: { path: f.path, content: f.content } })),
        { kind: VASSAL_KIND, name: u.name, spec: { path: u.config.path, content: u.config.content } },
      ]);
      return { units, resources, info };
    },
    oneOff(release) {
      const { cwd, env } = processEnv(layout, release, 'run');
      return { cwd, env };
    },
  };
}
