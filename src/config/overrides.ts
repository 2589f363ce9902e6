/**
 * Command-line overrides of an environment document, Hydra-style: `--set world.timestep=0.005`,
 * `--set cameras[top].resolution=[128,128]`, `--set bodies[cube].mass=0.2`. They apply to the
 * merged document (after `extends`) before validation, so an override is checked exactly like
 * the same value written in the file, and the config hash covers it.
 *
 * Path: keys separated by dots; `[name]` picks the element of a list whose `name` is name, `[3]`
 * the element at index 3. Value: YAML (so `0.005`, `[128, 128]`, `true`, `red`, `{x: 1}`). A key
 * the document does not have is created (the schema then accepts or names it, with did-you-mean);
 * a list element that does not exist is an error naming the ones that do.
 */
import { TrajforgeError, type ConfigIssue } from '../core/errors.js';
import { closest } from '../core/registry.js';
import { parseText } from './load.js';
import { isPlainObject } from '../core/json.js';

type Step = { key: string } | { name: string } | { index: number };

/** Applies `overrides` (each `path=value`) to a copy of `data`; `source` names the document in errors. */
export function applyOverrides(data: unknown, overrides: readonly string[], source: string): unknown {
  let out = structuredClone(data);
  for (const o of overrides) out = applyOne(out, o, source);
  return out;
}

function applyOne(data: unknown, override: string, source: string): unknown {
  const eq = override.indexOf('=');
  if (eq <= 0) throw invalid(source, override, { path: override, expected: 'PATH=VALUE, e.g. world.timestep=0.005 or cameras[top].resolution=[128,128]', found: JSON.stringify(override) });
  const pathText = override.slice(0, eq).trim();
  const steps = parsePath(pathText, source, override);
  const value = parseText(override.slice(eq + 1), `--set ${pathText}`);
  if (steps.length === 0) return value;
  if (!isPlainObject(data)) throw invalid(source, override, { path: pathText, expected: 'a mapping at the top of the document', found: typeof data });
  let node: unknown = data;
  for (const [i, step] of steps.entries()) {
    const last = i === steps.length - 1;
    const where = formatPath(steps.slice(0, i + 1));
    if ('key' in step) {
      if (!isPlainObject(node)) throw invalid(source, override, { path: formatPath(steps.slice(0, i)), expected: `a mapping to hold '${step.key}'`, found: describe(node) });
      // null removes a key the document has, as in a file that extends another (mergeConfig);
      // on a key it lacks it stays, for validation to name (a misspelt key gets its did-you-mean).
      if (last) {
        if (value === null && step.key in node) delete node[step.key];
        else node[step.key] = value;
      } else {
        if (node[step.key] === undefined) node[step.key] = isIndexStep(steps[i + 1]!) ? [] : {};
        node = node[step.key];
      }
      continue;
    }
    if (!Array.isArray(node)) throw invalid(source, override, { path: formatPath(steps.slice(0, i)), expected: 'a list to select from', found: describe(node) });
    let at: number;
    if ('name' in step) {
      at = node.findIndex((e) => isPlainObject(e) && e.name === step.name);
      if (at < 0) {
        const names = node.filter(isPlainObject).map((e) => String(e.name));
        throw invalid(source, override, { path: where, expected: `an element named one of ${names.join(', ') || '(none)'}`, found: `'${step.name}'${names.length ? ` (did you mean '${closest(step.name, names, 1)[0]}'?)` : ''}` });
      }
    } else {
      at = step.index;
      if (at >= node.length) throw invalid(source, override, { path: where, expected: `an index below ${node.length}`, found: String(at) });
    }
    if (last) node[at] = value;
    else node = node[at];
  }
  return data;
}

function isIndexStep(s: Step): boolean {
  return 'index' in s || 'name' in s;
}

function parsePath(text: string, source: string, override: string): Step[] {
  const steps: Step[] = [];
  const re = /([^.[\]]+)|\[([^\]]*)\]|(\.)/gy;
  let m: RegExpExecArray | null;
  let expectKey = true;
  while ((m = re.exec(text)) !== null) {
    if (m[1] !== undefined) {
      if (!expectKey) break;
      steps.push({ key: m[1].trim() });
      expectKey = false;
    } else if (m[2] !== undefined) {
      const inner = m[2].trim();
      steps.push(/^\d+$/.test(inner) ? { index: Number(inner) } : { name: inner });
      expectKey = false;
    } else expectKey = true;
    if (re.lastIndex === text.length) return steps;
  }
  throw invalid(source, override, { path: text, expected: 'keys separated by dots, [name] or [index] for list elements', found: JSON.stringify(text) });
}

function formatPath(steps: readonly Step[]): string {
  return steps.map((s, i) => ('key' in s ? `${i > 0 ? '.' : ''}${s.key}` : 'name' in s ? `[${s.name}]` : `[${s.index}]`)).join('');
}


function describe(v: unknown): string {
  return Array.isArray(v) ? 'a list' : v === undefined ? 'nothing' : typeof v === 'object' ? (v === null ? 'null' : 'a mapping') : `${typeof v} ${JSON.stringify(v)}`;
}

function invalid(source: string, override: string, issue: ConfigIssue): TrajforgeError {
  return new TrajforgeError('E_CONFIG_INVALID', `${source}: --set ${override}: ${issue.path ? `${issue.path}: ` : ''}expected ${issue.expected}, found ${issue.found}`, { file: source, issues: [issue] });
}
