import { TrajforgeError } from '../core/errors.js';
import { mergeDatasets } from '../pipeline/merge.js';
import { parse } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'combine shards, or runs of one environment config with any seeds, policies, episode counts or codecs, into one dataset',
  usage: 'trajforge merge DIR1 DIR2 ... --out DIR [--overwrite (replace a dataset this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(args, { out: { type: 'string' }, overwrite: { type: 'boolean' } }, this.usage);
    if (positionals.length === 0 || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const s = await mergeDatasets({ inputs: positionals, out: values.out as string, overwrite: (values.overwrite as unknown) === true, cwd: io.cwd, onNotice: printNotice(io), onProgress: printStageProgress(io, () => 'episodes') });
    io.out(`merged ${s.inputs} dataset(s) into ${values.out}: ${s.episodes} episodes, ${s.frames} frames, ${(s.bytes / 1e6).toFixed(2)} MB\n`);
    return 0;
  },
};
