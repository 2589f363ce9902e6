import { TrajforgeError } from '../core/errors.js';
import { parseProviders, PROVIDERS_ENV } from '../model/onnx/runtime.js';
import { encodeDataset } from '../pipeline/encode.js';
import { intOption, parse } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';

export const encodeCommand: Command = {
  name: 'encode',
  summary: "add a world model's latent of every frame to a LeRobot dataset, as a new dataset",
  usage: 'trajforge encode DATASET --model MODEL_DIR --out NEW_DATASET [--key observation.latent] [--batch 1024] [--threads N (default: one per core)] [--replace] [--overwrite (replace a dataset this tool wrote at --out)]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        model: { type: 'string' },
        out: { type: 'string' },
        key: { type: 'string' },
        batch: { type: 'string' },
        threads: { type: 'string' },
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
    const s = await encodeDataset({
      dataset,
      model: values.model as string,
      out: values.out as string,
      overwrite: (values.overwrite as unknown) === true,
      key: values.key as string | undefined,
      replace: (values.replace as unknown) === true,
      batch: intOption(values.batch as string | undefined, 'batch', 1024, 1),
      ...(values.threads !== undefined ? { threads: intOption(values.threads as string, 'threads', 1, 1) } : {}),
      providers: parseProviders(process.env[PROVIDERS_ENV]),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: printStageProgress(io, () => 'episodes'),
    });
    io.out(
      `encoded ${s.episodes} episodes, ${s.frames} frames of ${dataset} with model ${s.modelId} into ${values.out}: ${s.key} [${s.latent}], ` +
        `${s.seconds.toFixed(1)} s, encoder ${s.encoderFramesPerSecond.toFixed(0)} frames/s (${(s.bytes / 1e6).toFixed(2)} MB)\n`,
    );
    return 0;
  },
};
