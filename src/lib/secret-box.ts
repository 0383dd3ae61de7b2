import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, statSync, chmodSync } from 'node:fs';
import { operationalError } from './errors.js';
import { createFileOnce } from './fs-atomic.js';

/**
 * Credentials at rest (addon passwords in the records): AES-256-GCM with a 32-byte key kept in
 * one file (`secrets/addons.key`, 0600). Each value gets a fresh 96-bit nonce; the GCM tag makes
 * a changed ciphertext, a wrong key or a value moved to another record (the `context`, bound as
 * additional data) fail to open instead of yielding garbage.
 *
 * Sealed form: `v1.<base64url nonce>.<base64url tag>.<base64url ciphertext>`.
 */
export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const VERSION = 'v1';

export interface SecretBox {
  seal(plaintext: string, context?: string): string;
  open(sealed: string, context?: string): string;
}

/** A box over a key (32 bytes). */
export function secretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw operationalError('SECRET_KEY_INVALID', `a secret key is ${KEY_BYTES} bytes; this one is ${key.length}`);
  return {
    seal(plaintext, context = '') {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [VERSION, nonce.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed, context = '') {
      const parts = sealed.split('.');
      const [version, nonce, tag, body] = parts;
      if (parts.length !== 4 || version !== VERSION || nonce === undefined || tag === undefined || body === undefined) {
        throw operationalError('SECRET_UNREADABLE', 'a stored secret is not in the sealed form hop3 writes', { hint: 'it was changed by hand or is damaged: set the credential again' });
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch (err) {
        throw operationalError('SECRET_UNREADABLE', 'a stored secret could not be opened: it was changed, or sealed with another key', {
          hint: 'secrets/addons.key must be the key the records were sealed with; a changed record has to be set again', cause: err,
        });
      }
    },
  };
}

/**
 * The key in `path`, created on first use: 32 random bytes written to a temporary 0600 file and
 * linked into place, so two processes starting at once end with one key (the second link fails
 * and that process reads the winner's). An existing key of the wrong size is an error, never
 * replaced: the records sealed with it would be lost.
 */
export function loadOrCreateKey(path: string): Buffer {
  const existing = readKey(path);
  if (existing) return existing;
  createFileOnce(path, randomBytes(KEY_BYTES));
  const key = readKey(path);
  if (!key) throw operationalError('SECRET_KEY_INVALID', `${path} could not be created`);
  return key;
}

function readKey(path: string): Buffer | null {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (key.length !== KEY_BYTES) {
    throw operationalError('SECRET_KEY_INVALID', `${path} holds ${key.length} bytes; a key is ${KEY_BYTES}`, {
      hint: 'restore the key file from a backup; without it the sealed credentials cannot be read',
    });
  }
  // A key made readable by hand (a copy restored with the wrong mode) is closed again.
  if ((statSync(path).mode & 0o777) !== 0o600) chmodSync(path, 0o600);
  return key;
}
