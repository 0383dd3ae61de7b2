import { Ajv, type ErrorObject } from 'ajv';
import { userError, type Hop3Error } from '../lib/errors.js';
import { appNameProblem, envEntryProblem, quoteValue } from '../manifest/index.js';

/** schemas/rpc.json: the params each JSON-RPC method accepts. */
export interface MethodSchemas {
  definitions: object;
  methods: Record<string, { params: object }>;
}

/** One thing wrong in a request's params, in plain words: which param, what is wrong, how to fix it. */
export interface ParamProblem {
  param: string;
  message: string;
  hint?: string;
}

/** Checks a method's params: null when they are valid, else a PARAMS_INVALID error naming each problem. */
export type ParamsCheck = (params: unknown) => Hop3Error | null;

type Problem = { message: string; hint?: string | undefined } | undefined;

/**
 * Params that use these definitions of rpc.json are explained by the validators hop3.toml and the
 * CLI use too, so a bad app name or variable name reads the same wherever it is refused.
 */
const BY_DEFINITION: Record<string, (value: unknown, param: string) => Problem> = {
  app: (v) => (typeof v === 'string' ? appNameProblem(v) : undefined),
  envKey: (v) => (typeof v === 'string' ? envEntryProblem(v, '') : undefined),
  // `values.KEY`: the key is what follows the first dot.
  envValue: (v, param) => (typeof v === 'string' ? envEntryProblem(param.slice(param.indexOf('.') + 1), v) : undefined),
};

/** The parts of a schema node that messages are built from. */
interface SchemaNode {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, SchemaNode>;
}

export function compileParamsChecks(schemas: MethodSchemas): Map<string, ParamsCheck> {
  // verbose: errors carry the offending value and their schema node, which the messages need.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  return new Map(
    Object.entries(schemas.methods).map(([method, m]) => {
      const validate = ajv.compile({ definitions: schemas.definitions, ...m.params });
      const check: ParamsCheck = (params) => {
        if (validate(params)) return null;
        const problems = paramProblems(method, validate.errors ?? []);
        const hints = [...new Set(problems.flatMap((p) => (p.hint ? [p.hint] : [])))];
        return userError('PARAMS_INVALID', `${method}: ${problems.map((p) => `${p.param}: ${p.message}`).join('; ')}`, {
          ...(hints.length > 0 && { hint: hints.join(' ') }),
          details: problems,
        });
      };
      return [method, check];
    }),
  );
}

/** Ajv's errors as one problem per param and message, in the order ajv found them. */
export function paramProblems(method: string, errors: ErrorObject[]): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const seen = new Set<string>();
  // The branches of an anyOf each report what they miss; the anyOf error says it once.
  const anyOfFailed = errors.some((e) => e.keyword === 'anyOf' && e.instancePath === '');
  for (const error of errors) {
    if (error.keyword === 'propertyNames') continue; // the nested error, which carries propertyName, says what is wrong
    if (anyOfFailed && error.schemaPath.startsWith('#/anyOf/')) continue;
    const problem = describe(method, error);
    const id = `${problem.param}\0${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(problem);
  }
  return problems;
}

/** `values`, `values.FOO`, `keys[0]` for ajv's `/values`, `/values/FOO`, `/keys/0`. */
function paramName(instancePath: string): string {
  let name = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    name += name === '' ? part : /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  return name;
}

function describe(method: string, error: ErrorObject): ParamProblem {
  const at = paramName(error.instancePath);
  const node = (error.parentSchema ?? {}) as SchemaNode;
  const params = error.params as Record<string, unknown>;
  // A bad key of an object (propertyNames) is about the key, not the object's value.
  const value = error.propertyName ?? error.data;
  const definition = /^#\/definitions\/([^/]+)\//.exec(error.schemaPath)?.[1];
  const known = definition === undefined || definition === 'appOnly' ? undefined : BY_DEFINITION[definition]?.(value, at);
  if (known) return { param: at || 'params', message: known.message, ...(known.hint !== undefined && { hint: known.hint }) };

  let param = at || 'params';
  let hint = node.description;
  let message: string;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      param = at ? `${at}.${missing}` : missing;
      message = 'is missing';
      hint = node.properties?.[missing]?.description;
      break;
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const allowed = Object.keys(node.properties ?? {});
      param = at ? `${at}.${extra}` : extra;
      message = at ? 'is not accepted here' : `is not a param of ${method}`;
      hint = allowed.length > 0 ? `${method} takes ${allowed.join(', ')}` : `${method} takes no params`;
      break;
    }
    case 'anyOf': {
      const branches = (error.schema as SchemaNode[]).map((b) => (b.required ?? []).join(' and '));
      message = `needs ${branches.join(', or ')}`;
      break;
    }
    case 'type': {
      const types = [params.type].flat().map(String).filter((t) => t !== 'null');
      message = `must be ${types.map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`)).join(' or ')}, not ${quoteValue(value)}`;
      break;
    }
    case 'minimum':
      message = `must be at least ${String(params.limit)}, not ${quoteValue(value)}`;
      break;
    case 'maximum':
      message = `must be at most ${String(params.limit)}, not ${quoteValue(value)}`;
      break;
    case 'enum':
      message = `must be one of ${(node.enum ?? []).map((v) => quoteValue(v)).join(', ')}, not ${quoteValue(value)}`;
      break;
    case 'pattern':
      if (error.propertyName !== undefined) param = `${param} key`;
      message = `${quoteValue(value)} is not a valid ${node.title ?? 'value here'}`;
      break;
    case 'minLength':
      message = 'must not be empty';
      break;
    case 'maxLength':
      message = `must be at most ${String(params.limit)} characters`;
      break;
    case 'minProperties':
      if (at === '') {
        const optional = Object.keys(node.properties ?? {}).filter((k) => !(node.required ?? []).includes(k));
        message = `needs at least one of ${optional.join(', ')}`;
      } else {
        message = `must have at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`;
      }
      break;
    case 'minItems':
      message = `must have at least ${String(params.limit)} entr${params.limit === 1 ? 'y' : 'ies'}`;
      break;
    case 'maxItems':
    case 'maxProperties':
      message = `must have at most ${String(params.limit)} entries`;
      break;
    default:
      message = error.message ?? `is not valid (${error.keyword})`;
  }
  return { param, message, ...(hint !== undefined && { hint }) };
}
