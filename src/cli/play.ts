import { TrajforgeError } from '../core/errors.js';
import { playEnvironment, type PlaySummary } from '../pipeline/play.js';
import { helpLines, keyMapForConfig } from '../policy/teleop.js';
import { intOption, overridesOf, parse, SET_OPTION, SET_USAGE } from './args.js';
import { printNotice, untilStopped, type Command } from './io.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';

export const playCommand: Command = {
  name: 'play',
  summary: 'drive an environment in a web page with the keyboard or a gamepad; --record keeps each finished episode as a dataset (re-simulated in Node to the same states)',
  handlesSignals: true,
  usage: `trajforge play <env id or file> [--record DIR [--overwrite | --resume] [--codec ${Object.keys(CODECS).join('|')}]] [--seed 0] [--size 256] [--port P] [--host H] ${SET_USAGE}`,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      { record: { type: 'string' }, codec: { type: 'string' }, overwrite: { type: 'boolean' }, resume: { type: 'boolean' }, seed: { type: 'string' }, size: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, ...SET_OPTION },
      this.usage,
    );
    const ref = positionals[0];
    if (!ref) throw new TrajforgeError('E_USAGE', `missing environment\nusage: ${this.usage}`);
    if (positionals.length > 1) throw new TrajforgeError('E_USAGE', `one environment at a time, got ${positionals.join(' ')}\nusage: ${this.usage}`);
    const port = values.port === undefined ? undefined : intOption(values.port as string, 'port', 0, 0);
    const playing = await playEnvironment({
      env: ref,
      overrides: overridesOf(values),
      ...(values.record !== undefined ? { record: values.record as string } : {}),
      ...(values.codec !== undefined ? { codec: values.codec as VideoCodec } : {}),
      overwrite: (values.overwrite as unknown) === true,
      resume: (values.resume as unknown) === true,
      seed: intOption(values.seed as string | undefined, 'seed', 0, 0),
      size: intOption(values.size as string | undefined, 'size', 256, 16),
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host as string } : {}),
      cwd: io.cwd,
      // The server's notices (listening beyond loopback) are warnings; the output folder's are notices as elsewhere.
      onNotice: (line, kind) => (kind === 'input' ? io.err(`warning: ${line}\n`) : printNotice(io)(line, kind)),
      onEpisode: (ep) => io.err(`recorded episode ${ep.index} (seed ${ep.seed}, ${ep.length} steps, ${ep.success ? 'success' : 'no success'}); ${ep.episodes} in the dataset\n`),
    });
    io.out(`playing ${playing.env.config.id} at ${playing.url}\n`);
    io.out(`keys:\n${helpLines(keyMapForConfig(playing.env.config)).map((l) => `  ${l.keys.padEnd(18)} ${l.what}`).join('\n')}\n`);
    io.out(values.record !== undefined ? `recording finished episodes into ${values.record as string}; Ctrl-C or the page's Finish button ends the recording\n` : 'Ctrl-C stops\n');
    // Ctrl-C, SIGTERM or the page's Finish button end serving and finalise the recording (its
    // summary printed, exit 0); a second signal while finalising stops the process as usual.
    const stop = untilStopped();
    let summary: PlaySummary;
    try {
      const how = await Promise.race([stop.received, playing.finished.then(() => 'finish' as const)]);
      if (how !== 'finish') io.err(`\n${how}: finishing\n`);
    } finally {
      stop.dispose();
      summary = await playing.close();
    }
    const r = summary.recording;
    if (r) {
      io.out(
        r.episodes > 0
          ? `recorded ${r.recorded} episode(s) this session (${r.episodes} in all, ${r.successes} successful, ${r.frames} frames) -> ${r.dir}\n`
          : `no episode was recorded; nothing was written to ${values.record as string}\n`,
      );
    }
    return 0;
  },
};
