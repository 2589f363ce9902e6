import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TrajforgeError } from '../core/errors.js';
import { closest, levenshtein } from '../core/registry.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined> & Record<string, string | undefined>;
  positionals: string[];
}

/**
 * node:util parseArgs with usage errors turned into E_USAGE in the CLI's words: an unknown option
 * names the closest known ones, a missing value says which. String-valued options read as strings.
 */
export function parse(args: string[], options: Options, usage: string): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (e) {
    throw new TrajforgeError('E_USAGE', `${optionError(e as Error & { code?: string }, options)}\nusage: ${usage}`);
  }
}

function optionError(e: Error & { code?: string }, options: Options): string {
  const unknown = /^Unknown option '(-{1,2})([^']+)'/.exec(e.message);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    const known = Object.keys(options);
    const [best] = closest(unknown[2]!, known, 1);
    const near = best !== undefined && levenshtein(unknown[2]!.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(best.length / 3));
    return `unknown option '${unknown[1]}${unknown[2]}'${near ? `; did you mean '--${best}'?` : ''} (options: ${known.map((k) => `--${k}`).join(', ')})`;
  }
  const missing = /^Option '(--[^ ']+)(?: <value>)?' argument missing/.exec(e.message);
  if (missing) return `${missing[1]} needs a value (${missing[1]} VALUE)`;
  const noValue = /^Option '(--[^']+)' does not take an argument/.exec(e.message);
  if (noValue) return `${noValue[1]} is a switch and takes no value`;
  return e.message;
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  // Decimal digits (an exponent allowed: 1e6), nothing else: Number() also reads ' 3', '0x10' and
  // '0b11', and past 2^53 it rounds silently (a seed would name another run).
  const n = /^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min) throw new TrajforgeError('E_USAGE', `--${name} must be an integer >= ${min}, got '${value}'`);
  if (!Number.isSafeInteger(n)) throw new TrajforgeError('E_USAGE', `--${name} must be at most ${Number.MAX_SAFE_INTEGER}, got '${value}'`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TrajforgeError('E_USAGE', `--${name} must be a number, got '${value}'`);
  return n;
}

/** The `--set PATH=VALUE` option every command that loads an environment takes (repeatable). */
export const SET_OPTION = { set: { type: 'string', multiple: true } } as const;
export const SET_USAGE = '[--set PATH=VALUE ... (override the environment file, e.g. world.timestep=0.005, cameras[top].resolution=[128,128])]';

/** The `--set` values given, in order. */
export function overridesOf(values: ParsedArgs['values']): string[] {
  const v = (values as Record<string, unknown>).set;
  return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
}
