import { envJsonSchema } from '../config/parse.js';
import { writeFileAtomic } from '../export/atomic.js';
import { parse } from './args.js';
import type { Command } from './io.js';
import { resolve } from 'node:path';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print (or write) the JSON Schema of environment files, for editor autocompletion',
  usage: 'trajforge schema [--out FILE]',
  async run(args, io) {
    const { values } = parse(args, { out: { type: 'string' } }, this.usage);
    const text = `${JSON.stringify(envJsonSchema(), null, 2)}\n`;
    if (values.out) {
      writeFileAtomic(resolve(io.cwd, values.out), text);
      io.err(`wrote ${values.out}\n`);
    } else io.out(text);
    return 0;
  },
};
