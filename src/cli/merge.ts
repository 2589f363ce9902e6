import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { mergeLeRobot } from '../export/lerobot/merge.js';
import { LEROBOT_ENTRIES, writeOutput } from '../output/folder.js';
import { parse } from './args.js';
import { outputOptions, type Command } from './io.js';

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'combine shards (or any trajforge LeRobot datasets of one config) into one dataset',
  usage: 'trajforge merge DIR1 DIR2 ... --out DIR [--overwrite (replace a dataset this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(args, { out: { type: 'string' }, overwrite: { type: 'boolean' } }, this.usage);
    if (positionals.length === 0 || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const out = resolve(io.cwd, values.out as string);
    const spec = outputOptions(io, { kind: 'dataset', command: 'merge', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: LEROBOT_ENTRIES, accepts: ['overwrite'], inputs: positionals });
    const summary = await writeOutput(out, spec, () =>
      mergeLeRobot(
        positionals.map((p) => resolve(io.cwd, p)),
        out,
      ),
    );
    io.out(`merged ${positionals.length} dataset(s) into ${values.out}: ${summary.episodes} episodes, ${summary.frames} frames, ${(summary.bytes / 1e6).toFixed(2)} MB\n`);
    return 0;
  },
};
