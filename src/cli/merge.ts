import { resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { mergeLeRobot } from '../export/lerobot-merge.js';
import { parse } from './args.js';
import type { Command } from './io.js';

export const mergeCommand: Command = {
  name: 'merge',
  summary: 'combine shards (or any trajforge LeRobot datasets of one config) into one dataset',
  usage: 'trajforge merge DIR1 DIR2 ... --out DIR',
  async run(args, io) {
    const { values, positionals } = parse(args, { out: { type: 'string' } }, this.usage);
    if (positionals.length === 0 || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const summary = await mergeLeRobot(
      positionals.map((p) => resolve(io.cwd, p)),
      resolve(io.cwd, values.out as string),
    );
    io.out(`merged ${positionals.length} dataset(s) into ${values.out}: ${summary.episodes} episodes, ${summary.frames} frames, ${(summary.bytes / 1e6).toFixed(2)} MB\n`);
    return 0;
  },
};
