/**
 * Whether a Node.js version satisfies a package.json `engines.node` range. A documented subset of
 * npm's semver ranges (hop3 has no semver dependency of its own): `||` alternatives of
 * space-separated comparators `>=`, `>`, `<=`, `<`, `=` or none, with partial versions (`18`,
 * `18.2`) and `x`/`*` wildcards; caret `^`, tilde `~` and hyphen `A - B` ranges. Prerelease tags
 * are not compared. A range outside the subset is reported, never guessed.
 */
type Version = [number, number, number];

/** A comparator `op` against a version; `null` parts were left out or wildcards. */
interface Partial3 { parts: Array<number | null> }

const PART = /^(?:0|[1-9]\d*|x|X|\*)$/;

export class RangeSyntaxError extends Error {}

function parsePartial(text: string): Partial3 {
  const core = text.replace(/^v/, '').replace(/[-+].*$/, '');
  const raw = core.split('.');
  if (core === '' || raw.length > 3 || !raw.every((p) => PART.test(p))) throw new RangeSyntaxError(`"${text}" is not a version`);
  const parts = raw.map((p) => (/^\d+$/.test(p) ? Number(p) : null));
  // `1.x.3` means 1.x: nothing after a wildcard counts.
  const firstWild = parts.indexOf(null);
  return { parts: firstWild === -1 ? parts : parts.slice(0, firstWild) };
}

export function parseVersion(text: string): Version {
  const { parts } = parsePartial(text.trim());
  if (parts.length !== 3) throw new RangeSyntaxError(`"${text}" is not a full version`);
  return parts as Version;
}

const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
const fill = (parts: Array<number | null>): Version => [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
/** The first version above every version the partial one names: `1.2` → 1.3.0. */
function nextAfter(parts: Array<number | null>): Version {
  const n = parts.length;
  if (n === 1) return [parts[0]! + 1, 0, 0];
  if (n === 2) return [parts[0]!, parts[1]! + 1, 0];
  return [parts[0]!, parts[1]!, parts[2]! + 1];
}

type Test = (v: Version) => boolean;

function comparator(token: string): Test {
  const m = /^(>=|<=|>|<|=|\^|~>?|)(.*)$/.exec(token)!;
  const op = m[1]!;
  const { parts } = parsePartial(m[2]!);
  if (parts.length === 0) return op === '<' || op === '>' ? () => false : () => true; // `*`, `x`, `>=*`
  const low = fill(parts);
  const high = nextAfter(parts);
  switch (op) {
    case '':
    case '=':
      return (v) => cmp(v, low) >= 0 && cmp(v, high) < 0;
    case '>=':
      return (v) => cmp(v, low) >= 0;
    case '>':
      return (v) => cmp(v, high) >= 0;
    case '<':
      return (v) => cmp(v, low) < 0;
    case '<=':
      return (v) => cmp(v, high) < 0;
    case '~':
    case '~>':
      return (v) => cmp(v, low) >= 0 && cmp(v, parts.length === 1 ? [low[0] + 1, 0, 0] : [low[0], low[1] + 1, 0]) < 0;
    default: { // ^: up to the next change of the first non-zero part given
      const upper: Version = low[0] > 0 || parts.length === 1 ? [low[0] + 1, 0, 0]
        : low[1] > 0 || parts.length === 2 ? [0, low[1] + 1, 0] : [0, 0, low[2] + 1];
      return (v) => cmp(v, low) >= 0 && cmp(v, upper) < 0;
    }
  }
}

function alternative(text: string): Test {
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
  if (hyphen) {
    const from = comparator(`>=${hyphen[1]}`);
    const to = comparator(`<=${hyphen[2]}`);
    return (v) => from(v) && to(v);
  }
  // `>= 18` is written with a space as often as without.
  const tokens = text.replace(/(>=|<=|>|<|=|\^|~>?)\s+/g, '$1').split(/\s+/).filter((t) => t !== '');
  const tests = tokens.map(comparator);
  return (v) => tests.every((t) => t(v));
}

/** Whether `version` (e.g. "20.20.2" or "v20.20.2") is in `range`; RangeSyntaxError outside the subset. */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  const alternatives = range.trim() === '' ? [''] : range.split('||').map((a) => a.trim());
  return alternatives.some((a) => alternative(a)(v));
}
