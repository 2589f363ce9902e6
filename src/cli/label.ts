import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { parseProviders, PROVIDERS_ENV } from '../model/onnx/runtime.js';
import { labelVideos } from '../pipeline/label.js';
import { evaluateLabelling } from '../pipeline/label-eval.js';
import type { Fit } from '../video/resample.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { intOption, numberOption, parse, SET_OPTION, SET_USAGE, overridesOf } from './args.js';
import { printNotice, printStageProgress, type CliIO, type Command } from './io.js';
import type { ParsedArgs } from './args.js';

export const labelCommand: Command = {
  name: 'label',
  summary: "infer the actions behind videos with a world model's inverse dynamics and write them as a dataset",
  usage:
    'trajforge label VIDEOS (a file, folder, glob or LeRobot dataset) --model MODEL_DIR --out DIR [--env <env id or file> (default: the model\'s)] ' +
    '[--fps F (default: the env\'s control rate, else the model\'s training data\'s)] [--episode-length T (default: the env time limit, else the training episodes\' mean length)] [--min-length 1] [--fit crop|stretch|pad] [--camera KEY (LeRobot input)] [--strict] ' +
    `[--batch 2048] [--threads N (default: one per core)] [--format lerobot] [--codec ${Object.keys(CODECS).join('|')}] [--gop 2] [--overwrite] ${SET_USAGE} (with --env)\n` +
    '       trajforge label DATASET --eval --model MODEL_DIR --out REPORT_DIR [--episodes N] [--seeds 100] [--no-shifts] [--bc-steps 2000] [--overwrite]' +
    ' (DATASET: a simulator dataset the model was not trained on; its actions are withheld and scored)',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        model: { type: 'string' },
        out: { type: 'string' },
        env: { type: 'string' },
        fps: { type: 'string' },
        'episode-length': { type: 'string' },
        'min-length': { type: 'string' },
        fit: { type: 'string' },
        camera: { type: 'string' },
        strict: { type: 'boolean' },
        batch: { type: 'string' },
        threads: { type: 'string' },
        format: { type: 'string' },
        codec: { type: 'string' },
        gop: { type: 'string' },
        overwrite: { type: 'boolean' },
        ...SET_OPTION,
        eval: { type: 'boolean' },
        episodes: { type: 'string' },
        seeds: { type: 'string' },
        'no-shifts': { type: 'boolean' },
        'bc-steps': { type: 'string' },
      },
      this.usage,
    );
    const videos = positionals[0];
    if (!videos) throw new TrajforgeError('E_USAGE', `missing VIDEOS\nusage: ${this.usage}`);
    if (positionals.length > 1) throw new TrajforgeError('E_USAGE', `one VIDEOS argument only (a folder or a quoted glob for many files), got ${positionals.length}\nusage: ${this.usage}`);
    if (!values.model) throw new TrajforgeError('E_USAGE', `missing --model MODEL_DIR\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out DIR\nusage: ${this.usage}`);
    const evalOnly = ['episodes', 'seeds', 'no-shifts', 'bc-steps'].filter((k) => values[k] !== undefined);
    if (values.eval) return runEval(videos, values, io, this.usage);
    if (overridesOf(values).length > 0 && !values.env) throw new TrajforgeError('E_USAGE', `--set overrides the environment of --env; pass --env too (the model's is ${'`'}--env <its id>${'`'})\nusage: ${this.usage}`);
    if (evalOnly.length > 0) throw new TrajforgeError('E_USAGE', `--${evalOnly[0]} applies to label --eval\nusage: ${this.usage}`);
    const s = await labelVideos({
      videos,
      model: values.model,
      out: values.out,
      overwrite: (values.overwrite as unknown) === true,
      ...(values.env ? { env: loadEnv(values.env, { baseDir: io.cwd, overrides: overridesOf(values) }) } : {}),
      ...(values.fps !== undefined ? { fps: numberOption(values.fps, 'fps', 0) } : {}),
      ...(values['episode-length'] !== undefined ? { episodeLength: intOption(values['episode-length'], 'episode-length', 1, 1) } : {}),
      minLength: intOption(values['min-length'], 'min-length', 1, 1),
      fit: (values.fit ?? 'crop') as Fit,
      ...(values.camera !== undefined ? { camera: values.camera } : {}),
      strict: (values.strict as unknown) === true,
      batch: intOption(values.batch, 'batch', 2048, 2),
      ...(values.threads !== undefined ? { threads: intOption(values.threads, 'threads', 1, 1) } : {}),
      ...(values.format !== undefined ? { format: values.format } : {}),
      ...(values.codec !== undefined ? { codec: values.codec as VideoCodec } : {}),
      gop: intOption(values.gop, 'gop', 2, 1),
      providers: parseProviders(process.env[PROVIDERS_ENV]),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: printStageProgress(io, () => 'sources'),
    });
    io.out(`labelled ${s.sources} source(s) with model ${s.modelId} -> ${values.out} (${s.format})\n`);
    io.out(`  episodes      ${s.episodes} of up to ${s.episodeLength} steps, ${s.frames} steps (${s.sourceFrames} frames at ${s.fps} fps, ${s.width}x${s.height})\n`);
    io.out(`  confidence    mean ${s.meanConfidence.toFixed(3)} (0.5 = a one-step latent residual of ${s.confidenceScale.value.toExponential(2)}, from the ${s.confidenceScale.from === 'card' ? "model's training loss" : "median of the first batch: the card has no training residual"})\n`);
    io.out(`  throughput    ${Math.round(s.framesPerSecond)} frames/s including decoding (${s.seconds.toFixed(1)} s: waiting ${s.decodeSeconds.toFixed(1)} s for decoding, ${s.modelSeconds.toFixed(1)} s for the model)\n`);
    if (s.skipped.length > 0) {
      io.out(`  skipped       ${s.skipped.length} source(s):\n`);
      for (const k of s.skipped) io.out(`    ${k.file}: ${k.reason}\n`);
    }
    return 0;
  },
};

async function runEval(dataset: string, values: ParsedArgs['values'], io: CliIO, usage: string): Promise<number> {
  const labelOnly = ['env', 'set', 'fps', 'episode-length', 'min-length', 'fit', 'camera', 'strict', 'batch', 'threads', 'format', 'codec', 'gop'].filter((k) => values[k] !== undefined);
  if (labelOnly.length > 0) throw new TrajforgeError('E_USAGE', `--${labelOnly[0]} does not apply to label --eval (it labels the dataset's own camera, one episode per source episode)\nusage: ${usage}`);
  const s = await evaluateLabelling({
    dataset,
    model: values.model as string,
    out: values.out as string,
    overwrite: (values.overwrite as unknown) === true,
    ...(values.episodes !== undefined ? { episodes: intOption(values.episodes, 'episodes', 1, 1) } : {}),
    seeds: intOption(values.seeds, 'seeds', 100, 0),
    shifts: (values['no-shifts'] as unknown) !== true,
    ...(values['bc-steps'] !== undefined ? { bcSteps: intOption(values['bc-steps'], 'bc-steps', 2000, 1) } : {}),
    providers: parseProviders(process.env[PROVIDERS_ENV]),
    cwd: io.cwd,
    onNotice: printNotice(io),
    onProgress: printStageProgress(io, (stage) => (stage === 'variant' ? 'video variants labelled' : 'policies trained and run')),
  });
  io.out(`label --eval of model ${s.modelId} on ${s.episodes} episodes of ${s.envId} -> ${values.out}/label-eval.md (${s.seconds.toFixed(0)} s)\n`);
  for (const v of s.variants) {
    io.out(`  ${v.name.padEnd(9)} R2 ${v.agreement.r2.map((r) => (r === null ? 'n/a' : r.toFixed(3))).join(' / ')}  MAE ${v.agreement.mae.map((m) => m.toFixed(3)).join(' / ')}  confidence ${v.meanConfidence.toFixed(3)}  ${v.bcSuccess === null ? '' : `BC success ${(100 * v.bcSuccess).toFixed(0)} %  `}${Math.round(v.framesPerSecond)} frames/s\n`);
  }
  if (s.bc) io.out(`  BC on true actions: ${(100 * s.bc.trueActions).toFixed(0)} % success${s.bc.expert === null ? '' : `; expert ${(100 * s.bc.expert).toFixed(0)} %`} (${s.bc.seeds} episodes each)\n`);
  io.out(`  calibration: ${(100 * s.calibration.wrongRate).toFixed(1)} % of labels wrong; ROC area of low confidence for them ${s.calibration.auroc.toFixed(3)}\n`);
  return 0;
}
