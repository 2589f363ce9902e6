import { z } from 'zod';
import { TrajforgeError, type ConfigIssue } from '../core/errors.js';
import { canonicalJson, sha256Hex } from '../core/hash.js';
import { closest } from '../core/registry.js';
import { EnvConfigSchema, type EnvConfig } from './schema.js';
import { formatPath, semanticIssues } from './semantics.js';
import { isPlainObject } from '../core/json.js';

/**
 * Pure config pipeline: raw documents -> merged (extends) -> zod-validated -> cross-checked.
 * File access is injected (see load.ts), so this runs unchanged in workers and browsers.
 */
export interface RawDocument {
  /** Where the document came from, for messages (a path or an id). */
  source: string;
  data: unknown;
}

export interface ResolvedEnv {
  config: EnvConfig;
  /** sha256 of the canonical JSON of the validated config (defaults filled, extends resolved). */
  hash: string;
  source: string;
}

/**
 * Merge `override` onto `base` the way Kustomize merges: objects recursively, arrays of objects
 * that all carry a `name` by name (so a child can tweak one body), other arrays replaced whole.
 * `{name: x, remove: true}` in a named list drops that entry, and a key set to null drops the
 * inherited value (as in JSON Merge Patch), e.g. `expert: null` in a child whose actions the
 * parent's expert does not fit. A null with nothing to drop stays, for validation to name.
 */
export function mergeConfig(base: unknown, override: unknown): unknown {
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(override)) {
      if (v === null && k in base) delete out[k];
      else out[k] = k in base ? mergeConfig(base[k], v) : v;
    }
    return out;
  }
  if (isNamedList(base) && isNamedList(override)) {
    const out = [...base] as Record<string, unknown>[];
    for (const item of override) {
      const idx = out.findIndex((b) => b.name === item.name);
      if (item.remove === true) {
        if (idx >= 0) out.splice(idx, 1);
      } else if (idx >= 0) out[idx] = mergeConfig(out[idx], item) as Record<string, unknown>;
      else out.push(item);
    }
    return out;
  }
  return override;
}

function isNamedList(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => isPlainObject(x) && typeof x.name === 'string');
}

/** Follows `extends` chains; `fetch(ref, from)` returns the referenced raw document. */
export function resolveExtends(doc: RawDocument, fetch: (ref: string, from: RawDocument) => RawDocument): { data: unknown; chain: string[] } {
  const chain: string[] = [doc.source];
  const docs: RawDocument[] = [doc];
  let current = doc;
  for (;;) {
    const ref = isPlainObject(current.data) ? current.data.extends : undefined;
    if (ref === undefined) break;
    if (typeof ref !== 'string') {
      throw configInvalid(current.source, [{ path: 'extends', expected: 'an environment id or path (string)', found: describeValue(ref) }]);
    }
    const next = fetch(ref, current);
    if (chain.includes(next.source)) {
      throw new TrajforgeError('E_EXTENDS_CYCLE', `${current.source}: extends: circular: ${[...chain, next.source].join(' -> ')}; remove one \`extends\` of the cycle`, { file: current.source });
    }
    chain.push(next.source);
    docs.push(next);
    current = next;
  }
  // Apply from the root ancestor down to the document itself.
  let merged: unknown = {};
  for (const d of docs.reverse()) {
    const data = isPlainObject(d.data) ? { ...d.data } : d.data;
    if (isPlainObject(data)) delete data.extends;
    merged = mergeConfig(merged, data);
  }
  return { data: merged, chain };
}

export function validateEnvConfig(data: unknown, source: string, chain: string[] = [source]): ResolvedEnv {
  if (!isPlainObject(data)) {
    throw configInvalid(source, [{ path: '', expected: 'a mapping (object) at the top level', found: describeValue(data) }]);
  }
  const deep = tooDeep(data);
  if (deep) throw configInvalid(source, [{ path: labelPath(data, deep), expected: `at most ${MAX_DEPTH} levels of nesting (expressions included)`, found: 'deeper nesting' }], chain);
  const parsed = EnvConfigSchema.safeParse(data);
  if (!parsed.success) throw configInvalid(source, zodIssues(parsed.error, data), chain);
  const semantic = semanticIssues(parsed.data, (p) => labelPath(data, p));
  if (semantic.length > 0) throw configInvalid(source, semantic, chain);
  return { config: parsed.data, hash: configHash(parsed.data), source };
}

/** Deeper than any real environment; the recursive checks (zod, expressions, hashing) stay far from the stack limit. */
export const MAX_DEPTH = 64;

/** The path to the first value nested deeper than MAX_DEPTH, or undefined; iterative, so any depth is safe. */
function tooDeep(root: unknown): PropertyKey[] | undefined {
  const stack: { v: unknown; path: PropertyKey[] }[] = [{ v: root, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length > MAX_DEPTH) return path;
    for (const [k, child] of Object.entries(v)) stack.push({ v: child, path: [...path, Array.isArray(v) ? Number(k) : k] });
  }
  return undefined;
}

export function configHash(config: EnvConfig): string {
  return sha256Hex(canonicalJson(config));
}

export function configInvalid(source: string, issues: ConfigIssue[], chain: string[] = [source]): TrajforgeError {
  const via = chain.length > 1 ? ` (after merging extends: ${chain.slice(1).join(' -> ')})` : '';
  const lines = issues.map((i) => `  - ${i.path || '(root)'}: expected ${i.expected}, found ${i.found}`);
  return new TrajforgeError('E_CONFIG_INVALID', `${source}: invalid environment config${via}\n${lines.join('\n')}`, { file: source, issues });
}

// ---- zod issue -> user-facing issue -------------------------------------------------------

function zodIssues(error: z.ZodError, doc: unknown): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) out.push(...convertIssue(issue as z.core.$ZodIssue, doc, []));
  // Unions report the same failure per branch; keep each message once.
  const seen = new Set<string>();
  return out.filter((i) => {
    const key = `${i.path}|${i.expected}|${i.found}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function convertIssue(issue: z.core.$ZodIssue, doc: unknown, prefix: PropertyKey[]): ConfigIssue[] {
  const path = [...prefix, ...issue.path];
  const value = valueAt(doc, path);
  const at = (p: PropertyKey[]) => labelPath(doc, p);
  switch (issue.code) {
    case 'invalid_type':
      return [{ path: at(path), expected: value === undefined ? `a value (${issue.expected}); this field is required` : `a ${issue.expected}`, found: describeValue(value) }];
    case 'too_small':
    case 'too_big': {
      const cmp = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const what = issue.origin === 'array' ? `a list with ${cmp} ${String(bound)} items` : issue.origin === 'string' ? `a string of length ${cmp} ${String(bound)}` : `a ${issue.origin} ${cmp} ${String(bound)}`;
      return [{ path: at(path), expected: what, found: describeValue(value) }];
    }
    case 'invalid_value':
      return [{ path: at(path), expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`, found: describeValue(value) }];
    case 'invalid_format':
      return [{ path: at(path), expected: issue.message, found: describeValue(value) }];
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const known = isPlainObject(value) ? knownKeysAt(path, doc) : [];
        const hint = known.length ? `no field '${key}'${suggest(key, known)}; known fields: ${known.join(', ')}` : `no field '${key}'`;
        return { path: at([...path, key]), expected: hint, found: describeValue((value as Record<string, unknown>)[key]) };
      });
    case 'invalid_union': {
      if (issue.errors.length === 0) {
        // discriminated union with an unknown discriminator value
        // zod's path ends at the discriminator key itself.
        const disc = (issue as { discriminator?: string }).discriminator;
        const container = disc && path[path.length - 1] === disc ? path.slice(0, -1) : path;
        const options = knownDiscriminators(container, doc, disc);
        const found = disc ? valueAt(doc, [...container, disc]) : value;
        const p = disc ? [...container, disc] : path;
        return [{ path: at(p), expected: options.length ? `one of ${options.map((o) => JSON.stringify(o)).join(', ')}${typeof found === 'string' ? suggest(found, options) : ''}` : issue.message, found: describeValue(found) }];
      }
      // Report the branch that got furthest (fewest issues, deepest path).
      const branches = issue.errors.map((errs) => errs.flatMap((e) => convertIssue(e, doc, path)));
      branches.sort((a, b) => depth(b) - depth(a) || a.length - b.length);
      const best = branches[0] ?? [];
      if (best.length > 0 && depth(best) > at(path).length) return best;
      return [{ path: at(path), expected: unionExpectation(path, doc), found: describeValue(value) }];
    }
    default:
      return [{ path: at(path), expected: issue.message, found: describeValue(value) }];
  }
}

function depth(issues: ConfigIssue[]): number {
  return Math.max(0, ...issues.map((i) => i.path.length));
}

function unionExpectation(path: PropertyKey[], _doc: unknown): string {
  const key = path[path.length - 1];
  if (key === 'color' || key === 'background') return 'a colour "#rrggbb" or [r, g, b] in [0, 1]';
  return 'a body name, [x, y, z], or an expression object such as {sub: [a, b]}';
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = doc;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p as string];
  }
  return v;
}

/** `bodies[2].mass` plus the item's name where the list holds named items: `bodies[2](cube).mass`. */
function labelPath(doc: unknown, path: readonly PropertyKey[]): string {
  const base = formatPath(path);
  // Add the name of the innermost named list item, if any, for orientation.
  for (let i = path.length; i > 0; i--) {
    if (typeof path[i - 1] === 'number') {
      const item = valueAt(doc, path.slice(0, i));
      if (isPlainObject(item) && typeof item.name === 'string') {
        return `${formatPath(path.slice(0, i))} (name: ${item.name})${base.slice(formatPath(path.slice(0, i)).length)}`;
      }
    }
  }
  return base;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  const s = JSON.stringify(v) ?? String(v);
  const t = v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
  return `${s.length > 80 ? `${s.slice(0, 77)}...` : s} (${t})`;
}

function suggest(word: string, known: string[]): string {
  const best = closest(word, known, 1)[0];
  return best ? ` (did you mean '${best}'?)` : '';
}

// ---- schema introspection for hints -------------------------------------------------------

type AnySchema = z.core.$ZodType;

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = (cur as unknown as { _zod: { def: { type: string; innerType?: AnySchema; getter?: () => AnySchema; in?: AnySchema } } })._zod.def;
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) cur = def.innerType;
    else if (def.type === 'lazy' && def.getter) cur = def.getter();
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

function schemaAt(path: readonly PropertyKey[], doc: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = EnvConfigSchema;
  for (let i = 0; i < path.length && s; i++) {
    s = unwrap(s);
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    const p = path[i];
    if (def.type === 'object') s = (def.shape as Record<string, AnySchema>)[p as string];
    else if (def.type === 'array') s = def.element as AnySchema;
    else if (def.type === 'union') s = pickOption(def, valueAt(doc, path.slice(0, i)));
    else return undefined;
    if (s && def.type === 'union') i--; // the union consumed no path segment
  }
  if (!s) return undefined;
  s = unwrap(s);
  const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  return def.type === 'union' ? pickOption(def, valueAt(doc, path)) : s;
}

function pickOption(def: Record<string, unknown>, value: unknown): AnySchema | undefined {
  const options = def.options as AnySchema[];
  const disc = def.discriminator as string | undefined;
  if (disc && isPlainObject(value)) {
    return options.find((o) => {
      const shape = (unwrap(o) as unknown as { _zod: { def: { shape?: Record<string, AnySchema> } } })._zod.def.shape;
      const lit = shape?.[disc] as unknown as { _zod: { def: { values?: unknown[] } } } | undefined;
      return lit?._zod.def.values?.includes(value[disc]);
    });
  }
  return undefined;
}

function knownKeysAt(path: readonly PropertyKey[], doc: unknown): string[] {
  const s = schemaAt(path, doc);
  const def = s && (s as unknown as { _zod: { def: { type: string; shape?: Record<string, unknown> } } })._zod.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function knownDiscriminators(path: readonly PropertyKey[], doc: unknown, disc: string | undefined): string[] {
  if (!disc) return [];
  let s: AnySchema | undefined = EnvConfigSchema;
  for (const p of path) {
    if (!s) break;
    s = unwrap(s);
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object') s = (def.shape as Record<string, AnySchema>)[p as string];
    else if (def.type === 'array') s = def.element as AnySchema;
    else s = undefined;
  }
  if (!s) return [];
  const def = (unwrap(s) as unknown as { _zod: { def: { options?: AnySchema[] } } })._zod.def;
  return (def.options ?? []).flatMap((o) => {
    const shape = (unwrap(o) as unknown as { _zod: { def: { shape?: Record<string, { _zod: { def: { values?: unknown[] } } }> } } })._zod.def.shape;
    return (shape?.[disc]?._zod.def.values ?? []).map(String);
  });
}

export function envJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(EnvConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
