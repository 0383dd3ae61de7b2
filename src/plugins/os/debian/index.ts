import { run, ExecError } from '../../../lib/exec.js';
import type { OsPlugin, PluginContext } from '../../types.js';

/** Debian and Ubuntu: apt for packages, useradd for the service user. */
export default function debianOs(_ctx: PluginContext): OsPlugin {
  const packages = ['uwsgi-core', 'uwsgi-plugin-python3', 'nginx', 'git', 'python3', 'python3-venv', 'ca-certificates'];
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  const plugin: OsPlugin = {
    kind: 'os',
    name: 'debian',
    displayName: 'Debian / Ubuntu',
    packages,
    detect: (osRelease) => /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease),
    async ensurePackages(wanted, opts = {}) {
      const missing: string[] = [];
      for (const pkg of wanted) {
        const { stdout } = await run(['dpkg-query', '-W', '-f', '${Status}', pkg]).catch(() => ({ stdout: '' }));
        if (!stdout.includes('install ok installed')) missing.push(pkg);
      }
      if (missing.length === 0) return;
      if (opts.update ?? true) await run(['apt-get', 'update'], { env: aptEnv, onLine: opts.onLine, timeoutMs: 600_000 });
      await run(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { env: aptEnv, onLine: opts.onLine, timeoutMs: 1_800_000 });
    },
    async ensureUser(user, home, shell, group) {
      try {
        await run(['id', '-u', user]);
      } catch (err) {
        if (!(err instanceof ExecError)) throw err;
        await run(['useradd', '--system', '--create-home', '--home-dir', home, '--shell', shell, '--user-group', user]);
        if (group !== user) await run(['usermod', '-a', '-G', group, user]);
      }
    },
    async setupServer(onLine) {
      await plugin.ensurePackages(packages, { onLine });
    },
  };
  return plugin;
}
