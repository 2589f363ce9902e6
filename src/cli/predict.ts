import { renameSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { checkFileOutput } from '../output/folder.js';
import { readInfo } from '../export/lerobot/reader.js';
import { checkModelTarget, datasetTarget } from '../model/card.js';
import { predictWindow } from '../model/evaluate.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { transitionsFromEpisodes } from '../model/transitions.js';
import { VideoEncoder } from '../video/ffmpeg.js';
import { intOption, parse } from './args.js';
import type { Command } from './io.js';
import { removeOwn } from '../output/remove.js';

/** White gap between the truth | prediction | error panels, in output pixels. */
export const PANEL_GAP = 2;
/** Error panel: |truth − prediction| times this, clipped to 1. */
export const ERROR_GAIN = 4;

/** Output video size for a model of width × height at an integer scale (even, for yuv420p). */
export function predictFrameSize(width: number, height: number, scale: number): { width: number; height: number } {
  const w = 3 * width * scale + 2 * PANEL_GAP;
  const h = height * scale;
  return { width: w + (w % 2), height: h + (h % 2) };
}

export const predictCommand: Command = {
  name: 'predict',
  summary: 'open-loop video prediction on a dataset episode: truth | prediction | error, as an mp4',
  usage: 'trajforge predict DATASET --model MODEL_DIR --episode K --out pred.mp4 [--context 1] [--horizon H (default: to the episode end)] [--scale 4] [--overwrite]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        model: { type: 'string' },
        episode: { type: 'string' },
        context: { type: 'string' },
        horizon: { type: 'string' },
        scale: { type: 'string' },
        out: { type: 'string' },
        overwrite: { type: 'boolean' },
      },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset) throw new TrajforgeError('E_USAGE', `missing DATASET\nusage: ${this.usage}`);
    if (!values.model) throw new TrajforgeError('E_USAGE', `missing --model MODEL_DIR\nusage: ${this.usage}`);
    if (values.episode === undefined) throw new TrajforgeError('E_USAGE', `missing --episode K\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out FILE.mp4\nusage: ${this.usage}`);
    const out = checkFileOutput(values.out, { overwrite: (values.overwrite as unknown) === true, cwd: io.cwd });
    const k = intOption(values.episode, 'episode', 0, 0);
    const context = intOption(values.context, 'context', 1, 1);
    const scale = intOption(values.scale, 'scale', 4, 1);
    if (scale > 64) throw new TrajforgeError('E_USAGE', `--scale must be at most 64, got ${scale}`);
    const requestedHorizon = values.horizon === undefined ? undefined : intOption(values.horizon, 'horizon', 1, 1);

    const modelDir = resolve(io.cwd, values.model);
    const card = readModelCard(modelDir);
    const dir = resolve(io.cwd, dataset);
    const count = readInfo(dir).total_episodes;
    if (k >= count) throw new TrajforgeError('E_USAGE', `--episode ${k} is out of range: ${dataset} has ${count} episode(s) (0..${count - 1})`);
    const meta = datasetMeta(dir);
    const { note } = checkModelTarget(card, datasetTarget(meta, dataset));
    if (note) io.err(`note: ${note}\n`);

    let episode: EpisodeData | undefined;
    let i = 0;
    for await (const ep of readLeRobotEpisodes(dir)) {
      if (i++ === k) {
        episode = ep;
        break;
      }
    }
    if (!episode) throw new TrajforgeError('E_DATASET_INVALID', `${dataset}: episode ${k} could not be read`);
    const T = episode.length;
    const t0 = context - 1;
    if (t0 >= T) throw new TrajforgeError('E_USAGE', `--context ${context} leaves no step to predict: episode ${k} has ${T} steps`);
    const horizon = requestedHorizon ?? T - t0;
    if (t0 + horizon > T) throw new TrajforgeError('E_USAGE', `--horizon ${horizon} runs past the end of episode ${k} (${T} steps, context frame ${t0}: at most ${T - t0})`);

    const tr = transitionsFromEpisodes([episode], { camera: card.camera, downsample: card.input.downsample });
    const W = card.decoded.width;
    const H = card.decoded.height;
    const P = W * H * 3;
    const A = card.action.names.length;
    if (tr.actions.cols !== A) throw new TrajforgeError('E_MODEL_SHAPE', `${dataset} has ${tr.actions.cols} action dims; the model takes ${A}`);
    const truth = (t: number) => tr.frames.data.subarray(t * P, (t + 1) * P);

    const session = await WorldModelSession.load(card, readModelParts(modelDir, card), {}, modelDir);
    // preds[0] is the context frame itself, then the open-loop predictions.
    const preds: Float32Array[] = [Float32Array.from(truth(t0))];
    try {
      const window = await predictWindow(session, tr, 0, t0, horizon);
      for (let h = 0; h < horizon; h++) preds.push(window.subarray(h * P, (h + 1) * P));
    } finally {
      await session.release();
    }

    const mse: number[] = [];
    for (let h = 1; h <= horizon; h++) {
      const t = truth(t0 + h);
      const p = preds[h]!;
      let s = 0;
      for (let j = 0; j < P; j++) s += (t[j]! - p[j]!) ** 2;
      mse.push(s / P);
    }

    const size = predictFrameSize(W, H, scale);
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.tmp-${process.pid}.mp4`;
    const enc = new VideoEncoder(tmp, { width: size.width, height: size.height, fps: meta.fps, codec: 'h264', gop: 10 });
    try {
      const frame = new Uint8Array(size.width * size.height * 3);
      const err = new Float32Array(P);
      for (let h = 0; h <= horizon; h++) {
        const t = truth(t0 + h);
        const p = preds[h]!;
        for (let j = 0; j < P; j++) err[j] = Math.min(1, ERROR_GAIN * Math.abs(t[j]! - p[j]!));
        frame.fill(255);
        [t, p, err].forEach((panel, n) => blitScaled(panel, W, H, scale, frame, size.width, n * (W * scale + PANEL_GAP)));
        await enc.write(frame);
      }
      await enc.finish();
      renameSync(tmp, out);
    } catch (e) {
      enc.abort();
      removeOwn(tmp);
      throw e;
    }

    const fmt = (x: number) => x.toExponential(3);
    const mean = mse.reduce((a, b) => a + b, 0) / mse.length;
    io.out(`${values.out}: episode ${k} of ${dataset}, context frame ${t0}, ${horizon} predicted step(s), ${size.width}x${size.height} (truth | prediction | error x${ERROR_GAIN}), model ${card.id}\n`);
    io.out(`  per-step MSE  first ${fmt(mse[0]!)}  last ${fmt(mse.at(-1)!)}  mean ${fmt(mean)}\n`);
    io.out(`  per-step MSE  ${mse.map((m) => m.toExponential(2)).join(' ')}\n`);
    return 0;
  },
};

/** Nearest-neighbour upscale of an HxWx3 [0,1] image into an rgb24 frame at column x0. */
function blitScaled(src: ArrayLike<number>, W: number, H: number, scale: number, dst: Uint8Array, dstWidth: number, x0: number): void {
  for (let y = 0; y < H * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < W * scale; x++) {
      const s = (sy * W + Math.floor(x / scale)) * 3;
      const d = (y * dstWidth + x0 + x) * 3;
      for (let c = 0; c < 3; c++) dst[d + c] = Math.round(255 * Math.min(1, Math.max(0, src[s + c]!)));
    }
  }
}
