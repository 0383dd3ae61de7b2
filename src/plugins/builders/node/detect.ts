import type { Detection } from '../detection-types.js';

export const NODE_DETECTION: Detection = { builder: 'node', marker: 'package.json', matches: (_s, f) => f('package.json') };
/** The web process of a Node app without one. */
export const NODE_DEFAULT_WEB = 'exec npm start';
