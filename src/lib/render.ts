import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import nunjucks from 'nunjucks';
import { TEMPLATES_DIR } from './paths.js';
import { Hop3Error } from './errors.js';

/**
 * Values written into config files must be plain tokens of that format. Inputs are validated
 * long before rendering; these filters are the last line: they refuse, they never escape.
 */
const INI_SAFE = /^[A-Za-z0-9._:/=+@-]*$/;
const NGINX_SAFE = /^[A-Za-z0-9._:/*-]*$/;

/** Renders hop3's config templates; created once (createHop3) and passed in the plugin context. */
export interface Renderer {
  render(name: string, vars: object): string;
}

function templatesIn(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.njk')) continue;
    const path = join(e.parentPath, e.name);
    found.set(relative(dir, path), readFileSync(path, 'utf8'));
  }
  return found;
}

/**
 * Every template is read here, once: rendering afterwards does no I/O, so what renders through it
 * (desiredApp) is pure given its inputs.
 */
export function createRenderer(dir = TEMPLATES_DIR): Renderer {
  const sources = templatesIn(dir);
  const loader = {
    getSource(name: string) {
      const src = sources.get(name);
      if (src === undefined) throw new Error(`there is no template ${name} in ${dir}`);
      return { src, path: name, noCache: false };
    },
  };
  // nunjucks wraps what a filter throws in a plain Error; rendering is synchronous, so the
  // refusal is kept aside for the one render in progress.
  let refusal: Hop3Error | null = null;
  const guard = (pattern: RegExp, format: string) => (value: unknown) => {
    const s = String(value);
    // A variable the caller forgot reaches a filter as undefined, which would be written as the word.
    if (value === undefined || value === null || !pattern.test(s)) {
      refusal = new Hop3Error('UNSAFE_CONFIG_VALUE', `refusing to write ${JSON.stringify(s)} into a ${format} file`);
      throw refusal;
    }
    return s;
  };
  const env = new nunjucks.Environment(loader as unknown as nunjucks.ILoader, { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true });
  env.addFilter('ini', guard(INI_SAFE, 'uWSGI ini'));
  env.addFilter('nginx', guard(NGINX_SAFE, 'nginx'));
  return {
    render(name, vars) {
      refusal = null;
      try {
        return env.render(name, vars);
      } catch (err) {
        throw refusal ?? err;
      } finally {
        refusal = null;
      }
    },
  };
}
