import type { AppSpec, ProcessSpec } from './types.js';

/**
 * `hop3 scale`: how many instances of each process type a release runs. Only the kinds that run
 * as long-lived processes are counted: a release command, a static directory or a cron entry is
 * not a process that could run N times.
 */
export const SCALABLE_KINDS: ReadonlySet<ProcessSpec['kind']> = new Set(['wsgi', 'web', 'worker']);

/** The kinds that listen on a port of their own, one per instance. */
export const PORT_KINDS: ReadonlySet<ProcessSpec['kind']> = new Set(['wsgi', 'web']);

/** The most instances one process type may have (each costs a process and, for web, a port). */
export const MAX_INSTANCES = 16;

/** Counts by process type; a type that is not listed runs one instance. */
export type ScaleCounts = Record<string, number>;

export interface ProcessInstance {
  process: string;
  kind: ProcessSpec['kind'];
  /** 1..N. */
  index: number;
  /**
   * The instance's key in a release's ports and in its unit, file and log names: the process
   * name for the first instance (so an app never scaled has the names it always had), then
   * `<process>.<index>`. Process names hold no dot, so the two never collide (`worker-2` is a
   * process, `worker.2` an instance).
   */
  name: string;
  command: string;
}

export const instanceName = (process: string, index: number): string => (index === 1 ? process : `${process}.${index}`);

/** The count a release runs for a process type. */
export const countOf = (scale: ScaleCounts | undefined, process: string): number => scale?.[process] ?? 1;

/** Every instance the spec's scalable processes have at these counts, in Procfile order. Pure. */
export function instancesOf(spec: AppSpec, scale: ScaleCounts | undefined): ProcessInstance[] {
  return spec.processes.filter((p) => SCALABLE_KINDS.has(p.kind)).flatMap((p) =>
    Array.from({ length: countOf(scale, p.name) }, (_, i) => ({ process: p.name, kind: p.kind, index: i + 1, name: instanceName(p.name, i + 1), command: p.command })));
}
