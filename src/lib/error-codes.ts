/**
 * The one catalogue of error codes hop3 raises: each code's category (user, operational,
 * internal: the exit code and JSON-RPC error an entry point turns it into), whether it is
 * terminal, and a default hint. Codes are part of the wire (`--json`, JSON-RPC `data.code`):
 * rename none.
 *
 * `terminal`: the failure is the release's own (its build, release command, processes, health
 * check, a config the proxy refuses, a link or static root it made out of the app), so it fails
 * the release instead of being retried; anything else (nginx or the emperor unreachable, a full
 * disk) is retried with backoff and the rollout goes on once the machine recovers.
 */
/** What an entry point makes of an error: user → exit 1; operational, internal → exit 2. */
export type ErrorCategory = 'user' | 'operational' | 'internal';

interface ErrorSpec {
  readonly category: ErrorCategory;
  readonly terminal: boolean;
  readonly hint?: string;
}

export const ERRORS = {
  ACME_BAD_TOKEN: { category: 'operational', terminal: false },
  ACME_NOT_CONFIGURED: { category: 'user', terminal: false },
  ACME_UNREACHABLE: { category: 'operational', terminal: false },
  ADDON_ACCOUNT_MISSING: { category: 'operational', terminal: false },
  ADDON_ATTACHED: { category: 'user', terminal: false },
  ADDON_EXISTS: { category: 'user', terminal: false },
  ADDON_BACKUP_INVALID: { category: 'user', terminal: false },
  ADDON_COMMAND_FAILED: { category: 'operational', terminal: false },
  ADDON_NAME_INVALID: { category: 'user', terminal: false },
  ADDON_NOT_ATTACHED: { category: 'user', terminal: false },
  ADDON_NOT_FOUND: { category: 'user', terminal: false },
  ADDON_SERVER_DOWN: { category: 'operational', terminal: false },
  ADDON_SERVER_START_FAILED: { category: 'operational', terminal: false },
  ADDON_TYPE_UNKNOWN: { category: 'user', terminal: false },
  ALREADY_RUNNING: { category: 'operational', terminal: false },
  API_BAD_ANSWER: { category: 'operational', terminal: false },
  API_UNREACHABLE: { category: 'operational', terminal: false },
  APP_DIR_NOT_DIRECTORY: { category: 'user', terminal: false },
  APP_DIR_NOT_FOUND: { category: 'user', terminal: false },
  APP_DIR_UNREADABLE: { category: 'user', terminal: false },
  APP_FILE_SPECIAL: { category: 'user', terminal: true },
  APP_LINK_OUTSIDE: { category: 'user', terminal: true },
  APP_NAME_INVALID: { category: 'user', terminal: false },
  APP_NOT_FOUND: { category: 'user', terminal: false },
  APP_NOT_PAUSED: { category: 'user', terminal: false },
  APP_NOT_RUNNING: { category: 'user', terminal: false },
  APP_PATH_OUTSIDE: { category: 'user', terminal: true },
  APP_STATIC_NOT_DIRECTORY: { category: 'user', terminal: true },
  APP_TOO_LARGE: { category: 'user', terminal: false },
  APP_TOO_MANY_FILES: { category: 'user', terminal: false },
  ARCHIVE_ENTRY_REFUSED: { category: 'user', terminal: false },
  ARCHIVE_INVALID: { category: 'user', terminal: false },
  ARCHIVE_TOO_LARGE: { category: 'user', terminal: false },
  BACKUP_CORRUPT: { category: 'operational', terminal: false, hint: 'its files no longer match the checksums in its manifest: restore another backup (hop3 backup list)' },
  BACKUP_ID_INVALID: { category: 'user', terminal: false },
  BACKUP_NOT_FOUND: { category: 'user', terminal: false, hint: 'hop3 backup list shows the backups there are' },
  BACKUP_NOT_VERIFIED: { category: 'operational', terminal: false },
  BACKUP_SUBJECT_NOT_FOUND: { category: 'user', terminal: false },
  BRANCH_MOVED: { category: 'user', terminal: false },
  BUILDER_NONE: { category: 'operational', terminal: true },
  BUILDER_UNKNOWN: { category: 'user', terminal: true },
  CADDY_CONFIG_REJECTED: { category: 'operational', terminal: true },
  CADDY_DOWN: { category: 'operational', terminal: false },
  CADDY_START_FAILED: { category: 'operational', terminal: false },
  CERT_INVALID: { category: 'user', terminal: false },
  CERT_ISSUE_FAILED: { category: 'operational', terminal: false },
  CERT_NOT_RENEWED: { category: 'user', terminal: false },
  CHANGE_UNCONFIRMED: { category: 'user', terminal: false },
  COMMIT_UNKNOWN: { category: 'user', terminal: false },
  CONFIG_INVALID: { category: 'user', terminal: false },
  CONFIRM: { category: 'user', terminal: false },
  CRON_INVALID: { category: 'user', terminal: false },
  DB_BUSY: { category: 'operational', terminal: false, hint: 'another process holds a lock on HOP3_HOME/hop3.db (a backup, a sqlite3 shell?); nothing was changed: retry once it lets go' },
  DEPLOY_ABORTED: { category: 'user', terminal: false },
  DEPLOY_CANCELLED: { category: 'user', terminal: false },
  DEPLOY_FAILED: { category: 'user', terminal: false },
  DEPLOY_TIMEOUT: { category: 'user', terminal: false },
  DEPLOY_UNSETTLED: { category: 'user', terminal: false },
  DESTROY_INCOMPLETE: { category: 'operational', terminal: false },
  DISK_FULL: { category: 'operational', terminal: false, hint: 'free disk space (old logs, builds) on the file system of HOP3_HOME, then try again; a change that failed was not made' },
  DISK_WRITE_FAILED: { category: 'operational', terminal: false },
  DOMAIN_INVALID: { category: 'user', terminal: false },
  DOMAIN_RESERVED: { category: 'user', terminal: false },
  DOMAIN_TAKEN: { category: 'user', terminal: false },
  EMPEROR_START_FAILED: { category: 'operational', terminal: false },
  ENGINES_MISMATCH: { category: 'user', terminal: true },
  ENV_INVALID: { category: 'user', terminal: false },
  ENV_NOT_SET: { category: 'user', terminal: false },
  EXEC_FAILED: { category: 'operational', terminal: true },
  FORBIDDEN: { category: 'user', terminal: false },
  HEALTH_CHECK_FAILED: { category: 'operational', terminal: true },
  HTTP_PORT_DENIED: { category: 'operational', terminal: false },
  HTTP_PORT_IN_USE: { category: 'operational', terminal: false },
  INTERNAL: { category: 'internal', terminal: false },
  IO_ERROR: { category: 'operational', terminal: false, hint: 'check the disk (dmesg) and that HOP3_HOME has free space; a change that failed was not made' },
  NGINX_CONFIG_REJECTED: { category: 'operational', terminal: true },
  NGINX_DOWN: { category: 'operational', terminal: false },
  NGINX_START_FAILED: { category: 'operational', terminal: false },
  NOTHING_TO_CANCEL: { category: 'user', terminal: false },
  NO_TOKEN: { category: 'user', terminal: false },
  PACKAGE_JSON_INVALID: { category: 'user', terminal: true },
  PARAMS_INVALID: { category: 'user', terminal: false },
  PASS_FAILED: { category: 'operational', terminal: false },
  PORTS_EXHAUSTED: { category: 'user', terminal: false },
  PROCESS_CRASHING: { category: 'operational', terminal: true },
  PUSH_SEVERAL_DEPLOY_BRANCHES: { category: 'user', terminal: false },
  QUARANTINE_INVALID: { category: 'user', terminal: false },
  RELEASE_CANCELLED: { category: 'user', terminal: true },
  RELEASE_NOT_FOUND: { category: 'user', terminal: false },
  ROLLBACK_NOT_GOOD: { category: 'user', terminal: false },
  ROLLBACK_NO_ARTIFACT: { category: 'user', terminal: false },
  ROLLBACK_NO_TARGET: { category: 'user', terminal: false },
  ROLLBACK_SUPERSEDED: { category: 'user', terminal: false },
  SECRET_KEY_INVALID: { category: 'operational', terminal: false },
  SECRET_UNREADABLE: { category: 'operational', terminal: false },
  SHUTTING_DOWN: { category: 'operational', terminal: false },
  SPEC_INVALID: { category: 'user', terminal: true },
  SSH_COMMAND_BROKEN: { category: 'user', terminal: false },
  SSH_COMMAND_REFUSED: { category: 'user', terminal: false },
  SSH_COMMAND_UNSAFE: { category: 'user', terminal: false },
  SSH_ENTRY_MISSING: { category: 'operational', terminal: false },
  SSH_KEY_EXISTS: { category: 'user', terminal: false },
  SSH_KEY_INVALID: { category: 'user', terminal: false },
  SSH_KEY_NAME_INVALID: { category: 'user', terminal: false },
  SSH_KEY_NOT_FOUND: { category: 'user', terminal: false },
  SSH_USER_TAKEN: { category: 'user', terminal: false },
  SUDOERS_INVALID: { category: 'operational', terminal: false },
  SUDOERS_UNSAFE: { category: 'user', terminal: false },
  TLS_OFF: { category: 'user', terminal: false },
  TOOLCHAIN_MISSING: { category: 'operational', terminal: true },
  UNSAFE_CONFIG_VALUE: { category: 'internal', terminal: true },
  UNSAFE_HOOK_VALUE: { category: 'internal', terminal: false },
  USAGE: { category: 'user', terminal: false },
  VERSION_INVALID: { category: 'user', terminal: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes of one category: `userError` takes only these, so a call site cannot contradict the catalogue. */
export type CodeOf<C extends ErrorCategory> = { [K in ErrorCode]: (typeof ERRORS)[K]['category'] extends C ? K : never }[ErrorCode];

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERRORS, code);
