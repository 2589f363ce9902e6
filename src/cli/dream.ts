import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { dreamDataset } from '../pipeline/dream.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import type { Fit } from '../video/resample.js';
import { intOption, numberOption, parse, SET_OPTION, SET_USAGE, overridesOf } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';
import { policyOption } from './policy-option.js';

export const dreamCommand: Command = {
  name: 'dream',
  summary: 'roll out synthetic episodes inside a world model (real reset frames, learned dynamics) and write a dataset',
  usage:
    'trajforge dream --model MODEL_DIR --env <env id or file> (or, for a model of another tool\'s dataset, none and --from-video) --out DIR [--episodes 50] [--policy expert|random|noise|onnx:PATH] [--noise 0] [--epsilon 0] ' +
    '[--seed 0] [--horizon T (default: the env time limit)] [--batch 256] [--threads N (default: one per core)] [--format lerobot] ' +
    `[--codec ${Object.keys(CODECS).join('|')}] [--gop 2] [--overwrite] [--compare] [--from-video FILE (start frames from a video, not resets)] [--fit crop|stretch|pad] ${SET_USAGE}`,
  async run(args, io) {
    const { values } = parse(
      args,
      {
        model: { type: 'string' },
        env: { type: 'string' },
        out: { type: 'string' },
        episodes: { type: 'string' },
        policy: { type: 'string' },
        noise: { type: 'string' },
        epsilon: { type: 'string' },
        seed: { type: 'string' },
        horizon: { type: 'string' },
        batch: { type: 'string' },
        threads: { type: 'string' },
        format: { type: 'string' },
        codec: { type: 'string' },
        gop: { type: 'string' },
        overwrite: { type: 'boolean' },
        ...SET_OPTION,
        compare: { type: 'boolean' },
        'from-video': { type: 'string' },
        fit: { type: 'string' },
      },
      this.usage,
    );
    if (!values.model) throw new TrajforgeError('E_USAGE', `missing --model MODEL_DIR\nusage: ${this.usage}`);
    if (!values.env && values['from-video'] === undefined) throw new TrajforgeError('E_USAGE', `missing --env (or --from-video, to dream from a video in the model alone)\nusage: ${this.usage}`);
    if (!values.env && overridesOf(values).length > 0) throw new TrajforgeError('E_USAGE', `--set overrides the environment of --env; pass --env too\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out DIR\nusage: ${this.usage}`);
    const gop = intOption(values.gop, 'gop', 2, 1);
    const episodes = intOption(values.episodes, 'episodes', 50, 1);
    const seed = intOption(values.seed, 'seed', 0);
    const batch = intOption(values.batch, 'batch', 256, 1);
    const noise = numberOption(values.noise, 'noise', 0);
    const epsilon = numberOption(values.epsilon, 'epsilon', 0);
    const env = values.env ? loadEnv(values.env, { baseDir: io.cwd, overrides: overridesOf(values) }) : undefined;
    const s = await dreamDataset({
      model: values.model,
      ...(env ? { env } : {}),
      out: values.out,
      overwrite: (values.overwrite as unknown) === true,
      episodes,
      policy: { ...(values.policy === undefined ? {} : policyOption(values.policy, 'expert')), noise, epsilon },
      seed,
      horizon: values.horizon === undefined ? undefined : intOption(values.horizon, 'horizon', 1, 1),
      batch,
      ...(values.threads !== undefined ? { threads: intOption(values.threads, 'threads', 1, 1) } : {}),
      format: values.format,
      codec: values.codec as VideoCodec | undefined,
      gop,
      compare: (values.compare as unknown) === true,
      ...(values['from-video'] !== undefined ? { fromVideo: values['from-video'] } : {}),
      ...(values.fit !== undefined ? { fit: values.fit as Fit } : {}),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: printStageProgress(io, () => 'episodes'),
    });
    io.out(`dreamed ${s.envId} with model ${s.modelId} -> ${values.out} (${s.format})\n`);
    io.out(`  episodes      ${s.episodes} (policy ${s.policy}, horizon ${s.horizon})\n`);
    io.out(`  frames        ${s.frames} at ${s.width}x${s.height} (camera ${s.camera})\n`);
    io.out(`  terminated    ${s.successes} (${((100 * s.successes) / s.episodes).toFixed(1)}%, done head > 0.5)\n`);
    io.out(
      `  throughput    ${Math.round(s.stepsPerSecond)} steps/s, ${Math.round(s.framesPerSecond)} frames/s ` +
        `(${s.steps} steps in ${s.dreamSeconds.toFixed(2)} s: model ${s.modelSeconds.toFixed(2)} s, resets + start frames ${s.startSeconds.toFixed(2)} s; ${s.seconds.toFixed(1)} s with writing)\n`,
    );
    const c = s.compare;
    if (c) {
      io.out(`  dream alone   ${Math.round(c.dreamStepsPerSecond)} steps/s (the same ${c.redreamedSteps} steps dreamed again, nothing written)\n`);
      io.out(`  simulator     ${Math.round(c.simulatorStepsPerSecond)} steps/s (${c.simulatedSteps} steps simulated + rendered rgb at ${c.simulatorWidth}x${c.simulatorHeight} in ${c.simulatorSeconds.toFixed(2)} s, same seeds and policy, nothing written, one thread)\n`);
      io.out(`  speedup       ${c.speedup.toFixed(2)}x\n`);
    }
    return 0;
  },
};
