import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot/episodes.js';
import { writeOutput } from '../output/folder.js';
import { sinkFor } from '../export/registry.js';
import { writeEpisodes } from '../dataset/sink.js';
import { parse } from './args.js';
import { outputOptions, type Command } from './io.js';

export const convertCommand: Command = {
  name: 'convert',
  summary: 'turn a trajforge LeRobot dataset into other formats without re-simulating',
  usage: 'trajforge convert SRC --to minari|dreamer|rlds|frames[,...] --out DIR [--overwrite (replace a dataset this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(args, { to: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean' } }, this.usage);
    if (!positionals[0] || !values.to || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const src = resolve(io.cwd, positionals[0]);
    const out = resolve(io.cwd, values.out as string);
    const sink = sinkFor(values.to as string);
    const meta = datasetMeta(src);
    const spec = outputOptions(io, { kind: 'dataset', command: 'convert', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: sink.entries(meta), accepts: ['overwrite'], inputs: [src] });
    const s = await writeOutput(out, spec, (folder) => writeEpisodes(sink, folder, meta, readLeRobotEpisodes(src)));
    io.out(`converted ${s.episodes} episodes of ${positionals[0]} to ${values.to} in ${values.out} (${(s.bytes / 1e6).toFixed(2)} MB)\n`);
    return 0;
  },
};
