import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, within } from './harness.js';

const SSHD = '/usr/sbin/sshd';

/** Generate an ed25519 key pair without a passphrase; returns the private key's path. */
export async function sshKeygen(path: string, comment = 'hop3-test'): Promise<string> {
  const r = await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { reject: false });
  if (r.exitCode !== 0) throw new Error(`ssh-keygen failed: ${String(r.stderr)}`);
  return path;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/**
 * A real OpenSSH server on a free loopback port that reads hop3's authorized_keys
 * (`$HOP3_HOME/.ssh/authorized_keys`). It runs in the foreground (-D) as a child of the test,
 * so it dies with it; stop() kills it and removes its keys and config.
 */
export class Sshd {
  readonly dir = mkdtempSync(join(tmpdir(), 'hop3-sshd-'));
  /** The account clients log in as. */
  readonly user: string;
  port = 0;
  /** The default client key (private key path; `.pub` beside it). */
  clientKey = '';
  private proc: ResultPromise | null = null;

  private readonly hop3Home: string;
  private readonly account: string | undefined;

  /**
   * `hop3Home`: the HOP3_HOME whose `.ssh/authorized_keys` this server reads. By default clients
   * log in as the current user and the server is pointed at that file (AuthorizedKeysFile,
   * StrictModes no). With `account` (the HOP3_SSH_USER that `hop3-server setup` made, whose
   * home is HOP3_HOME) it is configured as a system sshd is: the default AuthorizedKeysFile
   * (~/.ssh/authorized_keys of the account) and StrictModes yes.
   */
  constructor(hop3Home: string, opts: { account?: string } = {}) {
    this.hop3Home = hop3Home;
    this.account = opts.account;
    this.user = opts.account ?? userInfo().username;
  }

  get logFile(): string {
    return join(this.dir, 'sshd.log');
  }

  async start(): Promise<this> {
    this.port = await freePort();
    const hostKey = await sshKeygen(join(this.dir, 'host_key'), 'host');
    this.clientKey = await sshKeygen(join(this.dir, 'client'), 'client@hop3-test');
    const config = join(this.dir, 'sshd_config');
    writeFileSync(config, [
      `Port ${this.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(this.dir, 'sshd.pid')}`,
      ...(this.account ? [] : [`AuthorizedKeysFile ${join(this.hop3Home, '.ssh', 'authorized_keys')}`]),
      'PermitRootLogin forced-commands-only',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      `StrictModes ${this.account ? 'yes' : 'no'}`,
      '',
    ].join('\n'));
    mkdirSync('/run/sshd', { recursive: true });
    const check = await execa(SSHD, ['-t', '-f', config], { reject: false });
    if (check.exitCode !== 0) throw new Error(`sshd -t refused the test config: ${String(check.stderr)}`);
    this.proc = execa(SSHD, ['-D', '-f', config, '-E', this.logFile], { reject: false });
    await within(10_000, () => accepts(this.port));
    return this;
  }

  /** A further client key pair (e.g. one that is never authorized). */
  newKey(name: string): Promise<string> {
    return sshKeygen(join(this.dir, name), `${name}@hop3-test`);
  }

  /** The ssh client command line for GIT_SSH_COMMAND (non-interactive, no known_hosts). */
  sshCommand(key = this.clientKey): string {
    return `ssh -i ${key} -p ${this.port} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes`;
  }

  /** Environment for git over this server. */
  gitEnv(key = this.clientKey): Record<string, string> {
    return { GIT_SSH_COMMAND: this.sshCommand(key) };
  }

  /** The scp-like remote of an app: USER@127.0.0.1:APP. */
  remote(app: string): string {
    return `${this.user}@127.0.0.1:${app}`;
  }

  /** Run a raw ssh command (what a user trying to get a shell would do). */
  ssh(command: string, key = this.clientKey) {
    return execa('ssh', [...this.sshCommand(key).split(' ').slice(1), `${this.user}@127.0.0.1`, command], { reject: false, timeout: 30_000 });
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.proc) {
      this.proc.kill('SIGTERM');
      await this.proc;
      this.proc = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
