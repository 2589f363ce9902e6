import { TrajforgeError } from '../core/errors.js';
import { replayDataset } from '../pipeline/replay.js';
import { CHANNELS, type Channel } from '../render/renderer.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { intOption, overridesOf, parse, SET_OPTION } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 're-simulate a dataset from its seeds and actions with new cameras, resolutions, channels or light (checked to reproduce the stored states)',
  usage:
    'trajforge replay DATASET --out DIR [--set cameras[top].resolution=[128,128] ...] [--channels rgb,depth,...] [--episodes N] [--format lerobot] ' +
    `[--codec ${Object.keys(CODECS).join('|')}] [--gop 2] [--overwrite]`,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      { out: { type: 'string' }, channels: { type: 'string' }, episodes: { type: 'string' }, format: { type: 'string' }, codec: { type: 'string' }, gop: { type: 'string' }, overwrite: { type: 'boolean' }, ...SET_OPTION },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset) throw new TrajforgeError('E_USAGE', `missing DATASET\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out DIR\nusage: ${this.usage}`);
    const channels = (values.channels as string | undefined)?.split(',').map((c) => c.trim()) as Channel[] | undefined;
    for (const c of channels ?? []) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${c}' (known: ${CHANNELS.join(', ')})`);
    const s = await replayDataset({
      dataset,
      out: values.out as string,
      overwrite: (values.overwrite as unknown) === true,
      overrides: overridesOf(values),
      ...(channels ? { channels } : {}),
      ...(values.episodes !== undefined ? { episodes: intOption(values.episodes as string, 'episodes', 1, 1) } : {}),
      ...(values.format !== undefined ? { format: values.format as string } : {}),
      ...(values.codec !== undefined ? { codec: values.codec as VideoCodec } : {}),
      gop: intOption(values.gop as string | undefined, 'gop', 2, 1),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: printStageProgress(io, () => 'episodes'),
    });
    io.out(`replayed ${s.episodes} episodes (${s.steps} steps, every state as stored) of ${dataset} -> ${values.out} (${s.format}), config ${s.configHash.slice(0, 12)}, ${s.seconds.toFixed(1)} s\n`);
    return 0;
  },
};
