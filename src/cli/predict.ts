import { TrajforgeError } from '../core/errors.js';
import { predictEpisode } from '../pipeline/predict.js';
import { intOption, parse } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';

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
    const s = await predictEpisode({
      dataset,
      model: values.model,
      episode: intOption(values.episode, 'episode', 0, 0),
      out: values.out,
      overwrite: (values.overwrite as unknown) === true,
      context: intOption(values.context, 'context', 1, 1),
      scale: intOption(values.scale, 'scale', 4, 1),
      horizon: values.horizon === undefined ? undefined : intOption(values.horizon, 'horizon', 1, 1),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: printStageProgress(io, (stage) => (stage === 'write' ? 'frames' : 'rollouts')),
    });
    const fmt = (x: number) => x.toExponential(3);
    io.out(`${values.out}: episode ${s.episode} of ${dataset}, context frame ${s.contextFrame}, ${s.horizon} predicted step(s), ${s.width}x${s.height} (truth | prediction | error x${s.errorGain}), model ${s.modelId}\n`);
    io.out(`  per-step MSE  first ${fmt(s.mse[0]!)}  last ${fmt(s.mse.at(-1)!)}  mean ${fmt(s.meanMse)}\n`);
    io.out(`  per-step MSE  ${s.mse.map((m) => m.toExponential(2)).join(' ')}\n`);
    return 0;
  },
};
