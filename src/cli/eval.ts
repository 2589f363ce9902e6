import { join, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { writeFileAtomic } from '../output/atomic.js';
import { REPORT_ENTRIES, writeOutput, preflightOutput } from '../output/folder.js';
import { copyLastBaseline, evaluateWorldModel, predictWindow, type EvaluationInputs } from '../model/evaluate.js';
import { fitLinearWorldModel, linearAsLatentModel } from '../model/linear-baseline.js';
import { parseProviders, PROVIDERS_ENV } from '../model/onnx/runtime.js';
import { WorldModelSession } from '../model/session.js';
import { checkModelTarget, datasetTarget } from '../model/card.js';
import { datasetMeta } from '../export/lerobot/episodes.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { encodePng } from '../render/png.js';
import { reportCharts, reportJson, reportMarkdown, targets } from '../report/world-model-report.js';
import { intOption, parse } from './args.js';
import { outputOptions, type Command } from './io.js';
import { loadModelData, splitEpisodes } from './model-data.js';
import { episodeRows, varyingColumns } from '../model/transitions.js';

/** State features that are object positions: names ending in .x / .y / .z. */
export function positionColumns(names: readonly string[]): number[] {
  return names.flatMap((n, i) => (/\.(x|y|z)$/.test(n) ? [i] : []));
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a world model on held-out episodes against the PCA baseline and copy-last (report.json, report.md, PNG plots)',
  usage: 'trajforge eval --model MODEL_DIR DATASET [--out DIR (default MODEL_DIR/eval)] [--horizon 10] [--context 1]',
  async run(args, io) {
    const { values, positionals } = parse(args, { model: { type: 'string' }, out: { type: 'string' }, horizon: { type: 'string' }, context: { type: 'string' } }, this.usage);
    const dataset = positionals[0];
    if (!dataset || !values.model) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const horizon = intOption(values.horizon as string | undefined, 'horizon', 10, 1);
    const context = intOption(values.context as string | undefined, 'context', 1, 1);
    if (context !== 1) throw new TrajforgeError('E_USAGE', '--context: this model is Markov in its latent and conditions on the last context frame; use --context 1');
    const out = resolve(io.cwd, (values.out as string | undefined) ?? join(values.model as string, 'eval'));
    const reportOutput = outputOptions(io, { kind: 'report', command: 'eval', mode: 'overwrite', entries: REPORT_ENTRIES, inputs: [dataset], hosts: [values.model as string] });
    preflightOutput(out, reportOutput);
    const started = performance.now();
    const modelDir = resolve(io.cwd, values.model as string);
    const card = readModelCard(modelDir);
    // Refused before anything is loaded or written: a report of a model on another
    // environment's data is meaningless and would replace the model's own report.
    const { note } = checkModelTarget(card, datasetTarget(datasetMeta(resolve(io.cwd, dataset)), dataset));
    if (note) io.err(`note: ${note}\n`);
    const session = await WorldModelSession.load(card, readModelParts(modelDir, card), { providers: parseProviders(process.env[PROVIDERS_ENV]) }, modelDir);
    try {
      const data = await loadModelData(dataset, io.cwd, { camera: card.camera, downsample: card.input.downsample });
      const t = data.transitions;
      // The model's own held-out episodes when this is its training dataset; otherwise the same rule.
      const sameData = data.meta.configHash === card.dataset.config_hash && data.episodes.length === card.dataset.episodes;
      const split = sameData ? card.split : splitEpisodes(data.episodes.length);
      const stateColumns = varyingColumns(t.states, episodeRows(t, split.heldout).frames);
      const inputs: EvaluationInputs = {
        t,
        trainEpisodes: split.train,
        heldoutEpisodes: split.heldout,
        horizon,
        positionColumns: positionColumns(data.meta.observationNames).filter((c) => stateColumns.includes(c)),
        stateColumns,
      };
      io.err(`evaluating ${card.id} on ${split.heldout.length} held-out episodes of ${dataset} ...\n`);
      const fitStart = performance.now();
      const linear = fitLinearWorldModel(t, split.train, { latent: card.latent, seed: 0, maxFitFrames: 2000 });
      const baselineFitSeconds = (performance.now() - fitStart) / 1000;
      const baseline = linearAsLatentModel(linear);
      const [modelEval, baselineEval] = [await evaluateWorldModel(session, inputs), await evaluateWorldModel(baseline, inputs)];
      const copyLast = copyLastBaseline(inputs);
      // Example picture: the longest held-out episode's first window.
      const exEpisode = split.heldout.reduce((best, e) => (t.lengths[e]! > t.lengths[best]! ? e : best), split.heldout[0]!);
      const D = t.frames.cols;
      const ctxRow = t.frameStarts[exEpisode]!;
      const exH = Math.min(horizon, t.lengths[exEpisode]!);
      const truth = Float32Array.from(t.frames.data.subarray((ctxRow + 1) * D, (ctxRow + 1 + exH) * D));
      const copy = new Float32Array(exH * D);
      for (let h = 0; h < exH; h++) copy.set(t.frames.data.subarray(ctxRow * D, (ctxRow + 1) * D), h * D);
      const steps = [1, Math.ceil(exH / 2), exH].filter((v, i, a) => a.indexOf(v) === i);
      const report = {
        model: { id: card.id, dir: values.model as string, kind: card.kind, latent: card.latent, trainingSeconds: card.training.seconds },
        dataset: { dir: dataset, envId: data.meta.envId, heldoutEpisodes: split.heldout.length, windows: modelEval.openLoop.windows, width: t.width, height: t.height },
        horizon,
        context,
        model_eval: modelEval,
        baseline: baselineEval,
        baselineFitSeconds,
        copyLast,
        examples: { truth, model: await predictWindow(session, t, exEpisode, 0, exH), baseline: await predictWindow(baseline, t, exEpisode, 0, exH), copy, steps },
        timing: { evalSeconds: (performance.now() - started) / 1000 },
      };
      const charts = reportCharts(report);
      // A report folder is replaced whole (a stale chart never sits beside a new report), and only
      // when trajforge wrote it: a user folder given as --out is refused untouched.
      await writeOutput(out, reportOutput, async () => {
        for (const [name, img] of Object.entries(charts)) writeFileAtomic(join(out, name), encodePng(img.width, img.height, img.data));
        writeFileAtomic(join(out, 'report.json'), `${JSON.stringify(reportJson(report), (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
        writeFileAtomic(join(out, 'report.md'), reportMarkdown(report, Object.keys(charts)));
      });
      io.out(`report -> ${join((values.out as string | undefined) ?? join(values.model as string, 'eval'), 'report.md')}\n`);
      for (const tg of targets(report)) io.out(`  ${tg.pass ? 'pass' : 'MISS'}  ${tg.name}: ${tg.value.toFixed(3)} (target ${tg.target})\n`);
      const i = horizon - 1;
      io.out(`  ${horizon}-step MSE: model ${modelEval.openLoop.trueActions.mse[i]!.toExponential(3)}, PCA ${baselineEval.openLoop.trueActions.mse[i]!.toExponential(3)}, copy-last ${copyLast.mse[i]!.toExponential(3)}\n`);
      return 0;
    } finally {
      await session.release();
    }
  },
};
