import { TrajforgeError } from '../core/errors.js';
import { datasetInfo } from '../pipeline/info.js';
import { parse } from './args.js';
import type { Command } from './io.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'what a dataset holds, in any format trajforge writes (LeRobot, Minari, DreamerV3, RLDS, frames): env, episodes, steps, spaces, cameras, size',
  usage: 'trajforge info DIR',
  async run(args, io) {
    const { positionals } = parse(args, {}, this.usage);
    if (!positionals[0]) throw new TrajforgeError('E_USAGE', `missing DIR\nusage: ${this.usage}`);
    const s = await datasetInfo({ dir: positionals[0], cwd: io.cwd });
    for (const f of s.formats) {
      const rows: [string, string | null][] = [
        ['env', f.envId === null ? null : `${f.envId}${f.configHash ? ` (config ${f.configHash.slice(0, 12)})` : ''}`],
        ['episodes', `${f.episodes}${f.steps !== null ? `, ${f.steps} steps` : ''}${f.successRate !== null ? `, ${(100 * f.successRate).toFixed(1)} % success` : ''}`],
        ['rate', f.fps === null ? null : `${f.fps} fps`],
        ['observation', f.observation],
        ['action', f.action],
        ['cameras', f.cameras.length > 0 ? f.cameras.join('; ') : null],
        ['source', f.source],
        ['size', `${(f.bytes / 1e6).toFixed(2)} MB`],
      ];
      io.out(`${f.dir}: ${f.format}${f.writtenBy === 'other' ? ' (written by another tool)' : ''}\n`);
      for (const [k, v] of rows) if (v !== null) io.out(`  ${k.padEnd(12)} ${v}\n`);
    }
    return 0;
  },
};
