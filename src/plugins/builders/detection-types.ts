import type { AppSpec, ProcessSpec } from '../../manifest/types.js';

/** The builders hop3 has. */
export const BUILDER_NAMES = ['python', 'static', 'node', 'go', 'rust', 'ruby', 'php', 'generic'] as const;
export type BuilderName = (typeof BUILDER_NAMES)[number];

/** One row of the detection table: what makes a builder take an app. Pure. */
export interface Detection {
  builder: BuilderName;
  /** Said in the table's documentation and in the error when nothing matches. */
  marker: string;
  matches(spec: AppSpec, fileExists: (rel: string) => boolean): boolean;
}

export const hasProcess = (spec: AppSpec, kind: ProcessSpec['kind']) => spec.processes.some((p) => p.kind === kind);
/** A web or wsgi process: the app serves more than its files. */
export const servesCode = (spec: AppSpec) => hasProcess(spec, 'web') || hasProcess(spec, 'wsgi');
