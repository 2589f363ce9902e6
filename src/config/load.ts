import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { applyOverrides } from './overrides.js';
import { TrajforgeError, isTrajforgeError } from '../core/errors.js';
import { closest } from '../core/registry.js';
import { describeValue, resolveExtends, validateEnvConfig, type RawDocument, type ResolvedEnv } from './parse.js';

/**
 * The only module in src/config that touches the file system: finds environment files, parses
 * YAML/JSON with line numbers in errors, and hands plain documents to the pure pipeline.
 */

/** The shipped environments folder (package root / environments), from src/ or dist/. */
export const BUILTIN_ENV_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'environments');

export function envDirs(): string[] {
  const extra = process.env.TRAJFORGE_ENV_PATH?.split(':').filter(Boolean) ?? [];
  return [...extra.map((d) => resolve(d)), BUILTIN_ENV_DIR];
}

export interface EnvEntry {
  id: string;
  file: string;
  description: string;
  /** Files of the same id later in the search path, which this one hides (a user's override of a shipped environment). */
  shadows?: string[];
}

const ENV_FILE = /\.(ya?ml|json)$/i;

/** An environment file on the search path that cannot be listed, and why. */
export interface EnvProblem {
  file: string;
  reason: string;
}

/**
 * Every environment file in the search path, keyed by its declared id, plus the files that
 * cannot be read: one broken file (a stray YAML on TRAJFORGE_ENV_PATH) must not hide the others.
 */
export function scanEnvironments(dirs = envDirs()): { entries: EnvEntry[]; problems: EnvProblem[] } {
  const entries: EnvEntry[] = [];
  const problems: EnvProblem[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      problems.push({ file: dir, reason: `cannot list this search-path entry (${(e as Error).message}); TRAJFORGE_ENV_PATH takes folders separated by ':'` });
      continue;
    }
    for (const name of names) {
      if (!ENV_FILE.test(name)) continue;
      const file = join(dir, name);
      let doc: RawDocument;
      try {
        doc = readRawDocument(file);
      } catch (e) {
        if (!isTrajforgeError(e)) throw e;
        problems.push({ file, reason: e.message });
        continue;
      }
      const data = doc.data as { id?: unknown; description?: unknown } | null;
      if (typeof data?.id !== 'string') {
        problems.push({ file, reason: `${file}: no string \`id\` at the top level (found ${describeValue(data?.id)}); every environment file declares one, e.g. \`id: MyEnv-v1\`` });
        continue;
      }
      // Earlier folders shadow later ones (TRAJFORGE_ENV_PATH before the shipped set); `envs` says so.
      const first = entries.find((e) => e.id === data.id);
      if (first) {
        first.shadows = [...(first.shadows ?? []), file];
        continue;
      }
      entries.push({ id: data.id, file, description: typeof data.description === 'string' ? data.description : '' });
    }
  }
  return { entries, problems };
}

/** Every readable environment file in the search path, keyed by its declared id (see scanEnvironments for the unreadable ones). */
export function listEnvironments(dirs = envDirs()): EnvEntry[] {
  return scanEnvironments(dirs).entries;
}

export function readRawDocument(file: string): RawDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrajforgeError('E_CONFIG_NOT_FOUND', `cannot read environment file ${file}: ${(e as Error).message}`, { file });
  }
  return { source: file, data: parseText(text, file) };
}

/** YAML is a superset of JSON, so one parser serves both; duplicate keys are errors. */
export function parseText(text: string, source: string): unknown {
  try {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      const pos = first.linePos?.[0];
      const where = pos ? `:${pos.line}:${pos.col}` : '';
      throw new TrajforgeError('E_CONFIG_PARSE', `${source}${where}: cannot parse: ${first.message.split('\n')[0]}`, { file: source });
    }
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    if (isTrajforgeError(e)) throw e;
    // The parser's own limits (alias expansion, nesting deep enough to exhaust the stack) end here.
    throw new TrajforgeError('E_CONFIG_PARSE', `${source}: cannot parse: ${(e as Error).message.split('\n')[0]}; simplify the document (fewer aliases, less nesting)`, { file: source });
  }
}

function looksLikePath(ref: string): boolean {
  return ENV_FILE.test(ref) || ref.includes('/') || ref.startsWith('.');
}

/** Finds a raw document by environment id or path (relative paths resolve against `baseDir`). */
export function findRawDocument(ref: string, baseDir = process.cwd(), dirs = envDirs()): RawDocument {
  if (looksLikePath(ref)) {
    const file = isAbsolute(ref) ? ref : resolve(baseDir, ref);
    if (!existsSync(file)) throw new TrajforgeError('E_CONFIG_NOT_FOUND', `environment file not found: ${file}`, { file });
    return readRawDocument(file);
  }
  const { entries, problems } = scanEnvironments(dirs);
  const entry = entries.find((e) => e.id === ref);
  if (!entry) {
    const ids = entries.map((e) => e.id);
    const skipped = problems.length > 0 ? ` (${problems.length} environment file(s) could not be read: ${problems.map((p) => p.file).join(', ')}; \`trajforge envs\` says why)` : '';
    throw new TrajforgeError('E_ENV_NOT_FOUND', `unknown environment '${ref}'; closest known: ${closest(ref, ids).join(', ')}. Run \`trajforge envs\` for the list.${skipped}`);
  }
  return readRawDocument(entry.file);
}

/**
 * Load, merge `extends`, apply command-line `overrides` (`--set PATH=VALUE`, see overrides.ts),
 * validate: the one call every command uses to get an environment.
 */
export function loadEnv(ref: string, opts: { baseDir?: string; dirs?: string[]; overrides?: readonly string[] } = {}): ResolvedEnv {
  const dirs = opts.dirs ?? envDirs();
  const doc = findRawDocument(ref, opts.baseDir, dirs);
  const { data, chain } = resolveExtends(doc, (r, from) => {
    try {
      return findRawDocument(r, dirname(from.source), dirs);
    } catch (e) {
      // The parent is missing: the file to fix is the one holding the `extends`, so name it.
      if (isTrajforgeError(e) && (e.code === 'E_ENV_NOT_FOUND' || e.code === 'E_CONFIG_NOT_FOUND')) {
        // Its own id names no other environment: a file can extend a shipped one of the same id, not itself.
        const own = r === (from.data as { id?: unknown } | null)?.id ? `'${r}' is this file's own id, and no other environment has it (an environment cannot extend itself); ` : '';
        throw new TrajforgeError(e.code, `${from.source}: extends: ${own}${e.message}`, { file: from.source, issues: [{ path: 'extends', expected: 'a known environment id or an existing file', found: JSON.stringify(r) }] });
      }
      throw e;
    }
  });
  if (!opts.overrides?.length) return validateEnvConfig(data, doc.source, chain);
  // Errors then name the document and the overrides, whose values may be what is wrong.
  const source = `${doc.source} with --set ${opts.overrides.join(' --set ')}`;
  return validateEnvConfig(applyOverrides(data, opts.overrides, doc.source), source, chain);
}
