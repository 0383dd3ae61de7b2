import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The hop3 checkout or package root (the same from src/ under vitest and from dist/). */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('hop3: cannot find package root');
    dir = up;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();
export const STATE_DIR = join(PROJECT_ROOT, 'state');
export const TEMPLATES_DIR = join(PROJECT_ROOT, 'templates');
export const SCHEMAS_DIR = join(PROJECT_ROOT, 'schemas');
