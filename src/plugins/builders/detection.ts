import type { AppSpec, ProcessSpec } from '../../manifest/types.js';

/** The builders hop3 has, in the order auto-detection tries their markers. */
export const BUILDER_NAMES = ['python', 'static', 'node', 'go', 'generic'] as const;
export type BuilderName = (typeof BUILDER_NAMES)[number];

/** What makes a builder take an app, by its processes and the files of its source tree. Pure. */
export interface Detection {
  builder: BuilderName;
  /** Said in the table's documentation and in the error when nothing matches. */
  marker: string;
  matches(spec: AppSpec, fileExists: (rel: string) => boolean): boolean;
}

const has = (spec: AppSpec, kind: ProcessSpec['kind']) => spec.processes.some((p) => p.kind === kind);
/** A web or wsgi process: the app serves more than its files. */
const servesCode = (spec: AppSpec) => has(spec, 'web') || has(spec, 'wsgi');

/**
 * The detection table, first match wins. What the app declares (a static or wsgi process) beats
 * what its files suggest. Among marker files a compiled runtime beats an interpreted one (a Go
 * service with a package.json for its front end is a Go service); Python beats Node, as it did
 * before Node was built (a Django app keeps its asset tooling in a package.json); an index.html
 * is a static site only when nothing runs code: no web or wsgi process and no package.json (a
 * front-end project keeps its index.html beside package.json). `generic` takes whatever
 * declares a process and has no marker.
 */
export const DETECTION: readonly Detection[] = [
  { builder: 'static', marker: 'a static process', matches: (s) => has(s, 'static') },
  { builder: 'python', marker: 'a wsgi process', matches: (s) => has(s, 'wsgi') },
  { builder: 'go', marker: 'go.mod', matches: (_s, f) => f('go.mod') },
  { builder: 'static', marker: 'index.html (and no web process, no package.json)', matches: (s, f) => !servesCode(s) && !f('package.json') && f('index.html') },
  { builder: 'python', marker: 'requirements.txt', matches: (_s, f) => f('requirements.txt') },
  { builder: 'node', marker: 'package.json', matches: (_s, f) => f('package.json') },
  { builder: 'generic', marker: 'a process (Procfile or [run] start) and none of the above', matches: (s) => s.processes.length > 0 },
];

/** The marker files, for messages: what an app could add so that a builder takes it. */
export const MARKER_FILES = ['go.mod', 'index.html', 'requirements.txt', 'package.json'] as const;

/**
 * The builder an app gets: the one `[build] builder` names, else the first row of the table
 * that matches; null when none does. `fileExists` answers for paths relative to the app.
 */
export function detect(spec: AppSpec, fileExists: (rel: string) => boolean): BuilderName | null {
  if (spec.build.builder !== 'auto') return spec.build.builder;
  return DETECTION.find((d) => d.matches(spec, fileExists))?.builder ?? null;
}

/**
 * The `web` process an app without one gets from its builder, where the runtime has an obvious
 * one (the command runs in the release's source directory, with the builder's PATH).
 */
export const DEFAULT_WEB: Partial<Record<BuilderName, string>> = {
  node: 'exec npm start',
  // The go builder writes the binary there (the release's bin/ is on the processes' PATH).
  go: 'exec app',
};
