import nunjucks from 'nunjucks';
import { TEMPLATES_DIR } from './paths.js';
import { Hop3Error } from './errors.js';

/**
 * Values written into config files must be plain tokens of that format. Inputs are validated
 * long before rendering; these filters are the last line: they refuse, they never escape.
 */
const INI_SAFE = /^[A-Za-z0-9._:/=+@-]*$/;
const NGINX_SAFE = /^[A-Za-z0-9._:/*-]*$/;

/** nunjucks wraps what a filter throws in a plain Error; rendering is synchronous, so keep ours here. */
let refusal: Hop3Error | null = null;

function guard(pattern: RegExp, format: string) {
  return (value: unknown) => {
    const s = String(value);
    // A variable the caller forgot reaches a filter as undefined, which would be written as the word.
    if (value === undefined || value === null || !pattern.test(s)) {
      refusal = new Hop3Error('UNSAFE_CONFIG_VALUE', `refusing to write ${JSON.stringify(s)} into a ${format} file`);
      throw refusal;
    }
    return s;
  };
}

const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(TEMPLATES_DIR), {
  autoescape: false,
  throwOnUndefined: true,
  trimBlocks: true,
  lstripBlocks: true,
});
env.addFilter('ini', guard(INI_SAFE, 'uWSGI ini'));
env.addFilter('nginx', guard(NGINX_SAFE, 'nginx'));

export function renderTemplate(name: string, vars: object): string {
  refusal = null;
  try {
    return env.render(name, vars);
  } catch (err) {
    throw refusal ?? err;
  } finally {
    refusal = null;
  }
}
