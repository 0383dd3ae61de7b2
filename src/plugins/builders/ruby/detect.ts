import type { Detection } from '../detection-types.js';

/** A config.ru is written to be run by a rack server: it says what to run, like a go.mod. */
export const CONFIG_RU_DETECTION: Detection = { builder: 'ruby', marker: 'config.ru', matches: (_s, f) => f('config.ru') };
/** A Gemfile alone names dependencies, not what to run (a Jekyll site has one too). */
export const GEMFILE_DETECTION: Detection = { builder: 'ruby', marker: 'Gemfile', matches: (_s, f) => f('Gemfile') };
/**
 * The web process of a Ruby app without one: the rack app in config.ru, run by uWSGI's rack
 * plugin. A Procfile line `web: config.ru` says the same; any other web command runs as it is.
 */
export const RACK_DEFAULT_WEB = 'config.ru';
