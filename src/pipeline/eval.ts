import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { REPORT_ENTRIES, preflightOutput, writeOutput, type OutputOptions } from '../output/folder.js';
import { checkModelTarget, datasetTarget, type ModelCard } from '../model/card.js';
import { copyLastBaseline, evaluateWorldModel as evaluateModel, predictWindow, probeColumns, PROBE_MIN_RELATIVE_SPREAD, type EvaluationInputs } from '../model/evaluate.js';
import { cardParts } from '../model/export.js';
import { exportLinearModel } from '../model/linear/export.js';
import { fitLinearOnnx, pcaComponentsFor, type LinearWorldModel } from '../model/linear/model.js';
import { encoderContext, WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { episodeRows, frameRows, varyingColumns } from '../model/transitions.js';
import { encodePng } from '../render/png.js';
import { reportCharts, reportJson, reportMarkdown, targets, type Target } from '../report/world-model-report.js';
import { loadModelData, readModelDatasetMeta, splitEpisodes } from './model-data.js';
import { checkInt, outputNotices, resolveIn, stopwatch, type PipelineCallbacks, type StageProgress } from './progress.js';

/**
 * The state columns a linear probe decodes from the latent: the scene's configuration, i.e. body and
 * goal positions (`.x`, `.y`, `.z`) and joint angles (`.angle`, or `.sin` / `.cos`), whatever the
 * environment. Velocities are left out (one frame does not show them) and so are orientation
 * quaternions (q and -q are one rotation, which no linear read-out follows).
 */
export function positionColumns(names: readonly string[]): number[] {
  return names.flatMap((n, i) => (/\.(x|y|z|angle|sin|cos)$/.test(n) ? [i] : []));
}

/**
 * read: the dataset (0 of 1, then 1 of 1); evaluate: 0 of 3 once the held-out split is known (with
 * the model's id and the number of held-out episodes), then the model, the PCA baseline and
 * copy-last; write: the report (0 of 1, then 1 of 1).
 */
export type EvalProgress = StageProgress<'read' | 'write'> | (StageProgress<'evaluate'> & { modelId: string; heldoutEpisodes: number });

export interface EvalOptions extends PipelineCallbacks<EvalProgress> {
  /** A model folder (trajforge train). */
  model: string;
  /** A trajforge LeRobot dataset of the model's environment; named in errors as given. */
  dataset: string;
  /**
   * The report folder (default MODEL/eval): replaced whole when trajforge wrote it; a folder of
   * the user's is refused untouched.
   */
  out?: string;
  /** Open-loop steps (>= 1). Default 10. */
  horizon?: number;
  /** Context frames; the model is Markov in its latent, so only 1 is accepted. */
  context?: number;
  /** onnxruntime execution providers, in order of preference (default: the CPU). */
  providers?: readonly string[];
}

/** A figure of the report, its target (e.g. '>= 40%') and whether it is met. */
export type EvalTarget = Target;

export interface EvalSummary {
  /** The absolute report folder, holding report.json, report.md and PNG charts. */
  dir: string;
  modelId: string;
  heldoutEpisodes: number;
  horizon: number;
  /** The report's targets, each met or missed. */
  targets: EvalTarget[];
  /** Per-pixel MSE at the last open-loop step (`horizon`). */
  mse: { model: number; baseline: number; copyLast: number };
  seconds: number;
}

/**
 * Evaluates a world model on held-out episodes (the model's own split on its training dataset)
 * against the PCA + bilinear baseline and copy-last, and writes report.json, report.md and charts.
 */
export async function evaluateWorldModel(opts: EvalOptions): Promise<EvalSummary> {
  const elapsed = stopwatch();
  const dataset = opts.dataset;
  let horizon = checkInt(opts.horizon ?? DEFAULT_HORIZON, 'horizon', 1);
  const asked = opts.context === undefined ? undefined : checkInt(opts.context, 'context', 1);
  const out = resolveIn(opts.cwd, opts.out ?? join(opts.model, 'eval'));
  const reportOutput: OutputOptions = { kind: 'report', command: 'eval', mode: 'overwrite', entries: REPORT_ENTRIES, inputs: [dataset], hosts: [opts.model], cwd: opts.cwd, onNotice: outputNotices(opts.onNotice) };
  preflightOutput(out, reportOutput);
  const started = performance.now();
  const modelDir = resolveIn(opts.cwd, opts.model);
  const card = readModelCard(modelDir);
  // The model is Markov in its latent: it conditions on as many frames as its encoder sees.
  const context = encoderContext(card);
  if (asked !== undefined && asked !== context) throw new TrajforgeError('E_USAGE', `--context ${asked}: the model's encoder sees ${context} frame(s) per latent (model.json input.context), so predictions start from ${context} context frame(s); use --context ${context} or leave it out`);
  // Refused before anything is loaded or written: a report of a model on another
  // environment's data is meaningless and would replace the model's own report.
  const { note } = checkModelTarget(card, datasetTarget(await readModelDatasetMeta(resolveIn(opts.cwd, dataset)), dataset));
  if (note) opts.onNotice?.(note, 'input');
  const session = await WorldModelSession.load(card, readModelParts(modelDir, card), { providers: opts.providers }, modelDir);
  let baseline: WorldModelSession | undefined;
  try {
    opts.onProgress?.({ stage: 'read', done: 0, total: 1, elapsed: elapsed() });
    const data = await loadModelData(dataset, opts.cwd, { camera: card.camera, downsample: card.input.downsample });
    opts.onProgress?.({ stage: 'read', done: 1, total: 1, elapsed: elapsed() });
    const t = data.transitions;
    // The model's own held-out episodes when this is its training dataset; otherwise the same rule.
    const sameData = data.meta.configHash === card.dataset.config_hash && data.episodes.length === card.dataset.episodes;
    const split = sameData ? card.split : splitEpisodes(data.episodes.length);
    // Windows of `horizon` steps fit in held-out episodes at least that long: with short episodes
    // the default horizon shrinks to the longest (an explicit --horizon does not).
    const longest = Math.max(...split.heldout.map((e) => t.lengths[e]!));
    if (horizon > longest) {
      if (opts.horizon !== undefined) throw new TrajforgeError('E_USAGE', `--horizon ${horizon}: the longest held-out episode of ${dataset} has ${longest} steps; use --horizon ${longest} or less`);
      opts.onNotice?.(`horizon ${longest} steps, not ${DEFAULT_HORIZON}: the longest held-out episode of ${dataset} has ${longest}`, 'input');
      horizon = longest;
    }
    const heldoutFrames = episodeRows(t, split.heldout).frames;
    const stateColumns = varyingColumns(t.states, heldoutFrames);
    const probe = probeColumns(
      data.meta.observationNames,
      positionColumns(data.meta.observationNames).filter((c) => stateColumns.includes(c)),
      t.states,
      heldoutFrames,
    );
    if (probe.skipped.length > 0) opts.onNotice?.(`the linear probe leaves out ${probe.skipped.map((k) => `${k.name} (sd ${k.sd.toPrecision(2)})`).join(', ')}: in the held-out frames each moves less than ${100 * PROBE_MIN_RELATIVE_SPREAD} % of the widest column of their kind`, 'input');
    const inputs: EvaluationInputs = {
      t,
      trainEpisodes: split.train,
      heldoutEpisodes: split.heldout,
      horizon,
      positionColumns: probe.probed,
      stateColumns,
      discrete: card.action.discrete ?? false,
    };
    const positionNames = inputs.positionColumns.map((c) => data.meta.observationNames[c]!);
    const evaluated = (done: number) => opts.onProgress?.({ stage: 'evaluate', done, total: 3, elapsed: elapsed(), modelId: card.id, heldoutEpisodes: split.heldout.length });
    evaluated(0);
    const fitStart = performance.now();
    // The model's latent size, unless the training split holds too few frames for that many
    // principal components (a PCA of n frames has at most n − 1).
    const { components: baselineLatent, fitFrames } = pcaComponentsFor(t, split.train, card.latent, BASELINE_FIT_FRAMES);
    if (baselineLatent < card.latent) opts.onNotice?.(`the PCA baseline has ${baselineLatent} components, not the model's ${card.latent}: the training episodes hold ${fitFrames} frames`, 'input');
    const linear = await fitLinearOnnx(t, split.train, { latent: baselineLatent, seed: 0, maxFitFrames: BASELINE_FIT_FRAMES });
    const baselineFitSeconds = (performance.now() - fitStart) / 1000;
    // The baseline runs as the graphs `train --arch linear` exports: its encode and decode are
    // Gemms over every pixel, which onnxruntime does two orders of magnitude faster than JS loops.
    baseline = await WorldModelSession.load(linearCard(card, linear.model), exportLinearModel(linear.model, linear.heads, t.actions.cols), { providers: opts.providers });
    const modelEval = await evaluateModel(session, inputs);
    evaluated(1);
    const baselineEval = await evaluateModel(baseline, inputs);
    evaluated(2);
    const copyLast = copyLastBaseline(inputs);
    evaluated(3);
    // Example picture: the longest held-out episode's first window.
    const exEpisode = split.heldout.reduce((best, e) => (t.lengths[e]! > t.lengths[best]! ? e : best), split.heldout[0]!);
    const D = t.width * t.height * 3;
    const ctxRow = t.frameStarts[exEpisode]!;
    const exH = Math.min(horizon, t.lengths[exEpisode]!);
    const truth = frameRows(t, Array.from({ length: exH }, (_, h) => ctxRow + 1 + h));
    const contextFrame = frameRows(t, [ctxRow]);
    const copy = new Float32Array(exH * D);
    for (let h = 0; h < exH; h++) copy.set(contextFrame, h * D);
    const steps = [1, Math.ceil(exH / 2), exH].filter((v, i, a) => a.indexOf(v) === i);
    const report = {
      model: { id: card.id, dir: opts.model, kind: card.kind, latent: card.latent, trainingSeconds: card.training.seconds },
      dataset: { dir: dataset, envId: data.meta.envId, heldoutEpisodes: split.heldout.length, windows: modelEval.openLoop.windows, width: t.width, height: t.height, actionDims: t.actions.cols, actionNames: card.action.names, positionNames, probeSkipped: probe.skipped },
      horizon,
      context,
      model_eval: modelEval,
      baseline: baselineEval,
      baselineFitSeconds,
      baselineLatent,
      copyLast,
      examples: { truth, model: await predictWindow(session, t, exEpisode, 0, exH), baseline: await predictWindow(baseline, t, exEpisode, 0, exH), copy, steps },
      timing: { evalSeconds: (performance.now() - started) / 1000 },
    };
    const charts = reportCharts(report);
    opts.onProgress?.({ stage: 'write', done: 0, total: 1, elapsed: elapsed() });
    // A report folder is replaced whole (a stale chart never sits beside a new report), and only
    // when trajforge wrote it: a user folder given as --out is refused untouched.
    await writeOutput(out, reportOutput, async () => {
      for (const [name, img] of Object.entries(charts)) writeFileAtomic(join(out, name), encodePng(img.width, img.height, img.data));
      writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(reportJson(report), (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      writeFileAtomic(join(out, 'report.md'), reportMarkdown(report, Object.keys(charts)));
    });
    opts.onProgress?.({ stage: 'write', done: 1, total: 1, elapsed: elapsed() });
    const i = horizon - 1;
    return {
      dir: out,
      modelId: card.id,
      heldoutEpisodes: split.heldout.length,
      horizon,
      targets: targets(report),
      mse: { model: modelEval.openLoop.trueActions.mse[i]!, baseline: baselineEval.openLoop.trueActions.mse[i]!, copyLast: copyLast.mse[i]! },
      seconds: elapsed(),
    };
  } finally {
    await baseline?.release();
    await session.release();
  }
}

/** Open-loop steps eval scores unless told otherwise (fewer when every held-out episode is shorter). */
const DEFAULT_HORIZON = 10;

/** Frames the PCA baseline is fitted on at most (spread over the training episodes). */
const BASELINE_FIT_FRAMES = 2000;

/** The card of the baseline fitted for `card`'s model: the same data and sizes, the linear graphs' kind, latent and tensors. */
function linearCard(card: ModelCard, m: LinearWorldModel): ModelCard {
  const latent = m.pca.components.rows;
  const shape = { inputWidth: m.inputWidth, inputHeight: m.inputHeight, width: m.width, height: m.height, latent, actionDim: card.action.names.length };
  const { context: _encoderContext, ...input } = card.input; // the baseline sees one frame
  return { ...card, kind: 'linear', input, latent, state: { names: [], latent_dims: [], mean: [], std: [] }, parts: cardParts(shape) };
}
