import { envEntryProblem } from './app-name.js';
import type { SpecIssue } from './types.js';

export interface ParsedEnvFile {
  /** Entries in file order; a later line for the same key wins, as in a shell. */
  env: Map<string, string>;
  /** Line number of each key's last definition. */
  lines: Map<string, number>;
  issues: SpecIssue[];
}

const LINE = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/;
const DOUBLE_ESCAPES: Record<string, string> = { n: '\n', '"': '"', '\\': '\\' };

/**
 * Parse `KEY=VALUE` lines. Unquoted values are taken literally (trimmed, `#` included);
 * 'single' quotes are literal; "double" quotes understand \n, \" and \\.
 */
export function parseEnvFile(text: string): ParsedEnvFile {
  const result: ParsedEnvFile = { env: new Map(), lines: new Map(), issues: [] };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const match = LINE.exec(trimmed);
    if (!match) {
      result.issues.push({ file: 'ENV', line, message: 'expected KEY=VALUE', hint: 'e.g. DATABASE_URL=postgres://db/app' });
      return;
    }
    const key = match[1]!;
    const value = unquote(match[2]!);
    const problem =
      value === undefined
        ? { message: `badly quoted value for ${key}`, hint: 'end the value with its opening quote; use \\n for a newline' }
        : envEntryProblem(key, value);
    if (problem) {
      result.issues.push({ file: 'ENV', key, line, ...problem });
      return;
    }
    result.env.set(key, value!);
    result.lines.set(key, line);
  });
  return result;
}

/** The value with its quotes removed, or undefined when the quoting is broken. */
function unquote(text: string): string | undefined {
  const quote = text[0];
  if (quote === "'") {
    const end = text.indexOf("'", 1);
    return end > 0 && text.slice(end + 1).trim() === '' ? text.slice(1, end) : undefined;
  }
  if (quote !== '"') return text;
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return text.slice(i + 1).trim() === '' ? out : undefined;
    if (c === '\\' && i + 1 < text.length) {
      const next = text[++i]!;
      // Unknown escapes stay as written, like a shell's double quotes do.
      out += DOUBLE_ESCAPES[next] ?? `\\${next}`;
    } else {
      out += c;
    }
  }
  return undefined;
}
