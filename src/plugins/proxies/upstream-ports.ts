import type { DeploymentInfo } from '../types.js';

/** Every port a proxied site balances over: one per instance of the web process. */
export const upstreamPorts = (target: Extract<DeploymentInfo, { protocol: 'http' }>): number[] => [target.port, ...(target.morePorts ?? [])];
