import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { asHop3Error } from '../lib/errors.js';
import { ensureLayout, layoutOf } from '../lib/layout.js';
import { createLogger } from '../lib/logger.js';
import { loadPlugins } from '../plugins/registry.js';
import { EmperorControl } from '../plugins/deployers/uwsgi/emperor.js';
import { NginxControl } from '../plugins/proxies/nginx/master.js';
import { serve } from '../server/daemon.js';
import { ensureAdminToken } from '../server/token.js';
import { addKey, authorizedKeysPath, listKeys, removeKey } from '../git/authorized-keys.js';

const program = new Command('hop3-server').description('hop3 daemon and administration').showHelpAfterError();

function context() {
  const config = loadConfig(process.env);
  const log = createLogger(config.logLevel);
  const layout = layoutOf(config.home);
  return { config, log, layout };
}

program.command('serve').description('run the daemon: API, reconcile loop, uWSGI emperor and nginx').action(async () => {
  const { config, log } = context();
  await serve(config, log);
});

program.command('setup').description('prepare this machine: system packages and the HOP3_HOME layout (idempotent)').action(async () => {
  const { config, log, layout } = context();
  const plugins = loadPlugins({ config, layout, log });
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const os = plugins.oses.find((o) => o.detect(osRelease));
  if (!os) throw new Error('this operating system is not supported (Debian or Ubuntu needed)');
  console.error(`-----> ${os.displayName}: installing ${os.packages.join(' ')}`);
  await os.setupServer((line) => console.error(`       ${line}`));
  ensureLayout(layout);
  ensureAdminToken(layout);
  console.error(`-----> ${config.home} is ready`);
});

program.command('halt').description('stop the uWSGI emperor (and every app) and the embedded nginx').action(async () => {
  const { config, log, layout } = context();
  const ctx = { config, layout, log };
  await new EmperorControl(ctx).stop();
  await new NginxControl(ctx).stop();
});

const sshKey = program.command('ssh-key').description('SSH keys allowed to git push (hop3@HOST:APP)');
sshKey.command('add').argument('<keyfile>', 'OpenSSH public key file (- for stdin)').option('--name <name>', 'key name (default: the key comment)')
  .action((file: string, o: { name?: string }) => {
    const { config, layout } = context();
    const key = addKey(config, layout, readFileSync(file === '-' ? 0 : file, 'utf8'), o.name);
    console.log(`authorized ${key.name} (${key.type}) in ${authorizedKeysPath(layout)}`);
  });
sshKey.command('list').option('--json', 'machine-readable output').action((o: { json?: boolean }) => {
  const keys = listKeys(context().layout);
  console.log(o.json ? JSON.stringify(keys, null, 2) : keys.map((k) => `${k.name}  ${k.type}`).join('\n') || 'no keys');
});
sshKey.command('remove').argument('<name>').action((name: string) => {
  removeKey(context().layout, name);
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
