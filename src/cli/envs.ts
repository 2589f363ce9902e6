import { relative } from 'node:path';
import { listEnvironments } from '../config/load.js';
import type { Command } from './io.js';

export const envsCommand: Command = {
  name: 'envs',
  summary: 'list the available environments',
  usage: 'trajforge envs',
  async run(_args, io) {
    const entries = listEnvironments();
    const width = Math.max(...entries.map((e) => e.id.length));
    for (const e of entries) io.out(`${e.id.padEnd(width)}  ${e.description}  (${relative(io.cwd, e.file)})\n`);
    return 0;
  },
};
