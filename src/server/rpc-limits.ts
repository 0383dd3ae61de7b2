/**
 * Bounds on what a JSON-RPC request may make the daemon read and parse. Pure: the HTTP layer
 * applies them before and while it reads a body.
 */

/** Every method but an upload fits in this (params are names, keys and values). */
export const RPC_BODY_LIMIT = 1024 * 1024;
/** Uploads travel base64 inside JSON-RPC; this bounds them (about 48 MiB of archive). */
export const UPLOAD_BODY_LIMIT = 64 * 1024 * 1024 + 4096;
/** The one method that may send a large body, and only when the request names it up front. */
export const UPLOAD_METHOD = 'apps.deploy';
/**
 * The header a client sends with the method of its request, so the daemon knows the body limit
 * before it reads a byte of the body.
 */
export const METHOD_HEADER = 'x-hop3-method';
/** No params of any method nest deeper; deeper JSON is refused before it is validated. */
export const MAX_JSON_DEPTH = 16;
/** Requests in one batch. */
export const MAX_BATCH = 50;

export const mib = (bytes: number) => `${Math.floor(bytes / (1024 * 1024))} MiB`;

/** The body limit of a request, from the method its header names (if any). */
export function bodyLimitFor(methodHeader: string | string[] | undefined): { limit: number; upload: boolean } {
  const upload = methodHeader === UPLOAD_METHOD;
  return { limit: upload ? UPLOAD_BODY_LIMIT : RPC_BODY_LIMIT, upload };
}

/** What a client is told when its body is over the limit. */
export function bodyTooLargeMessage(methodHeader: string | string[] | undefined): string {
  const { limit, upload } = bodyLimitFor(methodHeader);
  return upload
    ? `request body over ${mib(limit)}, the limit for ${UPLOAD_METHOD}`
    : `request body over ${mib(limit)}, the limit for JSON-RPC requests other than ${UPLOAD_METHOD} (which may send up to ${mib(UPLOAD_BODY_LIMIT)} with the header ${METHOD_HEADER}: ${UPLOAD_METHOD})`;
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`, found by scanning the text (no
 * parse, no recursion): a request nested a million deep costs one pass over its bytes.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * A request that named the upload method in its header must be exactly one call of it: the
 * large limit is not a way to send anything else. Null when the body is acceptable.
 */
export function uploadMismatch(upload: boolean, body: unknown): string | null {
  if (!upload) return null;
  const method = (body as { method?: unknown } | null)?.method;
  if (Array.isArray(body) || method !== UPLOAD_METHOD) {
    return `the ${METHOD_HEADER} header says ${UPLOAD_METHOD}, but the body ${Array.isArray(body) ? 'is a batch' : `calls ${typeof method === 'string' ? method : 'no method'}`}`;
  }
  return null;
}
