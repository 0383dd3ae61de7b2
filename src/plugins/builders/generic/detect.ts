import type { Detection } from '../detection-types.js';

export const GENERIC_DETECTION: Detection = {
  builder: 'generic', marker: 'a process (Procfile or [run] start) and none of the above', matches: (s) => s.processes.length > 0,
};
