import { relative } from 'node:path';
import { scanEnvironments } from '../config/load.js';
import type { Command } from './io.js';

export const envsCommand: Command = {
  name: 'envs',
  summary: 'list the available environments',
  usage: 'trajforge envs   (lists every readable environment; files that cannot be read are named on stderr with the reason, and the exit code is then 1)',
  async run(_args, io) {
    const { entries, problems } = scanEnvironments();
    const width = Math.max(0, ...entries.map((e) => e.id.length));
    for (const e of entries) io.out(`${e.id.padEnd(width)}  ${e.description}  (${relative(io.cwd, e.file)})\n`);
    // One broken file is reported, not fatal: the others stay usable, and scripts see exit 1.
    for (const p of problems) io.err(`warning: skipped ${relative(io.cwd, p.file) || p.file}: ${p.reason.split('\n').join('\n  ')}\n`);
    return problems.length > 0 ? 1 : 0;
  },
};
