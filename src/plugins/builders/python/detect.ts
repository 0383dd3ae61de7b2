import { hasProcess, type Detection } from '../detection-types.js';

export const WSGI_DETECTION: Detection = { builder: 'python', marker: 'a wsgi process', matches: (s) => hasProcess(s, 'wsgi') };
export const REQUIREMENTS_DETECTION: Detection = { builder: 'python', marker: 'requirements.txt', matches: (_s, f) => f('requirements.txt') };
