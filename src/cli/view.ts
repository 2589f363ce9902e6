import { TrajforgeError } from '../core/errors.js';
import { viewDataset } from '../pipeline/view.js';
import { intOption, parse } from './args.js';
import { printNotice, untilStopped, type Command } from './io.js';

export const viewCommand: Command = {
  name: 'view',
  summary: 'look through a LeRobot v3 dataset in the browser: episodes, camera frames with overlays, synced plots, stats (serves a local page)',
  usage: 'trajforge view DIR [--port P] [--host H] [--model MODEL_DIR]',
  handlesSignals: true,
  async run(args, io) {
    const { values, positionals } = parse(args, { port: { type: 'string' }, host: { type: 'string' }, model: { type: 'string' } }, this.usage);
    const dir = positionals[0];
    if (!dir) throw new TrajforgeError('E_USAGE', `missing DIR (a LeRobot v3 dataset folder)\nusage: ${this.usage}`);
    if (positionals.length > 1) throw new TrajforgeError('E_USAGE', `one dataset at a time, got ${positionals.length}: ${positionals.join(' ')}\nusage: ${this.usage}`);
    const port = intOption(values.port as string | undefined, 'port', 0, 0);
    if (port > 65535) throw new TrajforgeError('E_USAGE', `--port must be at most 65535, got '${port}'`);
    const host = values.host as string | undefined;
    if (host !== undefined && host.trim() === '') throw new TrajforgeError('E_USAGE', '--host needs an address (e.g. 0.0.0.0); leave it out to serve on 127.0.0.1 only');
    const server = await viewDataset({
      dir,
      port,
      ...(host !== undefined ? { host } : {}),
      ...(values.model !== undefined ? { model: values.model as string } : {}),
      cwd: io.cwd,
      onNotice: printNotice(io),
    });
    const stopped = untilStopped();
    io.out(`trajforge view: ${server.episodes} episodes of ${server.dir} at ${server.url} (opened in ${server.openSeconds.toFixed(2)} s); Ctrl-C stops\n`);
    const signal = await stopped.received;
    await server.close();
    io.err(`${signal}: the viewer stopped\n`);
    return 0;
  },
};
