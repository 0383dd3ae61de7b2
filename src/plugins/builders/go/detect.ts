import type { Detection } from '../detection-types.js';

/** The binary the go builder writes into the release's bin/ (on the processes' PATH). */
export const GO_BINARY = 'app';
export const GO_DETECTION: Detection = { builder: 'go', marker: 'go.mod', matches: (_s, f) => f('go.mod') };
/** The web process of a Go app without one: the built binary. */
export const GO_DEFAULT_WEB = `exec ${GO_BINARY}`;
