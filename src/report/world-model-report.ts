/**
 * Turns evaluations into report.json, report.md and chart images. Pure: the CLI writes the files.
 */
import { PROBE_MIN_RELATIVE_SPREAD, type ModelEvaluation, type PerStep } from '../model/evaluate.js';
import { barChart, imageGrid, lineChart, type RgbImage } from './plot.js';

export interface ReportInputs {
  model: { id: string; dir: string; kind: string; latent: number; trainingSeconds: number };
  /**
   * actionDims 0: an environment without actions (no controllability or inverse-dynamics targets).
   * actionNames: the action dimensions in order; positionNames: the probed state columns, in the
   * order of representation.probeR2PerColumn.
   */
  dataset: { dir: string; envId: string; heldoutEpisodes: number; windows: number; width: number; height: number; actionDims?: number; actionNames: readonly string[]; positionNames: readonly string[]; probeSkipped?: readonly { name: string; sd: number }[] };
  horizon: number;
  context: number;
  model_eval: ModelEvaluation;
  baseline: ModelEvaluation;
  baselineFitSeconds: number;
  /** The baseline's latent size: the model's, unless the training split has too few frames. */
  baselineLatent: number;
  copyLast: PerStep;
  /** Rows of frames for the example picture: truth, model, baseline, copy-last; each H frames. */
  examples?: { truth: Float32Array; model: Float32Array; baseline: Float32Array; copy: Float32Array; steps: number[] };
  timing: { evalSeconds: number };
}

export interface Target {
  name: string;
  value: number;
  target: string;
  pass: boolean;
  /** The unit value and target are read in: '%' (value is a fraction, shown times 100), 'dB', or '' (a plain number). */
  unit: '%' | 'dB' | '';
}

/** A target's value in its target's unit: `45.0 %`, `0.93 dB`, `0.871`. */
export function formatTargetValue(t: Pick<Target, 'value' | 'unit'>): string {
  if (!Number.isFinite(t.value)) return 'n/a';
  if (t.unit === '%') return `${(100 * t.value).toFixed(1)} %`;
  if (t.unit === 'dB') return `${t.value.toFixed(2)} dB`;
  return t.value.toFixed(3);
}

/**
 * The targets every environment is held to (none depends on which one): 30 % below copy-last and
 * below the PCA baseline at the horizon; with actions, ΔPSNR >= 1 dB and inverse-dynamics R² >=
 * 0.8; with positions or joint angles in the state, a linear probe R² >= 0.8.
 */
export function targets(r: ReportInputs): Target[] {
  const H = r.horizon;
  const m = r.model_eval.openLoop.trueActions.mse[H - 1]!;
  const copy = r.copyLast.mse[H - 1]!;
  const pca = r.baseline.openLoop.trueActions.mse[H - 1]!;
  const dpsnr = r.model_eval.openLoop.trueActions.psnr[H - 1]! - r.model_eval.openLoop.shuffledActions.psnr[H - 1]!;
  const out: Target[] = [
    { name: `${H}-step MSE below copy-last`, value: 1 - m / copy, target: '>= 30 %', pass: 1 - m / copy >= 0.3, unit: '%' },
    // A margin, so that float32-vs-float64 noise between two equal models never reads as a win.
    { name: `${H}-step MSE below the PCA baseline`, value: 1 - m / pca, target: '> 0.5 %', pass: 1 - m / pca > 0.005, unit: '%' },
  ];
  if (r.dataset.actionDims !== 0) {
    out.push({ name: `ΔPSNR at ${H} steps`, value: dpsnr, target: '>= 1 dB', pass: dpsnr >= 1, unit: 'dB' });
    const choice = r.model_eval.inverseChoice;
    // A discrete set's inverse model is judged by the choice it picks (R² of one-hot rows is reported below).
    if (choice) out.push({ name: 'inverse-dynamics choice accuracy', value: choice.accuracy, target: '>= 0.8', pass: choice.accuracy >= 0.8, unit: '' });
    else out.push({ name: 'inverse-dynamics R²', value: r.model_eval.inverseR2, target: '>= 0.8', pass: r.model_eval.inverseR2 >= 0.8, unit: '' });
  }
  const probe = r.model_eval.representation.probeR2;
  if (Number.isFinite(probe)) out.push({ name: 'linear probe R² to positions and joint angles', value: probe, target: '>= 0.8', pass: probe >= 0.8, unit: '' });
  return out;
}

/** ` (vx 0.912, vy 0.850)`: each named R², where there is more than one. */
function perName(names: readonly string[], values: readonly number[]): string {
  if (values.length < 2) return '';
  return ` (${values.map((v, i) => `${names[i]} ${fmt(v, 3)}`).join(', ')})`;
}

const fmt = (v: number | undefined, digits = 4) => (v === undefined || !Number.isFinite(v) ? 'n/a' : Math.abs(v) < 0.01 && v !== 0 ? v.toExponential(2) : v.toFixed(digits));

export function reportJson(r: ReportInputs): unknown {
  const H = r.horizon;
  const steps = Array.from({ length: H }, (_, i) => i + 1);
  const m = r.model_eval;
  return {
    model: r.model,
    dataset: r.dataset,
    context: r.context,
    horizon: H,
    open_loop: {
      steps,
      model: m.openLoop.trueActions,
      model_shuffled_actions: m.openLoop.shuffledActions,
      delta_psnr: steps.map((_, i) => m.openLoop.trueActions.psnr[i]! - m.openLoop.shuffledActions.psnr[i]!),
      pca_baseline: r.baseline.openLoop.trueActions,
      pca_baseline_delta_psnr: steps.map((_, i) => r.baseline.openLoop.trueActions.psnr[i]! - r.baseline.openLoop.shuffledActions.psnr[i]!),
      copy_last: r.copyLast,
    },
    latent_nmse: { model: m.openLoop.latentNmse, pca_baseline: r.baseline.openLoop.latentNmse },
    reward_head: m.reward ?? null,
    done_head: m.done ?? null,
    inverse_r2: { model: m.inverseR2, pca_baseline: r.baseline.inverseR2, per_action: { names: r.dataset.actionNames, model: m.inverseR2PerAction, pca_baseline: r.baseline.inverseR2PerAction } },
    ...(m.inverseChoice ? { inverse_choice: { model: m.inverseChoice.accuracy, pca_baseline: r.baseline.inverseChoice?.accuracy ?? null, majority: m.inverseChoice.majority } } : {}),
    representation: { model: m.representation, pca_baseline: r.baseline.representation, position_names: r.dataset.positionNames, probe_skipped: r.dataset.probeSkipped ?? [], mutual_knn_chance: m.representation.knn / Math.max(1, m.representation.samples) },
    targets: targets(r),
    baseline_fit_seconds: r.baselineFitSeconds,
    baseline_latent: r.baselineLatent,
    timing: r.timing,
  };
}

/** Every file an eval report folder holds: the report, its Markdown and its charts (what --overwrite may replace there). */
export const REPORT_FILES = ['report.json', 'report.md', 'mse.png', 'psnr.png', 'ssim.png', 'representation.png', 'examples.png'] as const;

export function reportCharts(r: ReportInputs): Record<string, RgbImage> {
  const H = r.horizon;
  const x = Array.from({ length: H }, (_, i) => i + 1);
  const m = r.model_eval.openLoop;
  const b = r.baseline.openLoop;
  const charts: Record<string, RgbImage> = {
    'mse.png': lineChart({
      title: 'Open-loop pixel MSE (held-out episodes)',
      xLabel: 'steps ahead',
      yLabel: 'MSE',
      series: [
        { name: 'world model', x, y: m.trueActions.mse },
        { name: 'PCA + bilinear', x, y: b.trueActions.mse },
        { name: 'copy last frame', x, y: r.copyLast.mse, dashed: true },
      ],
    }),
    'psnr.png': lineChart({
      title: 'Open-loop PSNR: true vs shuffled actions',
      xLabel: 'steps ahead',
      yLabel: 'PSNR (dB)',
      series: [
        { name: 'world model', x, y: m.trueActions.psnr },
        { name: 'world model, shuffled actions', x, y: m.shuffledActions.psnr, dashed: true },
        { name: 'PCA + bilinear', x, y: b.trueActions.psnr },
        { name: 'copy last frame', x, y: r.copyLast.psnr, dashed: true },
      ],
    }),
    'ssim.png': lineChart({
      title: 'Open-loop SSIM',
      xLabel: 'steps ahead',
      yLabel: 'SSIM',
      series: [
        { name: 'world model', x, y: m.trueActions.ssim },
        { name: 'PCA + bilinear', x, y: b.trueActions.ssim },
        { name: 'copy last frame', x, y: r.copyLast.ssim, dashed: true },
      ],
    }),
    'representation.png': barChart({
      title: 'Representation vs true state (held-out)',
      yLabel: 'score',
      labels: ['probe R2 model', 'probe R2 PCA', 'mkNN model', 'mkNN PCA', 'CKA model', 'CKA PCA', 'inverse R2 model', 'inverse R2 PCA'],
      values: [
        r.model_eval.representation.probeR2,
        r.baseline.representation.probeR2,
        r.model_eval.representation.mutualKnn,
        r.baseline.representation.mutualKnn,
        r.model_eval.representation.cka,
        r.baseline.representation.cka,
        Math.max(-1, r.model_eval.inverseR2),
        Math.max(-1, r.baseline.inverseR2),
      ],
    }),
  };
  if (r.examples) charts['examples.png'] = examplesPicture(r);
  return charts;
}

function toImage(frames: Float32Array, index: number, width: number, height: number): RgbImage {
  const D = width * height * 3;
  const data = new Uint8Array(D);
  for (let i = 0; i < D; i++) data[i] = Math.round(Math.min(1, Math.max(0, frames[index * D + i]!)) * 255);
  return { width, height, data };
}

/** Rows: truth, world model, PCA baseline, copy-last; columns: the chosen steps ahead. */
function examplesPicture(r: ReportInputs): RgbImage {
  const ex = r.examples!;
  const { width, height } = r.dataset;
  const rows = [ex.truth, ex.model, ex.baseline, ex.copy].map((frames) => ex.steps.map((s) => toImage(frames, s - 1, width, height)));
  return imageGrid(rows, { gap: 2, scale: 4, captions: ex.steps.map((s) => `t+${s}`), rowLabels: ['truth', 'world model', 'PCA baseline', 'copy-last'] });
}

export function reportMarkdown(r: ReportInputs, charts: readonly string[]): string {
  const H = r.horizon;
  const m = r.model_eval;
  const b = r.baseline;
  const rows = [1, Math.min(5, H), H].filter((v, i, a) => a.indexOf(v) === i);
  const lines = [
    `# World model evaluation: ${r.model.id}`,
    '',
    `Model \`${r.model.dir}\` (${r.model.kind}, latent ${r.model.latent}, trained in ${r.model.trainingSeconds.toFixed(0)} s) on ${r.dataset.envId}, ` +
      `${r.dataset.heldoutEpisodes} held-out episodes (${r.dataset.windows} windows of ${H} steps), ${r.dataset.width}x${r.dataset.height} frames, ` +
      `${r.context} context frame. Predictions are decoded as context frame + D(predicted z) − D(context z). ` +
      `The PCA + bilinear-ridge baseline (${r.baselineLatent === r.model.latent ? 'same latent size' : `latent ${r.baselineLatent}: the training episodes hold too few frames for ${r.model.latent}`}) was fitted on the training episodes in ${r.baselineFitSeconds.toFixed(1)} s.`,
    '',
    '## Targets',
    '',
    '| target | value | goal | |',
    '|---|---|---|---|',
    ...targets(r).map((t) => `| ${t.name} | ${formatTargetValue(t)} | ${t.target} | ${t.pass ? 'pass' : '**miss**'} |`),
    '',
    '## Open-loop prediction',
    '',
    '| steps | model MSE | PCA MSE | copy-last MSE | model PSNR | shuffled-actions PSNR | ΔPSNR | model SSIM | PCA SSIM | copy SSIM |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((h) => {
      const i = h - 1;
      return `| ${h} | ${fmt(m.openLoop.trueActions.mse[i])} | ${fmt(b.openLoop.trueActions.mse[i])} | ${fmt(r.copyLast.mse[i])} | ${fmt(m.openLoop.trueActions.psnr[i], 2)} | ${fmt(m.openLoop.shuffledActions.psnr[i], 2)} | ${fmt(m.openLoop.trueActions.psnr[i]! - m.openLoop.shuffledActions.psnr[i]!, 2)} | ${fmt(m.openLoop.trueActions.ssim[i], 3)} | ${fmt(b.openLoop.trueActions.ssim[i], 3)} | ${fmt(r.copyLast.ssim[i], 3)} |`;
    }),
    '',
    ...charts.filter((c) => c !== 'representation.png').map((c) => `![${c}](${c})`),
    '',
    'examples.png: rows truth, world model, PCA baseline, copy-last; columns steps ahead of the context frame.',
    '',
    '## Latent, heads, inverse dynamics',
    '',
    `- latent NMSE (predicted vs encode(true frame), per-dimension variance = 1): step 1 ${fmt(m.openLoop.latentNmse[0])}${H > 1 ? `, step ${H} ${fmt(m.openLoop.latentNmse[H - 1])}` : ''}`,
    `- reward head: R² ${fmt(m.reward?.r2, 3)}, MSE ${fmt(m.reward?.mse)}`,
    `- done head: accuracy ${fmt(m.done?.accuracy, 3)}, recall ${fmt(m.done?.recall, 3)}, precision ${fmt(m.done?.precision, 3)} (${m.done?.positives ?? 0} terminal steps)`,
    `- inverse dynamics R²: model ${fmt(m.inverseR2, 3)}${perName(r.dataset.actionNames, m.inverseR2PerAction)}, PCA baseline ${fmt(b.inverseR2, 3)}${perName(r.dataset.actionNames, b.inverseR2PerAction)}`,
    ...(m.inverseChoice ? [`- inverse dynamics, choice picked (the largest of the one-hot values): model ${fmt(m.inverseChoice.accuracy, 3)}, PCA baseline ${fmt(b.inverseChoice?.accuracy, 3)}, always the most frequent choice ${fmt(m.inverseChoice.majority, 3)}`] : []),
    '',
    '## Representation (vs the true simulator state)',
    '',
    `| | linear probe R² (positions, joint angles) | mutual k-NN (k=${m.representation.knn}) | linear CKA | unbiased CKA |`,
    '|---|---|---|---|---|',
    `| world model | ${fmt(m.representation.probeR2, 3)} | ${fmt(m.representation.mutualKnn, 3)} | ${fmt(m.representation.cka, 3)} | ${fmt(m.representation.ckaUnbiased, 3)} |`,
    `| PCA baseline | ${fmt(b.representation.probeR2, 3)} | ${fmt(b.representation.mutualKnn, 3)} | ${fmt(b.representation.cka, 3)} | ${fmt(b.representation.ckaUnbiased, 3)} |`,
    '',
    ...(m.representation.probeR2PerColumn.length > 1
      ? [`Linear probe R² per state column: model${perName(r.dataset.positionNames, m.representation.probeR2PerColumn)}; PCA baseline${perName(r.dataset.positionNames, b.representation.probeR2PerColumn)}.`, '']
      : []),
    ...((r.dataset.probeSkipped ?? []).length > 0
      ? [`Left out of the probe (held-out spread under ${100 * PROBE_MIN_RELATIVE_SPREAD} % of the widest column of their kind): ${r.dataset.probeSkipped!.map((k) => `${k.name} (sd ${k.sd.toPrecision(2)})`).join(', ')}.`, '']
      : []),
    `Mutual k-NN chance level is about k/N = ${fmt(m.representation.knn / Math.max(1, m.representation.samples), 4)} (${m.representation.samples} held-out frames). ![representation.png](representation.png)`,
    '',
    `Evaluation took ${r.timing.evalSeconds.toFixed(1)} s.`,
    '',
  ];
  return lines.join('\n');
}
