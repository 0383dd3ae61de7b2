import { Command } from 'commander';
import { createRenderer } from '../lib/render.js';
import { createExec } from '../lib/exec.js';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { loadConfig } from '../config.js';
import { asHop3Error } from '../lib/errors.js';
import { ensureLayout, layoutOf } from '../lib/layout.js';
import { createLogger } from '../lib/logger.js';
import { runtimePackages } from '../plugins/builders/runtimes.js';
import { loadPlugins } from '../plugins/registry.js';
import { serve } from '../server/daemon.js';
import { ensureAdminToken } from '../server/token.js';
import { addKey, authorizedKeysPath, listKeys, removeKey } from '../git/authorized-keys.js';
import { setupSshAccount, sshForm, sudoersCurrent } from '../git/ssh-account.js';

const program = new Command('hop3-server').description('hop3 daemon and administration').showHelpAfterError();

function context() {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  const layout = layoutOf(config.home);
  return { config, log, layout };
}

program.command('serve').description('run the daemon: API, reconcile loop, uWSGI emperor and the proxy (HOP3_PROXY)').action(async () => {
  const { config, log } = context();
  await serve(config, log);
});

program.command('setup')
  .description('prepare this machine (idempotent): system packages, the HOP3_HOME layout, and as root the SSH account and sudo rule for git push')
  .option('--skip-packages', "do not check or install hop3's own system packages (they are installed already)")
  .option('--runtimes <list>', 'also install the toolchains of these runtimes (comma-separated builder names, e.g. node,go,rust)')
  .action(async (o: { skipPackages?: boolean; runtimes?: string }) => {
    const { config, log, layout } = context();
    const exec = createExec();
    const plugins = loadPlugins({ config, layout, log, render: createRenderer(), exec });
    // Checked before anything is installed: a typo changes nothing.
    const runtimes = o.runtimes === undefined ? null : runtimePackages(plugins.builders, o.runtimes);
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    const os = plugins.oses.find((p) => p.detect(osRelease));
    if (!os) throw new Error('this operating system is not supported (Debian or Ubuntu needed)');
    const onLine = (line: string) => console.error(`       ${line}`);
    if (o.skipPackages) {
      console.error('-----> Packages: not checked (--skip-packages)');
    } else {
      console.error(`-----> ${os.displayName}: checking packages`);
      await os.setupServer(onLine);
    }
    if (runtimes !== null) {
      console.error(`-----> Runtimes ${runtimes.runtimes.join(', ')}: checking packages`);
      if (runtimes.packages.length === 0) {
        onLine('they need no package beyond hop3\'s own');
      } else {
        const added = await os.ensurePackages(runtimes.packages, { onLine });
        if (added.length === 0) onLine(`packages already installed: ${runtimes.packages.join(' ')}`);
      }
    }
    ensureLayout(layout);
    ensureAdminToken(layout);
    console.error(`-----> ${config.home} is ready`);
    if (process.getuid?.() === 0 && plugins.proxy.setupHost) {
      console.error(`-----> ${plugins.proxy.name}: host settings`);
      plugins.proxy.setupHost(onLine);
    }
    if (process.getuid?.() === 0) {
      console.error(`-----> git push over SSH as ${config.sshUser}`);
      await setupSshAccount({ exec, config, layout, os, onLine });
    } else {
      const me = userInfo();
      console.error(`-----> git push over SSH as ${me.username} (not root: no account or sudo rule is made)`);
      onLine(`keys added with hop3-server ssh-key add go to ${authorizedKeysPath(layout)} and run as ${me.username}`);
      onLine(me.homedir === config.home
        ? `HOP3_HOME is ${me.username}'s home, so sshd reads that file: push to ${me.username}@HOST:APP`
        : `sshd reads ~/.ssh/authorized_keys: copy those lines there (after each ssh-key add), then push to ${me.username}@HOST:APP`);
    }
  });

program.command('halt').description('stop the uWSGI emperor (and every app), the proxy and the addon servers hop3 runs').action(async () => {
  const { config, log, layout } = context();
  const plugins = loadPlugins({ config, layout, log, render: createRenderer(), exec: createExec() });
  await plugins.supervisor.stop();
  await plugins.proxy.server.stop();
  for (const a of plugins.addons.definitions) await a.server.stop();
});

const sshKey = program.command('ssh-key').description('SSH keys allowed to git push (USER@HOST:APP)');
sshKey.command('add').argument('<keyfile>', 'OpenSSH public key file (- for stdin)').option('--name <name>', 'key name (default: the key comment)')
  .action(async (file: string, o: { name?: string }) => {
    const { config, layout } = context();
    const form = await sshForm(createExec(), config);
    const key = addKey(config, layout, readFileSync(file === '-' ? 0 : file, 'utf8'), o.name, form);
    const how = form === 'sudo'
      ? `push to ${config.sshUser}@HOST:APP`
      : process.getuid?.() === 0
        ? `run hop3-server setup to push to ${config.sshUser}@HOST:APP`
        : `push to ${userInfo().username}@HOST:APP once sshd reads this file (see hop3-server setup)`;
    console.log(`authorized ${key.name} (${key.type}) in ${authorizedKeysPath(layout)}; ${how}`);
    if (form === 'sudo' && !sudoersCurrent(config)) {
      console.error(`warning: the sudo rule for ${config.sshUser} is missing or out of date; run hop3-server setup`);
    }
  });
sshKey.command('list').option('--json', 'machine-readable output').action((o: { json?: boolean }) => {
  const keys = listKeys(context().layout);
  console.log(o.json ? JSON.stringify(keys, null, 2) : keys.map((k) => `${k.name}  ${k.type}`).join('\n') || 'no keys');
});
sshKey.command('remove').argument('<name>').action(async (name: string) => {
  const { config, layout } = context();
  removeKey(layout, name, await sshForm(createExec(), config));
  console.log(`removed ${name}`);
});

program.command('token').description('print the admin API token').action(() => {
  const { layout } = context();
  ensureLayout(layout);
  console.log(ensureAdminToken(layout));
});

program.parseAsync().catch((err: unknown) => {
  const e = asHop3Error(err);
  console.error(`error: ${e.message}`);
  if (e.hint) console.error(`hint: ${e.hint}`);
  process.exitCode = e.category === 'user' ? 1 : 2;
});
