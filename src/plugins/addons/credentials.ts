import { join } from 'node:path';
import type { Layout } from '../../lib/layout.js';
import { loadOrCreateKey, secretBox } from '../../lib/secret-box.js';
import type { InstanceSpec } from './instance-provider.js';

export const addonsKeyPath = (layout: Layout) => join(layout.secrets, 'addons.key');

/** How an instance's password is kept in the records: sealed, bound to its kind and name. */
export interface CredentialBox {
  seal(kind: string, spec: InstanceSpec): string;
  open(kind: string, name: string, sealed: string): InstanceSpec;
}

/**
 * Sealed with the key in secrets/addons.key (created on first use). The kind and name are the
 * additional data, so a sealed password copied into another instance's record does not open.
 */
export function credentialBox(layout: Layout): CredentialBox {
  const box = secretBox(loadOrCreateKey(addonsKeyPath(layout)));
  return {
    seal: (kind, spec) => box.seal(spec.password, `${kind}:${spec.name}`),
    open: (kind, name, sealed) => ({ name, password: box.open(sealed, `${kind}:${name}`) }),
  };
}
