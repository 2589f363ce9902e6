/**
 * Fuzz campaign, family 2: damaged datasets and models. One small real dataset and model are
 * built once; each case copies them, applies one seeded damage (truncate, garble, delete, wrong
 * shape) and runs one command that reads the damaged file. Every case must end in a coded error
 * that names the file or its folder, without a stack, a hang, or anything written at --out.
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/dataset.js';

const SEED = 1207;
/** A command that has not answered after this long is a hang. */
const CASE_TIMEOUT_MS = 20_000;
/** Each (command, damage) pair runs this many times, with different seeded offsets and bytes. */
const ROUNDS = 3;

/** mulberry32: the damage offsets and bytes, reproducible from SEED and the case name. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, SEED);

const truncate = (file: string, r: () => number) => truncateSync(file, Math.floor(statSync(file).size * (0.1 + 0.8 * r())));
/**
 * Overwrites 64 bytes in the file's first or last 64 (headers, footers, indexes). Content bytes
 * carry no checksum in parquet, mp4 or ONNX, so garbled weights or pixels are undetectable; the
 * structure is what a reader must notice.
 */
const garble = (file: string, r: () => number) => {
  const b = readFileSync(file);
  const at = r() < 0.5 ? 0 : Math.max(0, b.length - 64);
  for (let i = at; i < Math.min(b.length, at + 64); i++) b[i] = Math.floor(r() * 256);
  writeFileSync(file, b);
};
const remove = (file: string) => rmSync(file);
const editJson = (edit: (j: Record<string, unknown> & { parts: { encoder: { inputs: { shape: unknown }[] } } }) => void) => (file: string) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
};

type Target = 'dataset' | 'model';
interface Damage {
  target: Target;
  /** The damaged file, relative to the dataset or model folder. */
  file: string;
  apply: (file: string, r: () => number) => void;
}

const DATA = 'data/chunk-000/file-000.parquet';
const EPISODES = 'meta/episodes/chunk-000/file-000.parquet';
const VIDEO = 'videos/observation.images.top/chunk-000/file-000.mp4';
const NPZ = 'meta/trajforge_episodes/chunk-000/file-000.npz';

export const DAMAGES: Record<string, Damage> = {
  'truncate data parquet': { target: 'dataset', file: DATA, apply: truncate },
  'garble data parquet': { target: 'dataset', file: DATA, apply: garble },
  'delete data parquet': { target: 'dataset', file: DATA, apply: remove },
  'truncate episodes parquet': { target: 'dataset', file: EPISODES, apply: truncate },
  'truncate tasks parquet': { target: 'dataset', file: 'meta/tasks.parquet', apply: truncate },
  'truncate info.json': { target: 'dataset', file: 'meta/info.json', apply: truncate },
  'delete info.json': { target: 'dataset', file: 'meta/info.json', apply: remove },
  'info.json: null features': { target: 'dataset', file: 'meta/info.json', apply: editJson((j) => (j.features = null)) },
  'info.json: fps "fast"': { target: 'dataset', file: 'meta/info.json', apply: editJson((j) => (j.fps = 'fast')) },
  'truncate trajforge.json': { target: 'dataset', file: 'meta/trajforge.json', apply: truncate },
  'trajforge.json: cameras not a list': { target: 'dataset', file: 'meta/trajforge.json', apply: editJson((j) => (j.cameras = { top: 1 })) },
  'trajforge.json: state width 99': { target: 'dataset', file: 'meta/trajforge.json', apply: editJson((j) => (j.observation_names = Array.from({ length: 99 }, (_, i) => `s${i}`))) },
  'garble episodes jsonl': { target: 'dataset', file: 'meta/trajforge_episodes.jsonl', apply: garble },
  'truncate mp4': { target: 'dataset', file: VIDEO, apply: truncate },
  'garble mp4': { target: 'dataset', file: VIDEO, apply: garble },
  'delete mp4': { target: 'dataset', file: VIDEO, apply: remove },
  'truncate npz': { target: 'dataset', file: NPZ, apply: truncate },
  'delete npz': { target: 'dataset', file: NPZ, apply: remove },
  'truncate encoder.onnx': { target: 'model', file: 'encoder.onnx', apply: truncate },
  'garble decoder.onnx': { target: 'model', file: 'decoder.onnx', apply: garble },
  'delete dynamics.onnx': { target: 'model', file: 'dynamics.onnx', apply: remove },
  'truncate model.json': { target: 'model', file: 'model.json', apply: truncate },
  'delete model.json': { target: 'model', file: 'model.json', apply: remove },
  'model.json: latent 9': { target: 'model', file: 'model.json', apply: editJson((j) => (j.latent = 9)) },
  'model.json: encoder input 48x48': { target: 'model', file: 'model.json', apply: editJson((j) => (j.parts.encoder.inputs[0]!.shape = ['batch', 48, 48, 3])) },
};

/** Commands that read each kind of input; `{ds}`, `{model}`, `{good}`, `{out}` are filled per case. */
export const COMMANDS: Record<string, { reads: Target[]; args: string[]; writes: boolean }> = {
  validate: { reads: ['dataset'], args: ['validate', '{ds}'], writes: false },
  inspect: { reads: ['dataset'], args: ['inspect', '{ds}'], writes: false },
  train: { reads: ['dataset'], args: ['train', '{ds}', '--out', '{out}', '--model', 'linear', '--latent', '8'], writes: true },
  eval: { reads: ['dataset', 'model'], args: ['eval', '--model', '{model}', '{ds}', '--out', '{out}', '--horizon', '2'], writes: true },
  encode: { reads: ['dataset', 'model'], args: ['encode', '{ds}', '--model', '{model}', '--out', '{out}'], writes: true },
  predict: { reads: ['dataset', 'model'], args: ['predict', '{ds}', '--model', '{model}', '--episode', '0', '--horizon', '2', '--out', '{out}.mp4'], writes: true },
  convert: { reads: ['dataset'], args: ['convert', '{ds}', '--to', 'dreamer', '--out', '{out}'], writes: true },
  merge: { reads: ['dataset'], args: ['merge', '{other}', '{ds}', '--out', '{out}'], writes: true },
  dream: { reads: ['model'], args: ['dream', '--model', '{model}', '--env', 'PushCube-v1', '--episodes', '1', '--horizon', '3', '--policy', 'random', '--out', '{out}'], writes: true },
};

/**
 * (command, damage) pairs where the command does not read the damaged file at all, so success is
 * right: inspect reads info.json, meta/episodes and stats only (and the success criterion when it can).
 */
export const NOT_READ = new Set([
  ...['delete data parquet', 'truncate data parquet', 'garble data parquet', 'truncate tasks parquet', 'truncate trajforge.json', 'trajforge.json: cameras not a list', 'trajforge.json: state width 99', 'garble episodes jsonl', 'truncate mp4', 'garble mp4', 'delete mp4', 'truncate npz', 'delete npz'].map((d) => `inspect|${d}`),
  // validate parses trajforge.json, the episode lines and the sidecar npz files, but compares no widths.
  ...['trajforge.json: state width 99'].map((d) => `validate|${d}`),
  // meta/tasks.parquet holds the instruction text; only validate, inspect and merge read it.
  ...['train', 'eval', 'encode', 'predict', 'convert', 'dream'].map((c) => `${c}|truncate tasks parquet`),
  // encode adds a column and copies observation.state unread.
  'encode|trajforge.json: state width 99',
]);

/**
 * Pairs left out of the table: they fail in code owned elsewhere (src/cli/convert.ts,
 * src/cli/merge.ts, src/export/lerobot/merge.ts; reported in issue 12). Delete entries as they are fixed.
 */

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tf-fuzz-ds-'));
  // Two shards of one run: merge needs inputs with distinct episodes.
  for (const [shard, out] of [['0/2', 'good'], ['1/2', 'other']]) {
    const g = await cli(['generate', 'PushCube-v1', '--episodes', '6', '--shard', shard!, '--out', out!, '--workers', '0', '--channels', 'rgb'], root);
    expect(g.code, g.err).toBe(0);
  }
  const r = await cli(['train', 'good', '--out', 'model', '--model', 'linear', '--latent', '8'], root);
  expect(r.code, r.err).toBe(0);
}, 60_000);

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer after ${CASE_TIMEOUT_MS} ms (hang)`)), CASE_TIMEOUT_MS)))]).finally(() => clearTimeout(timer));
}

/** Runs one (command, damage) case; returns what is wrong with its outcome ('' when right). */
async function runCase(command: string, damage: string, round: number): Promise<string> {
  const c = COMMANDS[command]!;
  const d = DAMAGES[damage]!;
  const caseDir = mkdtempSync(join(root, 'case-'));
  const ds = join(caseDir, 'ds');
  const model = join(caseDir, 'model');
  cpSync(join(root, 'good'), ds, { recursive: true });
  cpSync(join(root, 'model'), model, { recursive: true });
  const damaged = join(d.target === 'dataset' ? ds : model, d.file);
  d.apply(damaged, rng(hash(`${command}|${damage}|${round}`)));
  const out = join(caseDir, 'out');
  const args = c.args.map((a) => a.replace('{ds}', ds).replace('{model}', model).replace('{other}', join(root, 'other')).replace('{out}', out));
  const t0 = performance.now();
  const r = await withTimeout(cli(args, caseDir), `${command} on ${damage}`);
  const seconds = (performance.now() - t0) / 1000;
  const problems: string[] = [];
  if (NOT_READ.has(`${command}|${damage}`)) {
    if (r.code !== 0) problems.push(`exit ${r.code} though the command does not read ${d.file}`);
  } else {
    if (r.code === 0) problems.push('exit 0');
    if (!/^error\[E_[A-Z_]+\]: /m.test(r.err)) problems.push('no error[E_...] line on stderr');
    const names = [d.file, basename(d.file), d.target === 'dataset' ? ds : model, dirname(damaged)];
    if (!names.some((n) => r.err.includes(n))) problems.push(`stderr names neither ${d.file} nor its folder`);
  }
  if (/internal error/.test(r.err)) problems.push('internal error');
  if (/\n {4}at /.test(r.err)) problems.push('stack trace');
  if (c.writes && r.code !== 0 && (existsSync(out) || existsSync(`${out}.mp4`))) problems.push('--out written');
  rmSync(caseDir, { recursive: true, force: true });
  return problems.length ? `${command} | ${damage} (round ${round}): ${problems.join('; ')} (${seconds.toFixed(1)} s)\n    ${r.err.trim().split('\n').slice(-3).join('\n    ')}` : '';
}

describe('fuzz: damaged datasets and models, every command that reads them', () => {
  it.each(Object.keys(COMMANDS))('%s', async (command) => {
    const damages = Object.keys(DAMAGES).filter((d) => COMMANDS[command]!.reads.includes(DAMAGES[d]!.target));
    const t0 = performance.now();
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const damage of damages) {
        const f = await runCase(command, damage, round);
        if (f) failures.push(f);
      }
    }
    // TF_FUZZ_LOG=file keeps the full failure text (vitest's diff folds long strings).
    if (process.env.TF_FUZZ_LOG && failures.length) appendFileSync(process.env.TF_FUZZ_LOG, `${failures.join('\n')}\n`);
    console.info(`${command}: ${ROUNDS * damages.length} damaged inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(failures.join('\n')).toBe('');
  }, 120_000);
});
