/**
 * Fuzz campaign, family 1: invalid environment files. Starts from every shipped environment,
 * changes one thing (a field's type, range, presence, enum value, expression, nesting, the YAML
 * text itself, `extends`) and demands a coded, located error, or a valid environment.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { BUILTIN_ENV_DIR, loadEnv } from '../../src/config/load.js';
import { isTrajforgeError } from '../../src/core/errors.js';
import { cli } from '../helpers/dataset.js';

const SEED = 1207;
const CONFIG_CODES = ['E_CONFIG_INVALID', 'E_CONFIG_PARSE', 'E_CONFIG_NOT_FOUND', 'E_ENV_NOT_FOUND', 'E_EXTENDS_CYCLE'];
const dir = mkdtempSync(join(tmpdir(), 'tf-fuzz-env-'));
const shipped = readdirSync(BUILTIN_ENV_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ name: f, doc: parseYaml(readFileSync(join(BUILTIN_ENV_DIR, f), 'utf8')) as Record<string, unknown> }));

type Path = (string | number)[];

/** Every path to a value in a document (the root excluded), objects and arrays included. */
function paths(v: unknown, prefix: Path = []): Path[] {
  if (v === null || typeof v !== 'object') return [];
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
  return entries.flatMap(([k, x]) => [[...prefix, k], ...paths(x, [...prefix, k])]);
}

function get(doc: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], doc);
}

function set(doc: unknown, path: Path, value: unknown): void {
  const parent = get(doc, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path.at(-1)!] = value;
}

function remove(doc: unknown, path: Path): void {
  const parent = get(doc, path.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
  else delete parent[path.at(-1)!];
}

const nest = (v: unknown, depth: number, wrap: (x: unknown) => unknown): unknown => (depth === 0 ? v : nest(wrap(v), depth - 1, wrap));

/** One change to one field; each returns the YAML text to write (some damage the text itself). */
const MUTATIONS = {
  wrongType: (doc: unknown, p: Path, r: number) => (set(doc, p, ['text', 7, true, null, [], {}, [1, 'a']][r % 7]), stringify(doc)),
  outOfRange: (doc: unknown, p: Path, r: number) => (set(doc, p, [-1, 0, -1e-9, 1e9, -1e300, 2 ** 53 + 1, 1e6 + 1][r % 7]), stringify(doc)),
  missing: (doc: unknown, p: Path) => (remove(doc, p), stringify(doc)),
  unknownKey: (doc: unknown, p: Path) => {
    const v = get(doc, p);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) (v as Record<string, unknown>).zzNoSuchField = 1;
    else set(doc, p.slice(0, -1).length ? p.slice(0, -1) : p, { ...(get(doc, p.slice(0, -1)) as object), zzNoSuchField: 1 });
    return stringify(doc);
  },
  badEnum: (doc: unknown, p: Path, r: number) => (set(doc, p, ['not_a_choice', '', 'DYNAMIC', 'box ', '#12345g', 'xyzx'][r % 6]), stringify(doc)),
  badExpression: (doc: unknown, p: Path, r: number) => (set(doc, p, [{ bogus: [1, 2] }, 'no_such_body', { sub: ['a'] }, { dot: [[1, 2], [0, 0, 0]] }, { clamp: [1, 'x', 2] }, { lt: [{ obs: 'nope' }, 1] }][r % 6]), stringify(doc)),
  hugeNumber: (doc: unknown, p: Path, r: number) => stringify(doc).replace(/(^|[\s[,])(-?\d+(\.\d+)?)(?=[\s,\]]|$)/m, `$1${['1e400', '-1e400', '1e308', '123456789012345678901234567890'][r % 4]}`),
  nanInfinity: (doc: unknown, p: Path, r: number) => (set(doc, p, ['NaN', 'Infinity', '-Infinity', '.nan', '.inf'][r % 5]), stringify(doc).replace(/'(\.nan|\.inf)'/g, '$1')),
  nonFinite: (doc: unknown, p: Path, r: number) => (set(doc, p, [NaN, Infinity, -Infinity][r % 3]), stringify(doc)),
  deepNesting: (doc: unknown, p: Path, r: number) => (set(doc, p, nest(get(doc, p), 20 + (r % 400), r % 2 ? (x) => [x] : (x) => ({ add: [x] }))), stringify(doc)),
  badYamlSyntax: (doc: unknown, p: Path, r: number) => {
    const text = stringify(doc);
    const at = r % text.length;
    const junk = ['[', ']', '{', ': :', '\t', '\n  - ', '"', '*alias', '&a &b', '\u0000', '\n id: X\n'][r % 11]!;
    return text.slice(0, at) + junk + text.slice(at);
  },
  extendsUnknown: (doc: unknown, _p: Path, r: number) => (((doc as Record<string, unknown>).extends = ['NoSuch-v1', './nope.yaml', 42, ['a'], ''][r % 5]), stringify(doc)),
  extendsCycle: (doc: unknown, _p: Path, r: number) => {
    const other = join(dir, `cycle-${r}.yaml`);
    writeFileSync(other, stringify({ extends: `./fuzz-${r}.yaml`, id: `Cycle${r}-v1` }));
    (doc as Record<string, unknown>).extends = `./cycle-${r}.yaml`;
    return stringify(doc);
  },
} satisfies Record<string, (doc: unknown, p: Path, r: number) => string>;
type Mutation = keyof typeof MUTATIONS;

const caseArb = fc.record({
  env: fc.nat({ max: shipped.length - 1 }),
  pathPick: fc.nat(),
  kind: fc.constantFrom(...(Object.keys(MUTATIONS) as Mutation[])),
  r: fc.nat({ max: 10_000 }),
});

function makeCase(c: { env: number; pathPick: number; kind: Mutation; r: number }): { file: string; path: Path } {
  const doc = structuredClone(shipped[c.env]!.doc);
  const all = paths(doc);
  const path = all[c.pathPick % all.length]!;
  const text = MUTATIONS[c.kind](doc, path, c.r);
  const file = join(dir, `fuzz-${c.r}.yaml`);
  writeFileSync(file, text);
  return { file, path };
}

/** What every failing load must look like: a config code, the file, and for invalid values each issue's JSON path. */
function expectLocated(e: unknown, file: string): void {
  if (!isTrajforgeError(e)) throw new Error(`not a TrajforgeError: ${(e as Error).stack ?? String(e)}`);
  expect(CONFIG_CODES, e.message).toContain(e.code);
  expect(e.message).toContain(file.slice(dir.length + 1));
  if (e.code === 'E_CONFIG_INVALID') {
    expect(e.details.issues?.length, e.message).toBeGreaterThan(0);
    for (const i of e.details.issues!) expect(e.message).toContain(`- ${i.path || '(root)'}: expected`);
  }
  if (e.code === 'E_EXTENDS_CYCLE' || e.code === 'E_ENV_NOT_FOUND') expect(e.message).toContain('extends');
  expect(e.exitCode).toBe(2);
}

describe('fuzz: invalid environment files', () => {
  it('the loader accepts or throws a located config error, for one mutation of any field of any shipped environment', () => {
    let failed = 0;
    let runs = 0;
    const t0 = performance.now();
    fc.assert(
      fc.property(caseArb, (c) => {
        runs++;
        const { file } = makeCase(c);
        try {
          loadEnv(file, { dirs: [BUILTIN_ENV_DIR] });
        } catch (e) {
          failed++;
          expectLocated(e, file);
        }
      }),
      { seed: SEED, numRuns: 1500 },
    );
    console.info(`config loader fuzz: ${runs} cases (${failed} rejected) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(failed).toBeGreaterThan(runs / 2);
  });

  it('`trajforge check` on a mutated file exits 2 with error[E_CONFIG_...] and no internal error, or checks it', async () => {
    let runs = 0;
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        runs++;
        const { file } = makeCase(c);
        const r = await cli(['check', file, '--steps', '2', '--expert-episodes', '0'], dir);
        expect(r.err).not.toMatch(/internal error|\n {4}at /);
        if (r.code !== 0) {
          expect(r.code, r.err).toBe(2);
          expect(r.err).toMatch(/^error\[E_(CONFIG_[A-Z_]+|ENV_NOT_FOUND|EXTENDS_CYCLE)\]: /);
          expect(r.err).toContain(file.slice(dir.length + 1));
        }
      }),
      { seed: SEED + 1, numRuns: 800 },
    );
    console.info(`check CLI fuzz: ${runs} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });
});
