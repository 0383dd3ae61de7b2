import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InstanceDump } from './instance-provider.js';

/**
 * Write a dump through a temporary file beside `path`, renamed into place once complete: a
 * failed or interrupted dump never leaves a file that looks like a backup.
 */
export async function writeDump(path: string, write: (tmp: string) => Promise<void>): Promise<InstanceDump> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await write(tmp);
    const sha256 = await fileSha256(tmp);
    const bytes = statSync(tmp).size;
    renameSync(tmp, path);
    return { path, bytes, sha256 };
  } finally {
    rmSync(tmp, { force: true });
  }
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
