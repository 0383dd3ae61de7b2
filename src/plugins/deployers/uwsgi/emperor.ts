import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { livePid } from '../../../lib/pidfile.js';
import { operationalError } from '../../../lib/errors.js';
import type { PluginContext, UnitStatus, UnitSupervisor } from '../../types.js';
import { stopOrphanAppProcesses } from './orphan-processes.js';
import { VASSAL_KIND } from './vassal-provider.js';

/** What the emperor says about one vassal. */
export type VassalStatus = UnitStatus;

/**
 * hop3's own uWSGI emperor, started detached so that it (and the apps) outlive hop3-server.
 * Its stats socket is how hop3 observes vassal processes without spawning anything.
 */
export class EmperorControl implements UnitSupervisor {
  readonly resource = 'emperor';
  readonly uses = VASSAL_KIND;
  private readonly ctx: PluginContext;
  private starting: Promise<'started' | 'running'> | null = null;
  readonly pidfile: string;
  readonly pidMarker = 'uwsgi';
  readonly statsSocket: string;

  constructor(ctx: PluginContext) {
    this.ctx = ctx;
    this.pidfile = join(ctx.layout.run, 'emperor.pid');
    this.statsSocket = join(ctx.layout.run, 'emperor-stats.sock');
  }

  get pidFile(): string {
    return this.pidfile;
  }

  managed(): boolean {
    return true;
  }

  pid(): number | null {
    return livePid(this.pidfile, this.pidMarker);
  }

  /**
   * Start it unless it runs. Idempotent, and one start at a time: a host pass and an apply may
   * both find it dead.
   */
  ensureRunning(): Promise<'started' | 'running'> {
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<'started' | 'running'> {
    if (this.pid()) return 'running';
    const { layout, config } = this.ctx;
    const orphans = await stopOrphanAppProcesses(layout.home);
    if (orphans.length > 0) this.ctx.log.warn({ pids: orphans }, 'stopped app processes that vassals of a dead emperor left behind');
    this.ctx.exec.spawnDetached(
      [config.uwsgiBin, '--emperor', layout.uwsgiEnabled, '--emperor-stats', this.statsSocket, '--emperor-freq', '1',
        '--pidfile', this.pidfile, '--die-on-term', '--vacuum'],
      join(layout.log, 'emperor.log'),
    );
    for (let i = 0; i < 200; i++) {
      if (this.pid() && (await this.stats().then(() => true, () => false))) return 'started';
      await sleep(25);
    }
    throw operationalError('EMPEROR_START_FAILED', `the uWSGI emperor did not start; see ${join(layout.log, 'emperor.log')}`);
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && this.pid(); i++) await sleep(50);
  }

  /** Vassal states by vassal file name (`<unit>.ini`). Rejects when the emperor cannot be asked. */
  stats(timeoutMs = 2000): Promise<Map<string, VassalStatus>> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(this.statsSocket);
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => sock.destroy(new Error('emperor stats timed out')), timeoutMs);
      sock.on('data', (c: Buffer) => chunks.push(c));
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      sock.on('end', () => {
        clearTimeout(timer);
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { vassals?: Record<string, unknown>[] };
          const map = new Map<string, VassalStatus>();
          for (const v of body.vassals ?? []) {
            // last_run moves when the emperor starts the vassal again; born does not.
            const startedAt = Number(v.last_run);
            map.set(String(v.id), {
              pid: Number(v.pid), respawns: Number(v.respawns), ready: Number(v.ready) === 1, cursed: Number(v.cursed) !== 0,
              ...(Number.isFinite(startedAt) && startedAt > 0 ? { startedAt } : {}),
            });
          }
          resolve(map);
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}
