import { ensureRepo } from '../git/repo.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';

/** The app's bare repository, created if needed (the SSH forced command asks before a push). */
export async function gitPrepare(ctx: CommandContext, caller: Caller, p: { app: string }) {
  admit(caller, 'git.prepare', p.app);
  return { app: p.app, path: await ensureRepo(ctx.exec, ctx.config, ctx.layout, p.app) };
}
