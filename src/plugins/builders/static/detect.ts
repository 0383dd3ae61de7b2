import { hasProcess, servesCode, type Detection } from '../detection-types.js';

export const STATIC_PROCESS_DETECTION: Detection = { builder: 'static', marker: 'a static process', matches: (s) => hasProcess(s, 'static') };
export const INDEX_HTML_DETECTION: Detection = {
  builder: 'static', marker: 'index.html (and no web process, no package.json)', matches: (s, f) => !servesCode(s) && !f('package.json') && f('index.html'),
};
