import { DEFAULT_MAX_BODY_BYTES, DEFAULT_STATIC_MAX_AGE, DEFAULT_TLS } from './defaults.js';
import type { AppSpec } from './types.js';

/**
 * A spec snapshot as a release recorded it. Releases recorded before a key existed lack it:
 * they get the value an app that does not set the key gets today, so an upgrade renders the
 * same config for them as a fresh deploy of the same files would.
 */
export function specFromRecord(raw: unknown): AppSpec {
  const spec = raw as AppSpec & Partial<Pick<AppSpec, 'static' | 'tls'>>;
  return {
    ...spec,
    run: { ...spec.run, maxBodyBytes: spec.run.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES },
    static: spec.static ?? { paths: [], maxAge: DEFAULT_STATIC_MAX_AGE },
    tls: spec.tls ?? { ...DEFAULT_TLS },
  };
}
