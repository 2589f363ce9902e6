import { TrajforgeError } from '../core/errors.js';
import { convertDataset } from '../pipeline/convert.js';
import { parse } from './args.js';
import { printNotice, printStageProgress, type Command } from './io.js';

export const convertCommand: Command = {
  name: 'convert',
  summary: "turn a LeRobot dataset (trajforge's, or another tool's v3 / v2.1) into other formats without re-simulating",
  usage: 'trajforge convert SRC --to lerobot|minari|dreamer|rlds|frames[,...] --out DIR [--overwrite (replace a dataset this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(args, { to: { type: 'string' }, out: { type: 'string' }, overwrite: { type: 'boolean' } }, this.usage);
    if (!positionals[0] || !values.to || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const s = await convertDataset({ src: positionals[0], to: values.to as string, out: values.out as string, overwrite: (values.overwrite as unknown) === true, cwd: io.cwd, onNotice: printNotice(io), onProgress: printStageProgress(io, () => 'episodes') });
    io.out(`converted ${s.episodes} episodes of ${positionals[0]} to ${s.format} in ${values.out} (${(s.bytes / 1e6).toFixed(2)} MB)${s.dropped > 0 ? `; ${s.dropped} one-row episode(s) left out` : ''}\n`);
    return 0;
  },
};
