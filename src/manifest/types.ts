/** The normalized description of an app, built from hop3.toml, Procfile and ENV. */

export const PROCESS_KINDS = ['web', 'wsgi', 'worker', 'static', 'release', 'cron'] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

export interface ProcessSpec {
  /** Procfile name: a kind (`web`) or a kind with a suffix (`worker-mail`). */
  name: string;
  kind: Exclude<ProcessKind, 'release'>;
  /** wsgi: `module:callable`; static: a directory relative to the app root; others: a shell command. */
  command: string;
  /** cron only: the five schedule fields. */
  schedule?: string;
}

export interface AddonSpec {
  type: 'postgres' | 'mysql' | 'redis';
  name: string;
  /** The variable the app gets the URL in; absent: DATABASE_URL or REDIS_URL. */
  env?: string;
}

export interface AppSpec {
  /** `[metadata] id`, when given. */
  name: string | null;
  metadata: {
    version?: string;
    title?: string;
    description?: string;
    author?: string;
    license?: string;
    url?: string;
  };
  build: {
    builder: 'auto' | 'python' | 'static' | 'node' | 'go' | 'generic';
    /** Shell commands run in the release directory after the builder. */
    before: string[];
  };
  run: {
    /** uWSGI worker processes for a wsgi process. */
    workers: number;
    /** Release-phase commands: `[run] before-run`, then Procfile `release`. */
    beforeRun: string[];
    /** `[run] max-body-size` in bytes: the largest request body the proxy lets through. */
    maxBodyBytes: number;
  };
  /** Directories of the release the proxy serves itself, beside the app's processes. */
  static: {
    /** URL prefix (normalized to end with `/`) → directory relative to the app root. */
    paths: StaticPath[];
    /** Seconds clients and caches may keep a served file. */
    maxAge: number;
  };
  tls: TlsSpec;
  processes: ProcessSpec[];
  env: Record<string, string>;
  domains: string[];
  healthcheck: {
    path: string;
    /** Seconds. */
    timeout: number | null;
    expectStatus: number;
  };
  addons: AddonSpec[];
}

export interface StaticPath {
  prefix: string;
  dir: string;
}

export const TLS_MODES = ['auto', 'acme', 'self-signed', 'off'] as const;

/** `[tls]`: how the app's names get certificates. Recorded here; issuing is the proxy's. */
export interface TlsSpec {
  /** `auto`: ACME when an ACME directory and email are configured and the name is public, else self-signed. */
  mode: (typeof TLS_MODES)[number];
  /** Redirect HTTP to HTTPS (ACME challenges excepted). */
  httpsOnly: boolean;
  hsts: boolean;
}

/** One thing wrong in an app directory, precise enough to fix without guessing. */
export interface SpecIssue {
  file: string;
  key?: string;
  line?: number;
  message: string;
  hint?: string;
}
