/**
 * trajforge label --eval: how well `label` recovers actions it was not shown, and whether that is
 * good enough to learn from (the VPT test). Run on a simulator dataset the model was not trained
 * on: its actions are withheld from labelling and kept as the truth.
 *
 * - Agreement: R² and MAE per action dimension of the labels against the true actions.
 * - Calibration: labels binned by confidence, each bin's error and share of wrong labels (off by
 *   more than a tenth of the action range), and the ROC area of low confidence as a detector of
 *   wrong labels.
 * - Domain shift: the same episodes re-simulated from their seeds and recorded actions and shown to
 *   `label` as video files other tools would write: rendered at 128x128, encoded as H.264 4:2:0 in
 *   mp4 and as VP9 in WebM, and lit by another light.
 * - VPT test: a behaviour-cloning policy (observation -> action, `trajforge bc`'s trainer) trained
 *   on the true actions and one trained on each variant's inferred actions, with the same inputs,
 *   rows, options and seed; each runs `seeds` episodes in the simulator on seeds the dataset does
 *   not use, and their success rates are compared.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedEnv } from '../config/parse.js';
import type { EnvConfig } from '../config/schema.js';
import { TrajforgeError } from '../core/errors.js';
import { episodeSeed, summarizeEpisodeAsync } from '../episode/rollout.js';
import { replayEpisode } from '../episode/replay.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { DEFAULT_BC_OPTIONS, bcNormalisation, trainBc, type BcData } from '../model/bc/train.js';
import { readModelCard } from '../model/store.js';
import { actionAgreement, calibration, normalisedErrors, type ActionAgreement, type Calibration } from '../model/label-metrics.js';
import { CONFIDENCE_KEY } from '../model/label.js';
import { writeFileAtomic } from '../output/atomic.js';
import { escapeRegExp, writeOutput, type OutputOptions } from '../output/folder.js';
import { removeOwn } from '../output/remove.js';
import { makePolicy } from '../policy/index.js';
import { OnnxPolicy } from '../policy/onnx.js';
import type { AnyPolicy } from '../policy/policy.js';
import { encodePng } from '../render/png.js';
import { Renderer } from '../render/renderer.js';
import { barChart, lineChart } from '../report/plot.js';
import { createEnv } from '../sim/env.js';
import { CLIP_PROFILES, writeClip, type ClipProfile } from '../video/clip.js';
import { labelVideos, type LabelSummary } from './label.js';
import { checkInt, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/** variant: one event per variant labelled (0 of n first); bc: one per policy trained and run. */
export type LabelEvalProgress = StageProgress<'variant' | 'bc'>;

export interface LabelEvalOptions extends PipelineCallbacks<LabelEvalProgress> {
  /** A trajforge simulator dataset of the model's environment that the model was not trained on. */
  dataset: string;
  model: string;
  /** The report folder (label-eval.json, label-eval.md, PNGs, and the labelled dataset under labelled/). */
  out: string;
  overwrite?: boolean;
  /** The first `episodes` episodes of the dataset (default: all). */
  episodes?: number;
  /** Also label the domain-shifted videos (default true). */
  shifts?: boolean;
  /** Simulator episodes per policy for the success rates (default 100; 0 skips the VPT test). */
  seeds?: number;
  /** Behaviour-cloning gradient steps (default 4000; see EVAL_BC). */
  bcSteps?: number;
  providers?: readonly string[];
}

export interface VariantResult {
  name: string;
  description: string;
  agreement: ActionAgreement;
  meanConfidence: number;
  /** label's throughput on this variant, decoding included. */
  framesPerSecond: number;
  /** Largest |state − stored state| of the re-simulated episodes (0: the replay reproduced them); null for the stored videos. */
  replayError: number | null;
  /** Success rate and mean return of the BC policy trained on this variant's labels (null without the VPT test). */
  bcSuccess: number | null;
  bcReturn: number | null;
}

export interface LabelEvalSummary {
  dir: string;
  modelId: string;
  envId: string;
  episodes: number;
  steps: number;
  /** Episodes the model was trained on (labelled data) and the share they are of all episodes used. */
  labelledEpisodes: number;
  labelledFraction: number;
  variants: VariantResult[];
  calibration: Calibration;
  bc: { seeds: number; trueActions: number; trueActionsReturn: number; expert: number | null; expertReturn: number | null; options: { hidden: number; layers: number; steps: number } } | null;
  seconds: number;
}

/** The report's files; the labelled stored videos are kept as a dataset beside them. */
export const LABEL_EVAL_FILES = ['label-eval.json', 'label-eval.md', 'actions.png', 'calibration.png', 'shift.png', 'labelled'] as const;

/** A wrong label is off by more than this fraction of some action dimension's range. */
const WRONG = 0.1;
/** Seeds of the success-rate episodes: a run seed no dataset of ours starts from by default. */
const EVAL_RUN_SEED = 1_000_003;
/**
 * The VPT test's policy: larger than bc's default, because the comparison needs a baseline that
 * succeeds. PushCube-v1 from 300 noisy-expert episodes, 50 unseen seeds: 2x256, 2,000 steps 2 %
 * success; 2x256, 8,000 steps 10 %; 3x512, 4,000 steps 30 %; 3x512, 8,000 steps 34 %.
 */
const EVAL_BC = { hidden: 512, layers: 3, steps: 4000 };

interface Truth {
  seed: number;
  length: number;
  obs: Float32Array;
  actions: Float32Array;
}

interface Shift {
  name: string;
  description: string;
  profile: ClipProfile;
  /** The config the episodes are re-simulated under (the camera and light change; the physics does not). */
  config: (c: EnvConfig, camera: string) => EnvConfig;
}

const SHIFTS: Shift[] = [
  {
    name: '128x128',
    description: 'rendered at 128x128 (lossless), resampled to the model by label',
    profile: 'lossless',
    config: (c, camera) => ({ ...c, cameras: c.cameras.map((k) => (k.name === camera ? { ...k, resolution: [128, 128] as [number, number] } : k)) }),
  },
  { name: 'h264-420', description: 'H.264 4:2:0 in mp4 (crf 23)', profile: 'h264', config: (c) => c },
  { name: 'vp9-webm', description: 'VP9 4:2:0 in WebM (crf 32)', profile: 'vp9', config: (c) => c },
  {
    name: 'light',
    description: 'another light: from the opposite side, 40 % dimmer, more ambient (lossless)',
    profile: 'lossless',
    config: (c) => ({ ...c, light: { ...c.light, direction: [-c.light.direction[0], -c.light.direction[1], c.light.direction[2]], intensity: c.light.intensity * 0.6, ambient: Math.min(1, c.light.ambient + 0.2) } }),
  },
];

export async function evaluateLabelling(opts: LabelEvalOptions): Promise<LabelEvalSummary> {
  const elapsed = stopwatch();
  const dataset = resolveIn(opts.cwd, opts.dataset);
  const modelDir = resolveIn(opts.cwd, opts.model);
  const out = resolveIn(opts.cwd, opts.out);
  const seeds = checkInt(opts.seeds ?? 100, 'seeds', 0);
  const card = readModelCard(modelDir);
  if (card.action.discrete) {
    throw new TrajforgeError('E_USAGE', `${opts.model}: the model's actions are a discrete set (${card.action.names.join(', ')}); label --eval scores continuous actions only (R², behaviour cloning by regression). \`trajforge label\` labels with it, and \`trajforge eval\` reports how often its inverse model picks the choice taken`);
  }
  const meta = datasetMeta(dataset);
  if (meta.source && meta.source.kind !== 'simulator') {
    throw new TrajforgeError('E_USAGE', `${opts.dataset} holds ${meta.source.kind} episodes; label --eval needs simulated episodes whose true actions it can withhold (trajforge generate)`);
  }
  if (!meta.config) throw new TrajforgeError('E_USAGE', `${opts.dataset} records no environment config; label --eval needs simulated episodes whose true actions it can withhold (trajforge generate)`);
  const resolved: ResolvedEnv = { config: meta.config, hash: meta.configHash, source: dataset };
  const A = card.action.names.length;

  // The truth: each episode's seed, observations and actions (frames are not read here).
  const truth: Truth[] = [];
  const limit = opts.episodes === undefined ? Infinity : checkInt(opts.episodes, 'episodes', 1);
  for await (const ep of readLeRobotEpisodes(dataset, { channels: [] })) {
    if (truth.length >= limit) break;
    truth.push({ seed: ep.seed, length: ep.length, obs: ep.obs, actions: ep.actions });
  }
  if (truth.length === 0) throw new TrajforgeError('E_DATASET_INVALID', `${opts.dataset} has no episodes`);
  const maxLength = Math.max(...truth.map((t) => t.length));
  const trainOverlap = card.dataset.path === dataset ? card.split.train.filter((e) => e < truth.length).length : 0;
  if (trainOverlap > 0) opts.onNotice?.(`the model was trained on ${trainOverlap} of these episodes (${card.dataset.path}); labels of training episodes flatter the model`, 'input');

  const spec: OutputOptions = { kind: 'report', command: 'label-eval', mode: opts.overwrite ? 'overwrite' : 'new', entries: LABEL_EVAL_FILES.map(escapeRegExp), accepts: ['overwrite'], inputs: [dataset, modelDir], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  return writeOutput(out, spec, async () => {
    const work = join(out, '.trajforge-label-eval');
    mkdirSync(work, { recursive: true });
    const variants: (VariantResult & { inferred: Float32Array; confidence: Float32Array })[] = [];
    const shifts = opts.shifts === false ? [] : SHIFTS;
    const total = 1 + shifts.length;
    opts.onProgress?.({ stage: 'variant', done: 0, total, elapsed: elapsed() });

    // The stored videos, as a LeRobot dataset: T frames per episode, so T - 1 labelled steps.
    // The labelled datasets are working files read back for their actions: lossless video where
    // the model's frames have an odd side, which 4:2:0 H.264 (label's default) cannot encode.
    const codec = card.input.width % 2 !== 0 || card.input.height % 2 !== 0 ? { codec: 'lossless' as const } : {};
    const stored = await labelVideos({ videos: dataset, model: modelDir, out: join(out, 'labelled'), env: resolved, episodeLength: maxLength, ...codec, ...(opts.providers ? { providers: opts.providers } : {}), cwd: opts.cwd });
    variants.push({ name: 'stored', description: `the dataset's own videos (${meta.run.codec})`, ...(await compare(join(out, 'labelled'), truth, A, stored, 1)), replayError: null, bcSuccess: null, bcReturn: null });
    opts.onProgress?.({ stage: 'variant', done: 1, total, elapsed: elapsed() });

    for (const [k, shift] of shifts.entries()) {
      const dir = join(work, shift.name);
      mkdirSync(dir, { recursive: true });
      const replayError = await renderShift(shift, resolved, card.camera, truth, dir);
      const labelled = join(work, `${shift.name}-labelled`);
      const s = await labelVideos({ videos: dir, model: modelDir, out: labelled, env: resolved, episodeLength: maxLength, ...codec, ...(opts.providers ? { providers: opts.providers } : {}), cwd: opts.cwd });
      variants.push({ name: shift.name, description: shift.description, ...(await compare(labelled, truth, A, s, 0)), replayError, bcSuccess: null, bcReturn: null });
      removeOwn(dir);
      opts.onProgress?.({ stage: 'variant', done: k + 2, total, elapsed: elapsed() });
    }

    const first = variants[0]!;
    const truthStored = alignedTruth(truth, A, 1);
    const cal = calibration(first.confidence, normalisedErrors(first.inferred, truthStored.actions, A, card.action.low, card.action.high), WRONG);

    let bc: LabelEvalSummary['bc'] = null;
    if (seeds > 0 && A > 0) {
      const env = await createEnv(resolved);
      try {
        const runs = variants.length + 1 + (env.spec.hasExpert ? 1 : 0);
        let done = 0;
        const tick = () => opts.onProgress?.({ stage: 'bc', done: ++done, total: runs, elapsed: elapsed() });
        opts.onProgress?.({ stage: 'bc', done: 0, total: runs, elapsed: elapsed() });
        const options = { ...DEFAULT_BC_OPTIONS, ...EVAL_BC, steps: opts.bcSteps ?? EVAL_BC.steps };
        const box = card.action;
        const success = async (policy: AnyPolicy) => {
          let wins = 0;
          let ret = 0;
          for (let k = 0; k < seeds; k++) {
            const r = await summarizeEpisodeAsync(env, policy, episodeSeed(EVAL_RUN_SEED, k));
            if (r.success) wins++;
            ret += r.return;
          }
          return { success: wins / seeds, meanReturn: ret / seeds };
        };
        const clone = async (x: Float32Array, y: Float32Array, D: number) => {
          const data: BcData = { x, y, inputs: D, actions: A };
          const rows = Int32Array.from({ length: y.length / A }, (_, i) => i);
          const norm = bcNormalisation(data, rows, { low: box.low.map((v) => v ?? -1), high: box.high.map((v) => v ?? 1) });
          const trained = await trainBc(data, rows, norm, options, 'observation');
          const policy = await OnnxPolicy.load(trained.bytes, { file: 'behaviour cloning (in memory)', observationSize: env.observationSpace.shape[0], action: env.actionSpace });
          try {
            return await success(policy);
          } finally {
            await policy.dispose();
          }
        };
        const D = env.observationSpace.shape[0];
        const all = alignedTruth(truth, A, 0);
        const trueActions = await clone(all.obs(D), all.actions, D);
        tick();
        for (const v of variants) {
          const t = alignedTruth(truth, A, v.name === 'stored' ? 1 : 0);
          const r = await clone(t.obs(D), v.inferred, D);
          v.bcSuccess = r.success;
          v.bcReturn = r.meanReturn;
          tick();
        }
        const expert = env.spec.hasExpert ? await success(makePolicy('expert', env)) : null;
        if (expert) tick();
        bc = { seeds, trueActions: trueActions.success, trueActionsReturn: trueActions.meanReturn, expert: expert?.success ?? null, expertReturn: expert?.meanReturn ?? null, options: { hidden: options.hidden, layers: options.layers, steps: options.steps } };
      } finally {
        env.close();
      }
    }

    const summary: LabelEvalSummary = {
      dir: out,
      modelId: card.id,
      envId: meta.envId,
      episodes: truth.length,
      steps: truth.reduce((s, t) => s + t.length, 0),
      labelledEpisodes: card.split.train.length,
      labelledFraction: card.split.train.length / Math.max(1, card.split.train.length + truth.length),
      variants: variants.map(({ inferred: _i, confidence: _c, ...v }) => v),
      calibration: cal,
      bc,
      seconds: elapsed(),
    };
    removeOwn(work);
    writeReport(out, summary, card.action.names, first.inferred, truthStored.actions, truth[0]!.length - 1);
    return summary;
  });
}

/** Labels of a labelled dataset against the truth, episode by episode (each source episode is one labelled episode). */
async function compare(labelled: string, truth: Truth[], A: number, s: LabelSummary, dropLast: number) {
  const inferred: Float32Array[] = [];
  const confidence: Float32Array[] = [];
  for await (const ep of readLeRobotEpisodes(labelled)) {
    inferred.push(ep.actions);
    confidence.push(ep.extras!.find((x) => x.key === CONFIDENCE_KEY)!.data);
  }
  if (inferred.length !== truth.length) throw new TrajforgeError('E_INTERNAL', `label --eval: ${labelled} holds ${inferred.length} episodes for ${truth.length} source episodes`);
  const t = alignedTruth(truth, A, dropLast);
  const flat = concat(inferred.map((a, e) => a.subarray(0, (truth[e]!.length - dropLast) * A)));
  const conf = concat(confidence.map((c, e) => c.subarray(0, truth[e]!.length - dropLast)));
  if (flat.length !== t.actions.length) throw new TrajforgeError('E_INTERNAL', `label --eval: ${flat.length / A} labelled steps for ${t.actions.length / A} true ones`);
  let sum = 0;
  for (const c of conf) sum += c;
  return { agreement: actionAgreement(flat, t.actions, A), meanConfidence: sum / Math.max(1, conf.length), framesPerSecond: s.framesPerSecond, inferred: flat, confidence: conf };
}

/** The true actions (and observations) of every episode's first length − dropLast steps, concatenated. */
function alignedTruth(truth: Truth[], A: number, dropLast: number) {
  const actions = concat(truth.map((t) => t.actions.subarray(0, (t.length - dropLast) * A)));
  return { actions, obs: (D: number) => concat(truth.map((t) => t.obs.subarray(0, (t.length - dropLast) * D))) };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Re-simulates every episode from its seed and recorded actions under the shift's config and writes
 * its T + 1 frames of the model's camera as one video file per episode (names sort in episode
 * order). Returns the largest deviation of the re-simulated observations from the stored ones.
 */
async function renderShift(shift: Shift, resolved: ResolvedEnv, camera: string, truth: Truth[], dir: string): Promise<number> {
  const config = shift.config(resolved.config, camera);
  const cam = config.cameras.find((c) => c.name === camera)!;
  const [width, height] = cam.resolution;
  const env = await createEnv({ ...resolved, config });
  const renderer = new Renderer();
  const fps = Math.round(1 / (config.world.timestep * config.world.substeps));
  const A = env.actionSpace.type === 'box' ? env.actionSpace.shape[0] : 1;
  const D = env.observationSpace.shape[0];
  let worst = 0;
  try {
    for (const [e, t] of truth.entries()) {
      const stored = { episode: e, seed: t.seed, length: t.length, obsDim: D, obs: t.obs, actions: t.actions, actionDim: A, discrete: false };
      const { episode: ep, maxDeviation } = await replayEpisode(env, renderer, stored, [{ name: camera, channels: ['rgb'] }]);
      worst = Math.max(worst, maxDeviation);
      const P = width * height * 3;
      const frames = new Uint8Array((ep.length + 1) * P);
      frames.set(ep.frames.find((f) => f.camera === camera)!.data as Uint8Array);
      frames.set(ep.finalFrames.find((f) => f.camera === camera)!.data as Uint8Array, ep.length * P);
      writeClip(join(dir, `episode_${String(e).padStart(6, '0')}.${CLIP_PROFILES[shift.profile].extension}`), frames, ep.length + 1, { width, height, fps, profile: shift.profile });
    }
  } finally {
    env.close();
  }
  return worst;
}

/** label-eval.json, label-eval.md and the pictures. */
function writeReport(dir: string, s: LabelEvalSummary, actionNames: readonly string[], inferred: Float32Array, truth: Float32Array, firstLength: number): void {
  const A = actionNames.length;
  writeFileAtomic(join(dir, 'label-eval.json'), `${JSON.stringify(s, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const x = Array.from({ length: firstLength }, (_, t) => t);
  const charts = {
    'actions.png': lineChart({
      title: 'Episode 0: inferred vs true actions (stored videos)',
      xLabel: 'step',
      yLabel: 'action (env units)',
      series: actionNames.flatMap((name, i) => [
        { name: `${name} true`, x, y: x.map((t) => truth[t * A + i]!) },
        { name: `${name} inferred`, x, y: x.map((t) => inferred[t * A + i]!), dashed: true },
      ]),
    }),
    'calibration.png': lineChart({
      title: 'Label error by confidence decile (stored videos)',
      xLabel: 'mean confidence of the decile',
      yLabel: 'fraction of the action range',
      series: [
        { name: 'mean error', x: s.calibration.bins.map((b) => b.meanConfidence), y: s.calibration.bins.map((b) => b.meanError) },
        { name: `share wrong (> ${WRONG})`, x: s.calibration.bins.map((b) => b.meanConfidence), y: s.calibration.bins.map((b) => b.wrong), dashed: true },
      ],
    }),
    'shift.png': barChart({ title: 'Mean action R2 by video source', yLabel: 'R2', labels: s.variants.map((v) => v.name), values: s.variants.map((v) => v.agreement.meanR2) }),
  };
  for (const [name, img] of Object.entries(charts)) writeFileAtomic(join(dir, name), encodePng(img.width, img.height, img.data));
  writeFileAtomic(join(dir, 'label-eval.md'), reportMarkdown(s, actionNames));
}

const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(1)} %`);
const num = (v: number | null) => (v !== null && Number.isFinite(v) ? v.toFixed(3) : 'n/a');

export function reportMarkdown(s: LabelEvalSummary, actionNames: readonly string[]): string {
  const stored = s.variants[0]!;
  const ratio = s.bc && s.bc.trueActions > 0 && stored.bcSuccess !== null ? stored.bcSuccess / s.bc.trueActions : null;
  const lines = [
    `# label --eval: ${s.envId}, model ${s.modelId}`,
    '',
    `${s.episodes} episodes (${s.steps} steps) labelled with their actions withheld. The model was trained on ${s.labelledEpisodes} labelled episodes: ${pct(s.labelledFraction)} of the ${s.labelledEpisodes + s.episodes} episodes used here.`,
    '',
    '## Targets',
    '',
    '| target | value | met |',
    '|---|---|---|',
    `| inferred actions R2 >= 0.85 (stored videos, mean over dims) | ${num(stored.agreement.meanR2)} | ${stored.agreement.meanR2 >= 0.85 ? 'yes' : 'no'} |`,
    `| BC on inferred >= 80 % of BC on true actions (success) | ${ratio === null ? 'n/a' : pct(ratio)} | ${ratio === null ? 'n/a' : ratio >= 0.8 ? 'yes' : 'no'} |`,
    `| label >= 2,000 frames/s including decoding | ${stored.framesPerSecond.toFixed(0)} | ${stored.framesPerSecond >= 2000 ? 'yes' : 'no'} |`,
    '',
    '## Agreement and domain shift',
    '',
    `| video | ${actionNames.map((n) => `R2 ${n}`).join(' | ')} | ${actionNames.map((n) => `MAE ${n}`).join(' | ')} | mean confidence | BC success | BC return | frames/s | replay error |`,
    `|---|${actionNames.map(() => '---|').join('')}${actionNames.map(() => '---|').join('')}---|---|---|---|---|`,
    ...s.variants.map(
      (v) =>
        `| ${v.name}: ${v.description} | ${v.agreement.r2.map(num).join(' | ')} | ${v.agreement.mae.map(num).join(' | ')} | ${num(v.meanConfidence)} | ${pct(v.bcSuccess)} | ${v.bcReturn === null ? 'n/a' : v.bcReturn.toFixed(2)} | ${v.framesPerSecond.toFixed(0)} | ${v.replayError === null ? '-' : v.replayError.toExponential(1)} |`,
    ),
    '',
    s.bc
      ? `Behaviour cloning (observation -> action, ${s.bc.options.layers}x${s.bc.options.hidden} MLP, ${s.bc.options.steps} steps; ${s.bc.seeds} simulator episodes each on unseen seeds): true actions ${pct(s.bc.trueActions)} success (mean return ${s.bc.trueActionsReturn.toFixed(2)})${s.bc.expert === null ? '' : `, the scripted expert ${pct(s.bc.expert)} (${s.bc.expertReturn!.toFixed(2)})`}.`
      : 'The VPT test was not run (--seeds 0, or no actions).',
    '',
    '## Calibration (stored videos)',
    '',
    `A label is wrong when it is off by more than ${WRONG} of some dimension's range: ${pct(s.calibration.wrongRate)} of labels. ROC area of low confidence as a detector of wrong labels: ${num(s.calibration.auroc)} (0.5 is chance); Spearman correlation of confidence with error: ${num(s.calibration.spearman)}.`,
    '',
    '| confidence | steps | mean error | wrong |',
    '|---|---|---|---|',
    ...s.calibration.bins.map((b) => `| ${b.from.toFixed(3)} - ${b.to.toFixed(3)} | ${b.steps} | ${num(b.meanError)} | ${pct(b.wrong)} |`),
    '',
    '![actions](actions.png) ![calibration](calibration.png) ![shift](shift.png)',
    '',
  ];
  return lines.join('\n');
}
