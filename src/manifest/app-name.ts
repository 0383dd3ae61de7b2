import schema from '../../schemas/hop3-toml.schema.json' with { type: 'json' };
import { userError } from '../lib/errors.js';

// The schema is the single source of these rules, so hop3.toml and the CLI/RPC cannot drift apart.
const defs = schema.definitions;

export const APP_NAME_PATTERN = new RegExp(defs.appName.pattern);
export const ENV_KEY_PATTERN = new RegExp(defs.envKey.pattern);
export const DOMAIN_PATTERN = new RegExp(defs.domain.pattern);
export const ENV_VALUE_MAX_LENGTH = defs.envValue.maxLength;
export const ENV_MAX_KEYS = schema.properties.env.maxProperties;

/** A value quoted for a message, cut short when long (an upload must not come back in an error). */
export function quoteValue(value: unknown, max = 80): string {
  const text = JSON.stringify(typeof value === 'string' ? value.slice(0, max) : value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What is wrong with an app name, if anything; shared by validateAppName and the RPC's params errors. */
export function appNameProblem(name: string): { message: string; hint: string } | undefined {
  // certs/challenges/ holds the ACME answers every site serves: no app's certificate may live there.
  if (RESERVED_APP_NAMES.has(name)) return { message: `${quoteValue(name)} is a name hop3 keeps for itself`, hint: 'choose another app name' };
  if (APP_NAME_PATTERN.test(name)) return undefined;
  return { message: `${quoteValue(name)} is not a valid app name`, hint: defs.appName.description };
}

/** Names whose directories hop3 uses itself. */
const RESERVED_APP_NAMES: ReadonlySet<string> = new Set(['challenges']);

/** App names end up in paths, unit names and host names, hence the strict shape. */
export function validateAppName(name: string): void {
  const problem = appNameProblem(name);
  if (problem) throw userError('APP_NAME_INVALID', problem.message, { hint: problem.hint });
}

export function isValidDomain(d: string): boolean {
  return d.length <= defs.domain.maxLength && DOMAIN_PATTERN.test(d);
}

/** Domains are written into nginx configs: anything outside the pattern could inject directives. */
export function validateDomain(d: string): void {
  if (!isValidDomain(d)) {
    throw userError('DOMAIN_INVALID', `invalid domain name ${JSON.stringify(d)}`, {
      hint: defs.domain.description,
    });
  }
}

/** What is wrong with one environment entry, if anything; shared by the ENV parser and validateEnvEntry. */
export function envEntryProblem(key: string, value: string): { message: string; hint: string } | undefined {
  if (key.length > defs.envKey.maxLength || !ENV_KEY_PATTERN.test(key)) {
    return { message: `${quoteValue(key)} is not a valid ${defs.envKey.title}`, hint: defs.envKey.description };
  }
  if (value.includes('\0')) {
    return { message: `value of ${key} contains a NUL character`, hint: defs.envValue.description };
  }
  if (value.length > ENV_VALUE_MAX_LENGTH) {
    return { message: `value of ${key} is longer than ${ENV_VALUE_MAX_LENGTH} characters`, hint: defs.envValue.description };
  }
  return undefined;
}

export function validateEnvEntry(key: string, value: string): void {
  const problem = envEntryProblem(key, value);
  if (problem) throw userError('ENV_INVALID', problem.message, { hint: problem.hint });
}
