import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { datasetMeta, readLeRobotCameraFrames, type CameraEpisodeFrames } from '../export/lerobot/episodes.js';
import { addFeatureToLeRobot, type FeatureValues } from '../export/lerobot/extend.js';
import { lerobotFeatures } from '../export/lerobot/format.js';
import { LEROBOT_ENTRIES, writeOutput, preflightOutput } from '../output/folder.js';
import { checkModelTarget, datasetTarget } from '../model/card.js';
import { parseProviders, PROVIDERS_ENV } from '../model/onnx/runtime.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { unitInto } from '../model/transitions.js';
import { intOption, parse } from './args.js';
import { outputOptions, type Command } from './io.js';

export const DEFAULT_LATENT_KEY = 'observation.latent';

/** Latent names z0..z{L-1}. */
export function latentNames(latent: number): string[] {
  return Array.from({ length: latent }, (_, i) => `z${i}`);
}

export const encodeCommand: Command = {
  name: 'encode',
  summary: "add a world model's latent of every frame to a LeRobot dataset, as a new dataset",
  usage: 'trajforge encode DATASET --model MODEL_DIR --out NEW_DATASET [--key observation.latent] [--batch 1024] [--replace] [--overwrite (replace a dataset this tool wrote at --out)]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        model: { type: 'string' },
        out: { type: 'string' },
        key: { type: 'string' },
        batch: { type: 'string' },
        replace: { type: 'boolean' },
        overwrite: { type: 'boolean' },
      },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset) throw new TrajforgeError('E_USAGE', `missing DATASET\nusage: ${this.usage}`);
    if (positionals.length > 1) throw new TrajforgeError('E_USAGE', `one DATASET only, got ${positionals.length}\nusage: ${this.usage}`);
    if (!values.model) throw new TrajforgeError('E_USAGE', `missing --model MODEL_DIR\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out NEW_DATASET\nusage: ${this.usage}`);
    const key = (values.key as string | undefined) ?? DEFAULT_LATENT_KEY;
    if (!key || key.includes('/')) throw new TrajforgeError('E_USAGE', `--key ${JSON.stringify(key)} must be non-empty and contain no '/'`);
    const batch = intOption(values.batch as string | undefined, 'batch', 1024, 1);
    const replace = (values.replace as unknown) === true;

    const src = resolve(io.cwd, dataset);
    const out = resolve(io.cwd, values.out as string);
    if (out === src) throw new TrajforgeError('E_USAGE', `--out must differ from DATASET (encode writes a new dataset and never modifies its input)`);
    const modelDir = resolve(io.cwd, values.model as string);
    const spec = outputOptions(io, { kind: 'dataset', command: 'encode', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: LEROBOT_ENTRIES, accepts: ['overwrite'], inputs: [src, modelDir] });
    preflightOutput(out, spec);

    const card = readModelCard(modelDir);
    const meta = datasetMeta(src);
    const { note } = checkModelTarget(card, datasetTarget(meta, dataset));
    if (note) io.err(`note: ${note}\n`);
    const L = card.latent;
    const existing = meta.extraFeatures ?? [];
    if (existing.some((x) => x.key === key) && !replace) {
      throw new TrajforgeError('E_USAGE', `${dataset} already has an extra feature '${key}'; pass --replace to overwrite it or --key to add it under another name`);
    }
    const feature = { key, dim: L, names: latentNames(L) };
    // The key must not clash with a built-in feature: checked before the model is loaded.
    lerobotFeatures({ ...meta, extraFeatures: [...existing.filter((x) => x.key !== key), feature] });

    const session = await WorldModelSession.load(card, readModelParts(modelDir, card), { providers: parseProviders(process.env[PROVIDERS_ENV]) }, modelDir);
    const pixels = card.input.width * card.input.height * 3;
    const started = performance.now();
    let encodeMs = 0;
    let episodes = 0;
    let frames = 0;

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
      const input = new Float32Array(pendingFrames * pixels);
      let row = 0;
      for (const ep of pending) {
        unitInto(ep.frames.subarray(0, ep.length * pixels), input, row * pixels);
        unitInto(ep.final, input, (row + ep.length) * pixels);
        row += ep.length + 1;
      }
      const t0 = performance.now();
      const z = pendingFrames > 0 ? await session.encode(input, pendingFrames) : new Float32Array(0);
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
      return next;
    };

    try {
      // Only the tables are rewritten; the videos are the source's files, bit for bit.
      const s = await writeOutput(out, spec, () => addFeatureToLeRobot(src, out, feature, latentsOf));
      const seconds = (performance.now() - started) / 1000;
      const encoded = frames + episodes; // every step plus each episode's final frame
      io.out(
        `encoded ${episodes} episodes, ${frames} frames of ${dataset} with model ${card.id} into ${values.out}: ${key} [${L}], ` +
          `${seconds.toFixed(1)} s, encoder ${(encoded / Math.max(encodeMs / 1000, 1e-9)).toFixed(0)} frames/s (${(s.bytes / 1e6).toFixed(2)} MB)\n`,
      );
      return 0;
    } catch (e) {
      // The writer reads the source's tables itself; a damaged one must name the dataset, not end in a stack.
      if (e instanceof TrajforgeError) throw e;
      throw new TrajforgeError('E_DATASET_INVALID', `${src}: cannot read the dataset (${(e as Error).message}); run \`trajforge validate ${dataset}\` to find the damaged file`, { file: src });
    } finally {
      await source.return(undefined); // stops the decoder if the writer failed midway
      await session.release();
    }
  },
};
