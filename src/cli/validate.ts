import { TrajforgeError } from '../core/errors.js';
import { validateDataset } from '../pipeline/validate.js';
import { parse } from './args.js';
import { printStageProgress, type Command } from './io.js';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check every invariant of a LeRobot v3 dataset and name each violation',
  usage: 'trajforge validate DIR [--quick]   (--quick skips reading video timestamps)',
  async run(args, io) {
    const { values, positionals } = parse(args, { quick: { type: 'boolean' } }, this.usage);
    if (!positionals[0]) throw new TrajforgeError('E_USAGE', `missing DIR\nusage: ${this.usage}`);
    const { dir, valid, problems } = await validateDataset({ dir: positionals[0], quick: (values.quick as unknown) === true, cwd: io.cwd, onProgress: printStageProgress(io, () => 'episodes (video timestamps)') });
    if (valid) {
      io.out(`${positionals[0]}: valid LeRobot v3.0 dataset\n`);
      return 0;
    }
    io.out(`${positionals[0]}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    // The list is the report (stdout); the error line says so on stderr, with the first problem, for scripts and logs.
    throw new TrajforgeError('E_DATASET_INVALID', `${dir}: not a valid LeRobot v3.0 dataset: ${problems.length} problem(s) (listed on stdout), the first: ${problems[0]}`, { file: dir });
  },
};
