import { InvalidArgumentError } from 'commander';

/**
 * A commander parser for an option that takes a whole number from `min` to `max`: anything else
 * (`abc`, `0`, `-5`, `1.5`, `1e3`) stops the command before it sends anything, saying what is expected.
 */
export function wholeNumber(min: number, max: number, unit = ''): (value: string) => number {
  return (value) => {
    const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
    if (!(n >= min && n <= max)) {
      throw new InvalidArgumentError(`It must be a whole number${unit && ` of ${unit}`} from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A usage error (bad option or argument) as `--json` prints errors. */
export function usageErrorJson(commanderMessage: string): string {
  const message = commanderMessage.trim().replace(/^error: /, '');
  return JSON.stringify({ error: { code: 'USAGE', category: 'user', message, hint: 'see `hop3 help COMMAND`' } }, null, 2);
}
