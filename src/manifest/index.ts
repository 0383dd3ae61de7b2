export type { AddonSpec, AppSpec, ProcessKind, ProcessSpec, SpecIssue, StaticPath, TlsSpec } from './types.js';
export { PROCESS_KINDS, TLS_MODES } from './types.js';
export {
  APP_NAME_PATTERN,
  appNameProblem,
  DOMAIN_PATTERN,
  ENV_KEY_PATTERN,
  envEntryProblem,
  isValidDomain,
  quoteValue,
  validateAppName,
  validateDomain,
  validateEnvEntry,
} from './app-name.js';
export { HTTP_KINDS, MAX_PROCESSES, parseProcfile, WSGI_ENTRY_PATTERN, type ParsedProcfile } from './procfile.js';
export { parseEnvFile, type ParsedEnvFile } from './env-file.js';
export {
  assertValidSpec,
  chooseBuilder,
  detectBuilder,
  formatIssue,
  loadAppDir,
  parseAppSpec,
  type BuilderName,
  type SpecFiles,
  type SpecResult,
} from './load.js';
