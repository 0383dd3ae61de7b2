import { operationalError } from '../../lib/errors.js';
import { UNKNOWN } from '../../lib/unknown.js';
import type { HostServerSpec } from '../host-server-provider.js';
import type { Observed, Provider } from '../provider.js';
import type { AddonServer } from './server-process.js';

/** The machine's server, as looked at: it answered its admin's ping. */
export interface SystemServerLive {
  answering: true;
}

/**
 * One of the machine's addon servers (HOP3_ADDONS=system) as a host resource that is observed
 * only: its health is the ping, and a server that does not answer is UNKNOWN (down, or its admin
 * refused: hop3 cannot tell which), so the planner reports it and neither starts nor stops it.
 * The instances on it are UNKNOWN for the same reason, and nothing is recreated or dropped.
 */
export function systemServerProvider(server: AddonServer, name: string): Provider<HostServerSpec, SystemServerLive> {
  return {
    kind: server.resource,
    phase: 'sync',
    observesDesiredOnly: true,
    async observe(_owner, wanted) {
      const seen: Observed<SystemServerLive> = new Map();
      if (!wanted.some((r) => r.name === name)) return seen;
      return seen.set(name, (await server.ping()) ? { answering: true } : UNKNOWN);
    },
    diff: () => 'none',
    // Never planned (a live one has no diff, an unknown one is only reported): refused should it ever be.
    async apply(op) {
      throw operationalError('ADDON_SERVER_DOWN', `${server.label} is the machine's to ${op === 'delete' ? 'stop' : 'start'}, not hop3's (HOP3_ADDONS=system)`);
    },
    describe: (v) => ('answering' in v ? `${server.label} answers` : `${server.label} answering`),
    health: () => 'Healthy',
    host: {
      desired: () => (server.wanted() ? [{ kind: server.resource, name, spec: { server: name } }] : []),
      neededBy: [server.uses],
      // Nothing cheap shows a change of a server that is not hop3's: the periodic resync looks.
      glance: () => 'system',
    },
  };
}
