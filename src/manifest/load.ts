import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseToml, TomlError } from 'smol-toml';
import schema from '../../schemas/hop3-toml.schema.json' with { type: 'json' };
import { checkAppPaths, realpath } from '../lib/confine.js';
import { DEFAULT_WEB, detect, SELF_DESCRIBING_FILES, type BuilderName } from '../plugins/builders/detection.js';
import { Hop3Error, userError } from '../lib/errors.js';
import { ENV_MAX_KEYS } from './app-name.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_STATIC_MAX_AGE, DEFAULT_TLS, MAX_BODY_BYTES } from './defaults.js';
import { parseEnvFile, type ParsedEnvFile } from './env-file.js';
import { HTTP_KINDS, parseProcfile, WSGI_ENTRY_PATTERN, type ParsedProcfile } from './procfile.js';
import type { AddonSpec, AppSpec, ProcessSpec, SpecIssue, StaticPath, TlsSpec } from './types.js';


export interface SpecFiles {
  'hop3.toml'?: string;
  Procfile?: string;
  ENV?: string;
}

export interface SpecResult {
  spec: AppSpec | null;
  issues: SpecIssue[];
  /** The app directory, when the result came from loadAppDir. */
  dir?: string;
  /** The builder the app gets, when the result came from loadAppDir and is valid. */
  builder?: BuilderName;
}

export type { BuilderName } from '../plugins/builders/detection.js';

/** hop3.toml as the schema guarantees it once validation passed. */
interface HopToml {
  metadata?: { id?: string } & AppSpec['metadata'];
  build?: { builder?: AppSpec['build']['builder']; 'before-build'?: string[] };
  run?: { start?: string; 'before-run'?: string[]; workers?: number; static?: string; 'max-body-size'?: string };
  static?: { paths?: Record<string, string>; 'max-age'?: number };
  tls?: { mode?: TlsSpec['mode']; 'https-only'?: boolean; hsts?: boolean };
  env?: Record<string, string>;
  domains?: { names?: string[] };
  healthcheck?: { path?: string; timeout?: number; 'expect-status'?: number };
  addons?: Array<{ type: AddonSpec['type']; name?: string; env?: string }>;
}

/** The parts of a schema node that error messages are built from. */
interface SchemaNode {
  type?: string;
  title?: string;
  description?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, SchemaNode>;
}

const SPEC_FILES = ['hop3.toml', 'Procfile', 'ENV'] as const;
const MAX_FILE_BYTES = 1024 * 1024;

// verbose: errors carry their schema node, whose title/description/bounds make the messages.
const validateToml = new Ajv({ allErrors: true, strict: true, verbose: true }).compile<HopToml>(schema);

/** Parse and check an app's spec files; pure, so the server can validate pushed content before checkout. */
export function parseAppSpec(files: SpecFiles): SpecResult {
  if (files['hop3.toml'] === undefined && files.Procfile === undefined) {
    const markers = `${SELF_DESCRIBING_FILES.slice(0, -1).join(', ')} or ${SELF_DESCRIBING_FILES.at(-1)}`;
    const hint = `add a Procfile (e.g. "web: gunicorn app:app"), a hop3.toml with [run] start, or a ${markers} (see "Runtimes" in the README)`;
    return { spec: null, issues: [{ file: '.', message: `no hop3.toml or Procfile (nor a ${markers}, which say what to run)`, hint }] };
  }
  const issues: SpecIssue[] = [];
  const tomlText = files['hop3.toml'] ?? '';
  const toml = checkToml(tomlText, issues);
  const procfile = parseProcfile(files.Procfile ?? '');
  const envFile = parseEnvFile(files.ENV ?? '');
  issues.push(...procfile.issues, ...envFile.issues);
  if (toml === undefined || issues.length > 0) return { spec: null, issues };

  const spec = buildSpec(toml, procfile, envFile, tomlKeyLines(tomlText), issues);
  return { spec: issues.length > 0 ? null : spec, issues };
}

/**
 * Read and check an app directory: its spec files, and whether a builder can tell how to build
 * it from them and the files beside them, so that whatever passes here also passes the build's
 * choice of builder. A missing path or one that is not a directory is a user error.
 */
export function loadAppDir(dir: string): SpecResult & { dir: string } {
  const root = appRoot(dir);
  const files: SpecFiles = {};
  const issues: SpecIssue[] = [];
  for (const name of SPEC_FILES) {
    const text = readSpecFile(root, name, issues);
    if (text !== undefined) files[name] = text;
  }
  // A file we refused to read would only cause misleading follow-up issues.
  if (issues.length > 0) return { spec: null, issues, dir };
  const fileExists = (rel: string) => existsSync(join(root, rel));
  // package.json, go.mod, config.ru, index.php or index.html describe the app well enough on their own.
  const bare = files['hop3.toml'] === undefined && files.Procfile === undefined && SELF_DESCRIBING_FILES.some(fileExists);
  const result = parseAppSpec(bare ? { ...files, 'hop3.toml': '' } : files);
  if (!result.spec) return { ...result, dir };
  const builder = chooseBuilder(result.spec, fileExists);
  if (builder === null) return { spec: null, issues: [BUILDER_UNKNOWN_ISSUE], dir };
  const spec = withDefaultWeb(result.spec, builder);
  // What the daemon refuses at upload, `hop3 validate` refuses too.
  try {
    checkAppPaths(root, spec);
  } catch (err) {
    if (!(err instanceof Hop3Error) || err.category !== 'user') throw err;
    return { spec: null, issues: [{ file: '.', message: err.message, ...(err.hint !== undefined && { hint: err.hint }) }], dir };
  }
  return { ...result, spec, dir, builder };
}

/** An app with no HTTP process gets its runtime's obvious one (`npm start`, the Go binary). */
function withDefaultWeb(spec: AppSpec, builder: BuilderName): AppSpec {
  const command = DEFAULT_WEB[builder];
  if (command === undefined || spec.processes.some((p) => HTTP_KINDS.includes(p.kind))) return spec;
  return { ...spec, processes: [{ name: 'web', kind: 'web', command }, ...spec.processes] };
}

/** The real path of an app directory; a user error naming the path when there is none. */
function appRoot(dir: string): string {
  let root: string;
  try {
    root = realpath(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw userError('APP_DIR_NOT_FOUND', `${dir} does not exist`, { hint: 'give the path of the app directory, the one with hop3.toml or Procfile' });
    }
    if (code === 'EACCES') throw userError('APP_DIR_UNREADABLE', `cannot read ${dir}: permission denied`, { hint: 'run as a user who can read the app directory' });
    throw err;
  }
  if (!statSync(root).isDirectory()) {
    throw userError('APP_DIR_NOT_DIRECTORY', `${dir} is not a directory`, { hint: 'give the path of the app directory, the one with hop3.toml or Procfile' });
  }
  return root;
}

export function assertValidSpec(result: SpecResult): AppSpec {
  if (result.spec && result.issues.length === 0) return result.spec;
  const n = result.issues.length;
  throw userError('SPEC_INVALID', `${n} problem${n === 1 ? '' : 's'} in ${result.dir ?? 'the app'}`, {
    details: result.issues,
    hint: result.issues.map(formatIssue).join('\n'),
  });
}

/** `hop3.toml:12: run.workers: must be ... (hint: ...)` */
export function formatIssue(issue: SpecIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  const key = issue.key === undefined ? '' : `${issue.key}: `;
  const hint = issue.hint === undefined ? '' : ` (hint: ${issue.hint})`;
  return `${where}: ${key}${issue.message}${hint}`;
}

const BUILDER_UNKNOWN = {
  message: 'cannot tell how to build this app',
  hint: 'add a package.json (Node), a go.mod (Go), a Cargo.toml (Rust), a requirements.txt (Python), a Gemfile or config.ru (Ruby), a composer.json or index.php (PHP) or an index.html (static site), a Procfile with a web or worker process, or set [build] builder in hop3.toml',
};
const BUILDER_UNKNOWN_ISSUE: SpecIssue = { file: '.', ...BUILDER_UNKNOWN };

/**
 * The builder an app gets: the one `[build] builder` names, else the first row of the detection
 * table (src/plugins/builders/detection.ts) that its processes and files match; null when none
 * does. Pure: `fileExists` answers for paths relative to the app.
 */
export function chooseBuilder(spec: AppSpec, fileExists: (rel: string) => boolean): BuilderName | null {
  return detect(spec, fileExists);
}

/** chooseBuilder for the build itself: BUILDER_UNKNOWN, with loadAppDir's message and hint, when nothing tells. */
export function detectBuilder(spec: AppSpec, fileExists: (rel: string) => boolean): BuilderName {
  const builder = chooseBuilder(spec, fileExists);
  if (builder === null) throw userError('BUILDER_UNKNOWN', BUILDER_UNKNOWN.message, { hint: BUILDER_UNKNOWN.hint });
  return builder;
}

function readSpecFile(root: string, name: string, issues: SpecIssue[]): string | undefined {
  const path = join(root, name);
  try {
    lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const refuse = (message: string, hint: string) => void issues.push({ file: name, message, hint });
  let real: string;
  try {
    real = realpath(path);
  } catch {
    return refuse('is a broken symlink', `commit ${name} itself rather than a link`);
  }
  // The app's owner controls these files; a link must not let them make hop3 read e.g. /etc/shadow.
  const rel = relative(root, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return refuse('is a symlink pointing outside the app', `commit ${name} itself rather than a link`);
  }
  const stat = statSync(real);
  if (!stat.isFile()) return refuse('is not a regular file', `${name} must be a text file`);
  if (stat.size > MAX_FILE_BYTES) return refuse('is larger than 1 MiB', `keep ${name} short; large data belongs in the app`);
  return readFileSync(real, 'utf8');
}

/** Parse and validate hop3.toml, pushing issues; the typed content when it is valid. */
function checkToml(text: string, issues: SpecIssue[]): HopToml | undefined {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const message = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, 'invalid TOML: ');
    issues.push({ file: 'hop3.toml', line: err.line, message, hint: 'see https://toml.io for the syntax' });
    return undefined;
  }
  if (validateToml(data)) return data;

  const lines = tomlKeyLines(text);
  const found: SpecIssue[] = [];
  const seen = new Set<string>();
  for (const error of validateToml.errors ?? []) {
    const issue = toIssue(error, data, lines);
    // allErrors can report one bad value twice (e.g. 0.5 breaks both type and minimum).
    const id = `${issue?.key}\0${issue?.message}`;
    if (!issue || seen.has(id)) continue;
    seen.add(id);
    found.push(issue);
  }
  // Ajv reports in schema order; users read the file top to bottom.
  issues.push(...found.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER)));
  return undefined;
}

function toIssue(error: ErrorObject, data: unknown, lines: Map<string, number>): SpecIssue | undefined {
  const at = keyPath(error.instancePath, data);
  const child = (name: string) => (at === '' ? name : `${at}.${name}`);
  const node = (error.parentSchema ?? {}) as SchemaNode;
  const params = error.params as Record<string, unknown>;
  let key = at;
  let hint = node.description;
  let message: string;

  switch (error.keyword) {
    case 'propertyNames':
      return undefined; // the nested error, which carries propertyName, says what is wrong
    case 'additionalProperties': {
      const unknown = String(params.additionalProperty);
      const allowed = Object.keys(node.properties ?? {});
      const guess = closest(unknown, allowed);
      key = child(unknown);
      message = at === '' ? `unknown section [${unknown}]` : `unknown key "${unknown}" in [${at}]`;
      hint = `${guess ? `did you mean "${guess}"? ` : ''}${at === '' ? 'sections are' : `[${at}] accepts`}: ${allowed.join(', ')}`;
      break;
    }
    case 'required': {
      const missing = String(params.missingProperty);
      key = child(missing);
      message = 'is required';
      hint = node.properties?.[missing]?.description;
      break;
    }
    case 'pattern':
      if (error.propertyName !== undefined) key = child(error.propertyName);
      message = `${show(error.propertyName ?? error.data)} is not a valid ${node.title}`;
      break;
    case 'uniqueItems':
      key = `${at}[${String(params.i)}]`;
      message = `${show((error.data as unknown[])[Number(params.i)])} is listed twice`;
      break;
    case 'minLength':
      message = 'must not be empty';
      break;
    case 'maxLength':
      if (error.propertyName !== undefined) key = child(error.propertyName);
      message = `must be at most ${String(params.limit)} characters`;
      break;
    case 'maxItems':
      message = `must have at most ${String(params.limit)} entries`;
      break;
    case 'maxProperties':
      message = `must have at most ${String(params.limit)} keys`;
      break;
    default: // type, enum, minimum, maximum: say what is expected as a whole
      message = `must be ${expected(node)}`;
      if (error.keyword === 'type' && at.startsWith('env.')) {
        hint = `environment values are strings; quote it: ${at.slice(4)} = ${JSON.stringify(String(error.data))}`;
      }
  }
  const line = lineOf(key, lines);
  return { file: 'hop3.toml', key, ...(line !== undefined && { line }), message, ...(hint !== undefined && { hint }) };
}

function expected(node: SchemaNode): string {
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if (node.type === 'integer' && node.minimum !== undefined && node.maximum !== undefined) {
    return `an integer between ${node.minimum} and ${node.maximum}`;
  }
  const names: Record<string, string> = { string: 'a string', integer: 'an integer', array: 'an array', object: 'a table', boolean: 'true or false' };
  return names[node.type ?? ''] ?? String(node.type);
}

/** A value for a message: quoted, escaped (no raw newlines or NULs) and cut short. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** JSON pointer `/addons/0/type` to the key path users see, `addons[0].type`. */
function keyPath(pointer: string, data: unknown): string {
  let path = '';
  let node = data;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path += Array.isArray(node) ? `[${segment}]` : path === '' ? segment : `.${segment}`;
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
  }
  return path;
}

/** Suggest an allowed key only when the unknown one is an obvious typo of it. */
function closest(unknown: string, allowed: string[]): string | undefined {
  const limit = unknown.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of allowed) {
    const d = editDistance(unknown.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Levenshtein distance where swapping two adjacent letters (strat/start) costs one. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

const TOML_KEY_PART = /[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'/g;
const TOML_HEADER = /^\s*(\[\[?)([^\]]+)\]/;
const TOML_KEY = /^\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=/;

/**
 * Line of each table header and key, by key path (`run.workers`, `addons[1].type`).
 * A line scanner rather than a second parser: good enough to point at the line, and it
 * only has to handle documents smol-toml already accepted.
 */
function tomlKeyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  const record = (path: string, line: number) => {
    if (!lines.has(path)) lines.set(path, line);
  };
  const dotted = (key: string) => (key.match(TOML_KEY_PART) ?? []).map((p) => (/^["']/.test(p) ? p.slice(1, -1) : p)).join('.');
  let section = '';
  let inMultilineString = false;

  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const opensOrCloses = (raw.match(/"""|'''/g)?.length ?? 0) % 2 === 1;
    if (inMultilineString) {
      inMultilineString = !opensOrCloses;
      return;
    }
    inMultilineString = opensOrCloses;
    const header = TOML_HEADER.exec(raw);
    if (header) {
      const name = dotted(header[2]!);
      if (header[1] === '[[') {
        const n = arrayCounts.get(name) ?? 0;
        arrayCounts.set(name, n + 1);
        section = `${name}[${n}]`;
      } else {
        section = name;
      }
      record(section, line);
      return;
    }
    const key = TOML_KEY.exec(raw);
    if (key) record(section === '' ? dotted(key[1]!) : `${section}.${dotted(key[1]!)}`, line);
  });
  return lines;
}

/** The line of a key, or of the nearest enclosing table when the key itself is not on its own line. */
function lineOf(key: string, lines: Map<string, number>): number | undefined {
  let path = key;
  while (path !== '') {
    const line = lines.get(path);
    if (line !== undefined) return line;
    const parent = path.replace(/(\[\d+\]|\.[^.[\]]*|^[^.[\]]*)$/, '');
    if (parent === path) return undefined;
    path = parent;
  }
  return undefined;
}

/** `10m` → bytes; k, m, g are binary units as in nginx. The schema has checked the form. */
function parseSize(text: string): number {
  const units: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  const unit = units[text.slice(-1).toLowerCase()];
  return unit === undefined ? Number(text) : Number(text.slice(0, -1)) * unit;
}

/** `public/static/` and `./public//static` name one directory; the proxy config gets one spelling. */
function normalizeDir(dir: string): string {
  const parts = dir.split('/').filter((p) => p !== '' && p !== '.');
  return parts.length === 0 ? '.' : parts.join('/');
}

function buildSpec(
  toml: HopToml,
  procfile: ParsedProcfile,
  envFile: ParsedEnvFile,
  lines: Map<string, number>,
  issues: SpecIssue[],
): AppSpec {
  const run = toml.run ?? {};
  const tomlIssue = (key: string, message: string, hint: string) => {
    const line = lineOf(key, lines);
    issues.push({ file: 'hop3.toml', key, ...(line !== undefined && { line }), message, hint });
  };

  const fromToml: ProcessSpec[] = [];
  if (run.start !== undefined) {
    const kind = WSGI_ENTRY_PATTERN.test(run.start) ? 'wsgi' : 'web';
    fromToml.push({ name: kind, kind, command: run.start });
  }
  if (run.static !== undefined) fromToml.push({ name: 'static', kind: 'static', command: run.static });
  if (fromToml.length > 1) {
    tomlIssue('run.static', '[run] start and [run] static both serve HTTP', 'keep only one of them');
  }
  const procfileHttp = procfile.processes.find((p) => HTTP_KINDS.includes(p.kind));
  if (fromToml.length > 0 && procfileHttp) {
    const key = run.start !== undefined ? 'run.start' : 'run.static';
    tomlIssue(
      key,
      `[${key.replace('.', '] ')} and Procfile "${procfileHttp.name}" (line ${procfile.lines.get(procfileHttp.name)}) both serve HTTP`,
      'define the HTTP process in only one of hop3.toml and Procfile',
    );
  }

  // A Map, not an object, so a key like __proto__ cannot reach a prototype.
  const env = new Map([...Object.entries(toml.env ?? {}), ...envFile.env]);
  if (env.size > ENV_MAX_KEYS) {
    issues.push({ file: 'ENV', message: `more than ${ENV_MAX_KEYS} environment variables`, hint: 'keep large configuration in a file' });
  }

  const addons: AddonSpec[] = [];
  (toml.addons ?? []).forEach((addon, i) => {
    const name = addon.name ?? addon.type;
    if (addons.some((a) => a.name === name)) {
      tomlIssue(`addons[${i}].name`, `addon name "${name}" is used twice`, 'give each addon its own name = "..."');
    }
    addons.push({ type: addon.type, name, ...(addon.env === undefined ? {} : { env: addon.env }) });
  });

  const maxBodyBytes = run['max-body-size'] === undefined ? DEFAULT_MAX_BODY_BYTES : parseSize(run['max-body-size']);
  if (maxBodyBytes > MAX_BODY_BYTES) {
    tomlIssue('run.max-body-size', `${show(run['max-body-size'])} is more than 4g`, 'use a size of at most "4g"');
  }

  const staticPaths: Array<StaticPath & { key: string }> = [];
  for (const [key, dir] of Object.entries(toml.static?.paths ?? {})) {
    const prefix = key.endsWith('/') ? key : `${key}/`;
    const twin = staticPaths.find((p) => p.prefix === prefix);
    if (twin) tomlIssue(`static.paths.${key}`, `${show(key)} is the same prefix as ${show(twin.key)}`, 'keep only one of them');
    staticPaths.push({ prefix, dir: normalizeDir(dir), key });
  }

  const tls: TlsSpec = { mode: toml.tls?.mode ?? DEFAULT_TLS.mode, httpsOnly: toml.tls?.['https-only'] ?? DEFAULT_TLS.httpsOnly, hsts: toml.tls?.hsts ?? DEFAULT_TLS.hsts };
  if (tls.mode === 'off') {
    for (const [key, on] of [['https-only', tls.httpsOnly], ['hsts', tls.hsts]] as const) {
      if (on) tomlIssue(`tls.${key}`, `needs HTTPS, but [tls] mode is "off"`, `remove ${key}, or set mode = "auto"`);
    }
  }

  const { id, ...metadata } = toml.metadata ?? {};
  const health = toml.healthcheck ?? {};
  return {
    name: id ?? null,
    metadata,
    build: { builder: toml.build?.builder ?? 'auto', before: toml.build?.['before-build'] ?? [] },
    run: { workers: run.workers ?? 2, beforeRun: [...(run['before-run'] ?? []), ...procfile.release], maxBodyBytes },
    static: { paths: staticPaths.map(({ prefix, dir }) => ({ prefix, dir })), maxAge: toml.static?.['max-age'] ?? DEFAULT_STATIC_MAX_AGE },
    tls,
    processes: [...fromToml, ...procfile.processes],
    env: Object.fromEntries(env),
    domains: toml.domains?.names ?? [],
    healthcheck: { path: health.path ?? '/', timeout: health.timeout ?? null, expectStatus: health['expect-status'] ?? 200 },
    addons,
  };
}
