import type { AppSpec } from '../../manifest/types.js';
import type { BuilderName, Detection } from './detection-types.js';
import { GENERIC_DETECTION } from './generic/detect.js';
import { GO_DEFAULT_WEB, GO_DETECTION } from './go/detect.js';
import { NODE_DEFAULT_WEB, NODE_DETECTION } from './node/detect.js';
import { RUST_DEFAULT_WEB, RUST_DETECTION } from './rust/detect.js';
import { COMPOSER_DETECTION, INDEX_PHP_DETECTION, PHP_DEFAULT_WEB } from './php/detect.js';
import { REQUIREMENTS_DETECTION, WSGI_DETECTION } from './python/detect.js';
import { CONFIG_RU_DETECTION, GEMFILE_DETECTION, RACK_DEFAULT_WEB } from './ruby/detect.js';
import { INDEX_HTML_DETECTION, STATIC_PROCESS_DETECTION } from './static/detect.js';

export { BUILDER_NAMES, type BuilderName, type Detection } from './detection-types.js';

/**
 * The detection table, first match wins; each builder's folder owns its rows (detect.ts), the
 * order is decided here. What the app declares (a static or wsgi process) beats what its files
 * suggest. Among marker files a compiled runtime beats an interpreted one (a Go or Rust
 * service with a package.json for its front end is a Go service); Python beats Node, as it did
 * before Node was built (a Django app keeps its asset tooling in a package.json); an index.html
 * is a static site only when nothing runs code: no web or wsgi process and no package.json (a
 * front-end project keeps its index.html beside package.json). `generic` takes whatever
 * declares a process and has no marker.
 */
export const DETECTION: readonly Detection[] = [
  STATIC_PROCESS_DETECTION,
  WSGI_DETECTION,
  GO_DETECTION,
  RUST_DETECTION,
  CONFIG_RU_DETECTION,
  INDEX_PHP_DETECTION,
  INDEX_HTML_DETECTION,
  REQUIREMENTS_DETECTION,
  GEMFILE_DETECTION,
  COMPOSER_DETECTION,
  NODE_DETECTION,
  GENERIC_DETECTION,
];

/**
 * Marker files that also say what to run, so an app with one needs no hop3.toml or Procfile: a
 * runtime with a default web process, or a static site. (requirements.txt, a Gemfile and
 * composer.json do not: which app or server to run is the app's to say.)
 */
export const SELF_DESCRIBING_FILES = ['go.mod', 'Cargo.toml', 'package.json', 'config.ru', 'index.php', 'index.html'] as const;

/**
 * The builder an app gets: the one `[build] builder` names, else the first row of the table
 * that matches; null when none does. `fileExists` answers for paths relative to the app.
 */
export function detect(spec: AppSpec, fileExists: (rel: string) => boolean): BuilderName | null {
  if (spec.build.builder !== 'auto') return spec.build.builder;
  return DETECTION.find((d) => d.matches(spec, fileExists))?.builder ?? null;
}

/**
 * The `web` process an app without one gets from its builder, where the runtime has an obvious
 * one (the command runs in the release's source directory, with the builder's PATH).
 */
export const DEFAULT_WEB: Partial<Record<BuilderName, string>> = { node: NODE_DEFAULT_WEB, go: GO_DEFAULT_WEB, rust: RUST_DEFAULT_WEB, ruby: RACK_DEFAULT_WEB, php: PHP_DEFAULT_WEB };
