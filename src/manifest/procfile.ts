import schema from '../../schemas/hop3-toml.schema.json' with { type: 'json' };
import { parseCron } from '../lib/cron.js';
import { asHop3Error } from '../lib/errors.js';
import { PROCESS_KINDS, type ProcessKind, type ProcessSpec, type SpecIssue } from './types.js';

/** Processes (cron entries included) one Procfile may define: a bound on what one app makes the server run. */
export const MAX_PROCESSES = 32;

/** `module`, `package.module` or `module:callable`; anything else in `[run] start` is a shell command. */
export const WSGI_ENTRY_PATTERN =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_]*)?$/;
export const RELATIVE_DIR_PATTERN = new RegExp(schema.definitions.relativeDir.pattern);

/** Kinds that answer HTTP on the app's port; an app can have only one of them. */
export const HTTP_KINDS: readonly ProcessKind[] = ['web', 'wsgi', 'static'];

const NAME = /^([a-z]+)(?:-([a-z0-9-]+))?$/;
const CRON = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$/;
const CRON_FIELD = /^[0-9*/,-]+$/;
const KIND_HINT = `a process name is one of ${PROCESS_KINDS.join(', ')}, optionally followed by -suffix, e.g. worker-mail`;

export interface ParsedProcfile {
  processes: ProcessSpec[];
  /** Commands of `release` lines, in file order. */
  release: string[];
  /** Line number of each process and release name, for messages that point at it. */
  lines: Map<string, number>;
  issues: SpecIssue[];
}

export function parseProcfile(text: string): ParsedProcfile {
  const result: ParsedProcfile = { processes: [], release: [], lines: new Map(), issues: [] };
  let httpName: string | undefined;

  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const issue = (message: string, hint?: string, key?: string) =>
      result.issues.push({ file: 'Procfile', line, ...(key && { key }), message, ...(hint && { hint }) });

    const match = /^([^:\s]+)\s*:(.*)$/.exec(trimmed);
    if (!match) return issue('expected "name: command"', 'e.g. web: gunicorn app:app');
    const name = match[1]!;
    const command = match[2]!.trim();

    const nameMatch = NAME.exec(name);
    const kind = (nameMatch?.[1] ?? name.split('-')[0]) as ProcessKind;
    if (!PROCESS_KINDS.includes(kind)) return issue(`unknown process kind ${JSON.stringify(kind)}`, KIND_HINT, name);
    if (!nameMatch || name.length > 63) return issue(`invalid process name ${JSON.stringify(name)}`, KIND_HINT, name);
    if (result.lines.has(name)) {
      return issue(`process ${name} is already defined on line ${result.lines.get(name)}`, 'give each process its own name, e.g. worker-mail', name);
    }
    if (command === '') return issue(`process ${name} has no command`, undefined, name);

    if (kind === 'release') {
      result.lines.set(name, line);
      result.release.push(command);
      return;
    }

    const proc: ProcessSpec = { name, kind, command };
    if (kind === 'cron') {
      const cron = CRON.exec(command);
      const schedule = cron?.slice(1, 6) ?? [];
      if (!cron || !schedule.every((f) => CRON_FIELD.test(f))) {
        return issue('cron needs five schedule fields and a command', 'e.g. cron: */5 * * * * python tick.py', name);
      }
      try {
        proc.schedule = parseCron(schedule.join(' ')).source;
      } catch (err) {
        return issue(asHop3Error(err).message, asHop3Error(err).hint, name);
      }
      proc.command = cron[6]!;
    }
    if (kind === 'wsgi' && !WSGI_ENTRY_PATTERN.test(command)) {
      return issue(`invalid WSGI entry point ${JSON.stringify(command)}`, 'use module:callable, e.g. wsgi: app:application', name);
    }
    if (kind === 'static' && !RELATIVE_DIR_PATTERN.test(command)) {
      return issue(`invalid static directory ${JSON.stringify(command)}`, schema.definitions.relativeDir.description, name);
    }
    if (HTTP_KINDS.includes(kind)) {
      if (httpName !== undefined) {
        return issue(
          `${name} and ${httpName} (line ${result.lines.get(httpName)}) both serve HTTP`,
          'an app has at most one web, wsgi or static process; run other servers as workers',
          name,
        );
      }
      httpName = name;
    }
    if (result.processes.length >= MAX_PROCESSES) {
      return issue(`more than ${MAX_PROCESSES} processes`, 'each is a process (or a cron run each minute) on the server; combine them, or scale one with hop3 scale', name);
    }
    result.lines.set(name, line);
    result.processes.push(proc);
  });
  return result;
}
