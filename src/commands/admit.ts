import { validateAppName } from '../manifest/index.js';
import { authorize, type Caller, type Intent } from './authorize.js';

/**
 * The door every command goes through before it reads or records anything: the app name is one
 * hop3 can use (it ends up in paths, unit and host names), and the caller may act on it. RPC's
 * schema checks names too; GitOps and a dashboard will call commands without it.
 */
export function admit(caller: Caller, intent: Intent, app: string | null): void {
  if (app !== null) validateAppName(app);
  authorize(caller, intent, app);
}
