// The forced command of authorized SSH keys: a small entry point of its own, so that it starts
// without loading the daemon's modules.
import { runSshCommand } from './ssh-command.js';

await runSshCommand(process.argv.slice(2));
