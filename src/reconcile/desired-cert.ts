import type { Config } from '../config.js';
import { desiredCert } from '../plugins/certs/desired-cert.js';
import type { CertDesired } from '../plugins/certs/index.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { serverNames } from './desired.js';

export { certMode, isPublicName } from '../plugins/certs/desired-cert.js';

/** The certificate the records ask for an app running `release` (none without a release). Pure. */
export function desiredCertOf(
  app: Pick<AppRecord, 'name'>, release: ReleaseRecord | null, renewRequestedAt: string | null, config: Config,
): CertDesired | null {
  return release ? desiredCert(app.name, serverNames(app.name, release, config), release.spec.tls, config, renewRequestedAt) : null;
}
