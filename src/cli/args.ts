import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TrajforgeError } from '../core/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined> & Record<string, string | undefined>;
  positionals: string[];
}

/** node:util parseArgs with usage errors turned into E_USAGE. String-valued options read as strings. */
export function parse(args: string[], options: Options, usage: string): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (e) {
    throw new TrajforgeError('E_USAGE', `${(e as Error).message}\nusage: ${usage}`);
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new TrajforgeError('E_USAGE', `--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TrajforgeError('E_USAGE', `--${name} must be a number, got '${value}'`);
  return n;
}
