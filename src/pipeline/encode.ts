import { TrajforgeError } from '../core/errors.js';
import type { DatasetSummary } from '../dataset/meta.js';
import { datasetMeta, readLeRobotCameraFrames, type CameraEpisodeFrames } from '../export/lerobot/episodes.js';
import { addFeatureToLeRobot, type FeatureValues } from '../export/lerobot/extend.js';
import { lerobotFeatures } from '../export/lerobot/format.js';
import { readInfo } from '../export/lerobot/reader.js';
import { LEROBOT_ENTRIES, preflightOutput, writeOutput, type OutputOptions } from '../output/folder.js';
import { checkModelTarget, datasetTarget } from '../model/card.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { modelWorkers } from '../parallel/session-pool.js';
import { checkInt, checkThreads, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

export const DEFAULT_LATENT_KEY = 'observation.latent';

/** Latent names z0..z{L-1}. */
export function latentNames(latent: number): string[] {
  return Array.from({ length: latent }, (_, i) => `z${i}`);
}

/** One event per episode whose latents were handed to the writer. */
export type EncodeProgress = StageProgress<'encode'>;

export interface EncodeOptions extends PipelineCallbacks<EncodeProgress> {
  /** A trajforge LeRobot dataset; named in errors as given. It is never modified. */
  dataset: string;
  /** A model folder (trajforge train) trained on the dataset's environment and camera. */
  model: string;
  /** The new dataset: absent or empty, or (with `overwrite`) a dataset trajforge wrote. */
  out: string;
  /** Replace a dataset trajforge wrote at `out`. */
  overwrite?: boolean;
  /** The feature's key (non-empty, no '/'). Default observation.latent. */
  key?: string;
  /** Replace an extra feature of that key in the source; without it such a key is refused. */
  replace?: boolean;
  /** Frames per encoder call (>= 1). Default 1024. */
  batch?: number;
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  providers?: readonly string[];
  /** Worker threads running the encoder, one onnxruntime thread each (default: one per core, at most 8). */
  threads?: number;
}

export interface EncodeSummary extends DatasetSummary {
  modelId: string;
  key: string;
  /** The feature's width: the model's latent size. */
  latent: number;
  /** Seconds from the loaded model to the written dataset (decoding, encoding and writing). */
  seconds: number;
  /** Frames through the encoder per second of encoder time (every step plus each episode's final frame). */
  encoderFramesPerSecond: number;
}

/**
 * Writes a copy of a LeRobot dataset with a world model's latent of every frame as a new feature
 * (per step, plus each episode's final frame). Only the tables are rewritten; the videos are the
 * source's files, bit for bit.
 */
export async function encodeDataset(opts: EncodeOptions): Promise<EncodeSummary> {
  const elapsed = stopwatch();
  const dataset = opts.dataset;
  const key = opts.key ?? DEFAULT_LATENT_KEY;
  if (!key || key.includes('/')) throw new TrajforgeError('E_USAGE', `--key ${JSON.stringify(key)} must be non-empty and contain no '/'`);
  const batch = checkInt(opts.batch ?? 1024, 'batch', 1);
  const src = resolveIn(opts.cwd, dataset);
  const out = resolveIn(opts.cwd, opts.out);
  if (out === src) throw new TrajforgeError('E_USAGE', `--out must differ from DATASET (encode writes a new dataset and never modifies its input)`);
  const modelDir = resolveIn(opts.cwd, opts.model);
  const spec: OutputOptions = { kind: 'dataset', command: 'encode', mode: opts.overwrite ? 'overwrite' : 'new', entries: LEROBOT_ENTRIES, accepts: ['overwrite'], inputs: [src, modelDir], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  preflightOutput(out, spec);

  const card = readModelCard(modelDir);
  const meta = datasetMeta(src);
  const { note } = checkModelTarget(card, datasetTarget(meta, dataset));
  if (note) opts.onNotice?.(note, 'input');
  const L = card.latent;
  const existing = meta.extraFeatures ?? [];
  if (existing.some((x) => x.key === key) && !opts.replace) {
    throw new TrajforgeError('E_USAGE', `${dataset} already has an extra feature '${key}'; pass --replace to overwrite it or --key to add it under another name`);
  }
  const feature = { key, dim: L, names: latentNames(L), modelId: card.id };
  // The key must not clash with a built-in feature: checked before the model is loaded.
  lerobotFeatures({ ...meta, extraFeatures: [...existing.filter((x) => x.key !== key), feature] });

  const threads = checkThreads(opts.threads);
  const session = await WorldModelSession.load(card, readModelParts(modelDir, card), { providers: opts.providers, ...modelWorkers(threads) }, modelDir);
  const pixels = card.input.width * card.input.height * 3;
  const encoding = stopwatch();
  let encodeMs = 0;
  let episodes = 0;
  let frames = 0;
  let handed = 0;
  let total: number | undefined;
  let callbackError: unknown;

  // Frames are decoded one camera stream at a time; episodes wait until `batch` frames are
  // pending, then go through the encoder together, and their latents queue up (in episode
  // order) for the writer, which asks for them one episode at a time.
  const source = readLeRobotCameraFrames(src, card.camera);
  const ready: (FeatureValues & { episode: number })[] = [];
  const encodeBatch = async (): Promise<void> => {
    const pending: CameraEpisodeFrames[] = [];
    let pendingFrames = 0;
    while (pendingFrames < batch) {
      const next = await source.next();
      if (next.done) break;
      pending.push(next.value);
      pendingFrames += next.value.length + 1;
    }
    const input = new Uint8Array(pendingFrames * pixels);
    let row = 0;
    for (const ep of pending) {
      input.set(ep.frames.subarray(0, ep.length * pixels), row * pixels);
      input.set(ep.final, (row + ep.length) * pixels);
      row += ep.length + 1;
    }
    const t0 = performance.now();
    const z = pendingFrames > 0 ? await session.encodeSequences(input, pending.map((ep) => ep.length + 1)) : new Float32Array(0);
    encodeMs += performance.now() - t0;
    row = 0;
    for (const ep of pending) {
      const T = ep.length;
      ready.push({ episode: ep.episode, data: z.slice(row * L, (row + T) * L), final: z.slice((row + T) * L, (row + T + 1) * L) });
      row += T + 1;
      episodes++;
      frames += T;
    }
  };
  const latentsOf = async (episode: number): Promise<FeatureValues> => {
    if (ready.length === 0) await encodeBatch();
    const next = ready.shift();
    if (!next || next.episode !== episode) throw new TrajforgeError('E_INTERNAL', `${dataset}: expected the frames of episode ${episode}, got ${next ? `episode ${next.episode}` : 'none'}`);
    // Read once frames arrived: the reader has checked info.json by then, and names it if damaged.
    total ??= readInfo(src).total_episodes;
    try {
      opts.onProgress?.({ stage: 'encode', done: ++handed, total, elapsed: elapsed() });
    } catch (e) {
      callbackError = e;
      throw e;
    }
    return next;
  };

  try {
    // Only the tables are rewritten; the videos are the source's files, bit for bit.
    const s = await writeOutput(out, spec, () => addFeatureToLeRobot(src, out, feature, latentsOf));
    const encoded = frames + episodes; // every step plus each episode's final frame
    return { ...s, episodes, frames, modelId: card.id, key, latent: L, seconds: encoding(), encoderFramesPerSecond: encoded / Math.max(encodeMs / 1000, 1e-9) };
  } catch (e) {
    // The writer reads the source's tables itself; a damaged one must name the dataset, not end in a stack.
    if (e instanceof TrajforgeError || e === callbackError) throw e;
    throw new TrajforgeError('E_DATASET_INVALID', `${src}: cannot read the dataset (${(e as Error).message}); run \`trajforge validate ${dataset}\` to find the damaged file`, { file: src });
  } finally {
    await source.return(undefined); // stops the decoder if the writer failed midway
    await session.release();
  }
}
