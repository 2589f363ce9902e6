/**
 * generateDataset with the CLI's defaults: the pipeline (workers, exporters, ffmpeg, parquet-wasm)
 * is imported on the first call.
 */
import { defaultWorkerCount } from '../episode/workers.js';
import { TrajforgeError } from '../core/errors.js';
import type { GenerateOptions, GeneratePolicy, GenerateResult, Progress } from '../pipeline/generate.js';
import type { PolicyKind } from '../policy/policy.js';
import { resolveEnvRef, type EnvRef } from './env-ref.js';

export type { GenerateResult, Progress as GenerateProgress };

/** Fields generateDataset fills with the CLI's defaults when absent. */
type Defaulted = 'episodes' | 'seed' | 'workers' | 'format' | 'shard' | 'resume' | 'overwrite' | 'codec' | 'gop' | 'checkpoint';

/**
 * The pipeline's options with `trajforge generate`'s defaults: `episodes` 50, `seed` 0 (episode k
 * uses `episodeSeed(seed, k)`), `workers` one per core up to 16 (0: this thread; the data never depends on it),
 * `format` 'lerobot' (or 'dreamer', 'minari', 'rlds', 'frames', or a list: 'lerobot,dreamer'),
 * `shard` {index: 0, count: 1}, `codec` 'h264', `gop` 2, `checkpoint` 32 (episodes per resume
 * point), `resume`/`overwrite` false. `env` is an id, a config file (relative to `cwd`) or a
 * loaded environment; `policy` a kind, or a kind with the expert's action `noise` (Gaussian, a
 * fraction of each actuator's half-range) and `epsilon` (probability of a random action a step),
 * by default the expert when the environment declares one, else `noise` (a random walk); or
 * `{ kind: 'onnx', file }`, an ONNX policy file (observation in, action out; `noise` and
 * `epsilon` apply to it too).
 */
export interface GenerateDatasetOptions extends Omit<GenerateOptions, 'env' | 'policy' | Defaulted>, Partial<Pick<GenerateOptions, Defaulted>> {
  env: EnvRef;
  policy?: PolicyKind | { kind?: PolicyKind; noise?: number; epsilon?: number } | { kind: 'onnx'; file: string; noise?: number; epsilon?: number };
}

/** Simulates, renders and writes a dataset; resolves to its summary. Errors are TrajforgeErrors. */
export async function generateDataset(options: GenerateDatasetOptions): Promise<GenerateResult> {
  if (typeof options !== 'object' || options === null) throw new TrajforgeError('E_USAGE', 'generateDataset needs an options object: { env, out, ... }');
  if (typeof options.out !== 'string' || options.out === '') throw new TrajforgeError('E_USAGE', 'generateDataset: `out` (the output folder) is required');
  const env = await resolveEnvRef(options.env, options.cwd);
  const policy = typeof options.policy === 'string' ? { kind: options.policy } : (options.policy ?? {});
  const kind = policy.kind ?? (env.config.expert ? 'expert' : 'noise');
  if (!['expert', 'random', 'noise', 'onnx'].includes(kind)) throw new TrajforgeError('E_USAGE', `generateDataset: policy must be 'expert', 'random', 'noise' or { kind: 'onnx', file }, got '${String(kind)}'`);
  const file = 'file' in policy ? policy.file : undefined;
  if (kind === 'onnx' && (typeof file !== 'string' || file === '')) throw new TrajforgeError('E_USAGE', `generateDataset: policy { kind: 'onnx' } needs \`file\`, the .onnx file's path`);
  const perturb = { noise: number(policy.noise, 'policy.noise', 0), epsilon: number(policy.epsilon, 'policy.epsilon', 0) };
  const chosen: GeneratePolicy = kind === 'onnx' ? { kind, file: file!, ...perturb } : { kind: kind as PolicyKind, ...perturb };
  const full: GenerateOptions = {
    ...options,
    env,
    episodes: integer(options.episodes, 'episodes', 50, 1),
    seed: integer(options.seed, 'seed', 0, 0),
    workers: integer(options.workers, 'workers', defaultWorkerCount(), 0),
    format: options.format ?? 'lerobot',
    policy: chosen,
    shard: options.shard ?? { index: 0, count: 1 },
    resume: options.resume === true,
    overwrite: options.overwrite === true,
    codec: options.codec ?? 'h264',
    gop: integer(options.gop, 'gop', 2, 1),
    checkpoint: integer(options.checkpoint, 'checkpoint', 32, 1),
  };
  if (full.resume && full.overwrite) throw new TrajforgeError('E_USAGE', 'generateDataset: resume and overwrite exclude each other (resume continues a run, overwrite replaces it)');
  const { CODECS } = await import('../video/ffmpeg.js');
  if (!(full.codec in CODECS)) throw new TrajforgeError('E_USAGE', `generateDataset: unknown codec '${full.codec}' (known: ${Object.keys(CODECS).join(', ')})`);
  const pipeline = await import('../pipeline/generate.js');
  return pipeline.generateDataset(full);
}

function integer(v: number | undefined, name: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new TrajforgeError('E_USAGE', `generateDataset: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function number(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TrajforgeError('E_USAGE', `generateDataset: ${name} must be a finite number >= 0, got ${String(v)}`);
  return v;
}
