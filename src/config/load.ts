import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { TrajforgeError } from '../core/errors.js';
import { closest } from '../core/registry.js';
import { resolveExtends, validateEnvConfig, type RawDocument, type ResolvedEnv } from './parse.js';

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
}

const ENV_FILE = /\.(ya?ml|json)$/i;

/** Every environment file in the search path, keyed by its declared id. */
export function listEnvironments(dirs = envDirs()): EnvEntry[] {
  const out: EnvEntry[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (!ENV_FILE.test(name)) continue;
      const file = join(dir, name);
      const doc = readRawDocument(file);
      const data = doc.data as { id?: unknown; description?: unknown };
      if (typeof data?.id !== 'string' || seen.has(data.id)) continue;
      seen.add(data.id);
      out.push({ id: data.id, file, description: typeof data.description === 'string' ? data.description : '' });
    }
  }
  return out;
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
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    const where = pos ? `:${pos.line}:${pos.col}` : '';
    throw new TrajforgeError('E_CONFIG_PARSE', `${source}${where}: cannot parse: ${first.message.split('\n')[0]}`, { file: source });
  }
  return doc.toJS({ maxAliasCount: 100 });
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
  const entries = listEnvironments(dirs);
  const entry = entries.find((e) => e.id === ref);
  if (!entry) {
    const ids = entries.map((e) => e.id);
    throw new TrajforgeError('E_ENV_NOT_FOUND', `unknown environment '${ref}'; closest known: ${closest(ref, ids).join(', ')}. Run \`trajforge envs\` for the list.`);
  }
  return readRawDocument(entry.file);
}

/** Load, merge `extends`, validate: the one call every command uses to get an environment. */
export function loadEnv(ref: string, opts: { baseDir?: string; dirs?: string[] } = {}): ResolvedEnv {
  const dirs = opts.dirs ?? envDirs();
  const doc = findRawDocument(ref, opts.baseDir, dirs);
  const { data, chain } = resolveExtends(doc, (r, from) => findRawDocument(r, dirname(from.source), dirs));
  return validateEnvConfig(data, doc.source, chain);
}
