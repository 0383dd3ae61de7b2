import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from '../../lib/exec.js';
import type { IssuedCert } from './cert-files.js';

/** Days a self-signed certificate is valid: as long as an ACME one, so both renew alike. */
const SELF_SIGNED_DAYS = 90;

/**
 * A self-signed certificate for `names` (already validated), made by the openssl binary in a
 * private scratch directory inside `dir` (the key never exists anywhere readable).
 */
export async function issueSelfSigned(exec: Exec, dir: string, names: string[]): Promise<IssuedCert> {
  const scratch = mkdtempSync(join(dir, '.self-signed-'));
  try {
    const key = join(scratch, 'key.pem');
    const cert = join(scratch, 'cert.pem');
    await exec.run([
      'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', String(SELF_SIGNED_DAYS),
      '-subj', `/CN=${names[0]!}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    ], { timeoutMs: 30_000 });
    return { chain: [readFileSync(cert, 'utf8')], key: readFileSync(key, 'utf8') };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
