import { join } from 'node:path';
import { RACK_DEFAULT_WEB } from '../../builders/ruby/detect.js';
import { PHP_DEFAULT_WEB } from '../../builders/php/detect.js';
import type { ProcessSpec } from '../../../manifest/types.js';
import type { Layout } from '../../../lib/layout.js';
import type { BuildArtifact } from '../../../store/types.js';

/** A vassal whose app runs inside uWSGI through a language plugin: its template and the ini vars that are its own. */
export interface ServerPluginVassal {
  template: string;
  vars: Record<string, string>;
}

/**
 * The default web process of a rack or php artifact runs in uWSGI's plugin for its language;
 * every other process (workers, a `web:` server command) is a command like a Node app's. Null:
 * a command. Pure.
 */
export function serverPluginVassal(artifact: BuildArtifact, proc: ProcessSpec, paths: { layout: Layout; cwd: string }): ServerPluginVassal | null {
  if (proc.kind !== 'web' || artifact.plugin === undefined) return null;
  const { layout, cwd } = paths;
  if (artifact.kind === 'rack' && proc.command === RACK_DEFAULT_WEB) {
    return { template: 'uwsgi/rack.ini.njk', vars: { plugin: artifact.plugin, rackFile: join(cwd, 'config.ru'), loader: join(layout.lib, 'hop3_rack.rb') } };
  }
  if (artifact.kind === 'php' && proc.command === PHP_DEFAULT_WEB) {
    return { template: 'uwsgi/php.ini.njk', vars: { plugin: artifact.plugin, phpIni: join(layout.lib, 'hop3_php.ini'), loader: join(layout.lib, 'hop3_php_env.php') } };
  }
  return null;
}
