import type { Detection } from '../detection-types.js';

/** An index.php is a front controller: it says what to run. */
export const INDEX_PHP_DETECTION: Detection = { builder: 'php', marker: 'index.php', matches: (_s, f) => f('index.php') };
export const COMPOSER_DETECTION: Detection = { builder: 'php', marker: 'composer.json', matches: (_s, f) => f('composer.json') };
/**
 * The web process of a PHP app without one: its scripts through uWSGI's php plugin, with
 * index.php as the index and the fallback. A Procfile line `web: index.php` says the same; any
 * other web command (`php -S ...`) runs as it is.
 */
export const PHP_DEFAULT_WEB = 'index.php';
