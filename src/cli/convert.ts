import { resolve } from 'node:path';
import { TrajforgeError, asIoError } from '../core/errors.js';
import { datasetMeta, readLeRobotEpisodes } from '../export/lerobot-episodes.js';
import { openOutput } from '../export/output.js';
import { sinkFor } from '../export/registry.js';
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
    const output = openOutput(out, outputOptions(io, { kind: 'dataset', command: 'convert', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: sink.entries(meta), accepts: ['overwrite'], inputs: [src] }));
    let n = 0;
    try {
      await sink.open(out, meta, { resume: false });
      for await (const ep of readLeRobotEpisodes(src)) {
        await sink.write(ep);
        output.assertHeld();
        n++;
      }
      const s = await sink.close();
      output.close();
      io.out(`converted ${n} episodes of ${positionals[0]} to ${values.to} in ${values.out} (${(s.bytes / 1e6).toFixed(2)} MB)\n`);
      return 0;
    } catch (e) {
      await sink.abort();
      output.discard();
      throw asIoError(e, out);
    }
  },
};
