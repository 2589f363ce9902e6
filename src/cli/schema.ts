import { envJsonSchema } from '../config/parse.js';
import { writeFileAtomic } from '../output/atomic.js';
import { checkFileOutput } from '../output/folder.js';
import { parse } from './args.js';
import type { Command } from './io.js';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'print (or write) the JSON Schema of environment files, for editor autocompletion',
  usage: 'trajforge schema [--out FILE] [--overwrite]',
  async run(args, io) {
    const { values } = parse(args, { out: { type: 'string' }, overwrite: { type: 'boolean' } }, this.usage);
    const text = `${JSON.stringify(envJsonSchema(), null, 2)}\n`;
    if (values.out) {
      writeFileAtomic(checkFileOutput(values.out as string, { overwrite: (values.overwrite as unknown) === true, cwd: io.cwd }), text);
      io.err(`wrote ${values.out}\n`);
    } else io.out(text);
    return 0;
  },
};
