import { resolve } from 'node:path';
import { loadEnv } from '../config/load.js';
import { defaultWorkerCount } from '../episode/workers.js';
import { TrajforgeError } from '../core/errors.js';
import { generateDataset, type Progress } from '../pipeline/generate.js';
import { formatNames } from '../export/registry.js';
import { CHANNELS, type Channel } from '../render/renderer.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { intOption, numberOption, parse, SET_OPTION, SET_USAGE, overridesOf } from './args.js';
import { printNotice, type CliIO, type Command } from './io.js';
import { policyOption } from './policy-option.js';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'simulate, render and write a dataset (LeRobot v3), in parallel, resumable',
  usage:
    'trajforge generate <env id or file> --out DIR [--episodes 50] [--seed 0] [--workers W] [--format lerobot] ' +
    '[--policy expert|random|noise|onnx:PATH] [--noise 0] [--epsilon 0] [--shard i/N] [--resume] [--overwrite] ' +
    `[--codec ${Object.keys(CODECS).join('|')}] [--gop 2] [--checkpoint 32] [--channels rgb,depth,...] [--data-file-mb 100] [--video-file-mb 200] [--chunk-size 1000] ${SET_USAGE}`,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        out: { type: 'string' },
        episodes: { type: 'string' },
        seed: { type: 'string' },
        workers: { type: 'string' },
        format: { type: 'string' },
        policy: { type: 'string' },
        noise: { type: 'string' },
        epsilon: { type: 'string' },
        shard: { type: 'string' },
        resume: { type: 'boolean' },
        overwrite: { type: 'boolean' },
        ...SET_OPTION,
        codec: { type: 'string' },
        gop: { type: 'string' },
        checkpoint: { type: 'string' },
        channels: { type: 'string' },
        'chunk-size': { type: 'string' },
        'data-file-mb': { type: 'string' },
        'video-file-mb': { type: 'string' },
      },
      this.usage,
    );
    const ref = positionals[0];
    if (!ref) throw new TrajforgeError('E_USAGE', `missing environment\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out DIR\nusage: ${this.usage}`);
    const format = (values.format as string | undefined) ?? 'lerobot';
    formatNames(format); // validates the list before anything is simulated
    const codec = ((values.codec as string | undefined) ?? 'h264') as VideoCodec;
    if (!(codec in CODECS)) throw new TrajforgeError('E_USAGE', `unknown --codec '${codec}' (known: ${Object.keys(CODECS).join(', ')})`);
    const channels = (values.channels as string | undefined)?.split(',').map((c) => c.trim()) as Channel[] | undefined;
    for (const c of channels ?? []) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${c}' (known: ${CHANNELS.join(', ')})`);
    const shard = parseShard(values.shard as string | undefined);
    const env = loadEnv(ref, { baseDir: io.cwd, overrides: overridesOf(values) });
    const choice = policyOption(values.policy as string | undefined, env.config.expert ? 'expert' : 'noise');
    if (values.overwrite && values.resume) throw new TrajforgeError('E_USAGE', '--overwrite and --resume exclude each other: --resume continues a run, --overwrite replaces it');
    const out = resolve(io.cwd, values.out as string);
    const progress = reporter(io);
    const result = await generateDataset({
      env,
      out,
      episodes: intOption(values.episodes as string | undefined, 'episodes', 50, 1),
      seed: intOption(values.seed as string | undefined, 'seed', 0),
      workers: intOption(values.workers as string | undefined, 'workers', defaultWorkerCount(), 0),
      format,
      policy: { ...choice, noise: numberOption(values.noise as string | undefined, 'noise', 0), epsilon: numberOption(values.epsilon as string | undefined, 'epsilon', 0) },
      shard,
      resume: (values.resume as unknown) === true,
      overwrite: (values.overwrite as unknown) === true,
      codec,
      gop: intOption(values.gop as string | undefined, 'gop', 2, 1),
      checkpoint: intOption(values.checkpoint as string | undefined, 'checkpoint', 32, 1),
      channels,
      layout: {
        chunksSize: intOption(values['chunk-size'] as string | undefined, 'chunk-size', 1000, 1),
        dataFileMb: positive(numberOption(values['data-file-mb'] as string | undefined, 'data-file-mb', 100), 'data-file-mb'),
        videoFileMb: positive(numberOption(values['video-file-mb'] as string | undefined, 'video-file-mb', 200), 'video-file-mb'),
      },
      onProgress: progress,
      onNotice: printNotice(io),
      cwd: io.cwd,
    });
    if (io.isTTY) io.err('\n');
    if (result.steps === 0 && result.resumedFrom === result.episodes && result.episodes > 0) {
      io.out(`${values.out}: already complete (${result.episodes} episodes, ${result.frames} frames); nothing to resume\n`);
      return 0;
    }
    const rate = result.episodes > 0 ? (100 * result.successes) / result.episodes : 0;
    io.out(`${env.config.id} -> ${values.out} (${format}${shard.count > 1 ? `, shard ${shard.index}/${shard.count}` : ''})\n`);
    io.out(`  episodes      ${result.episodes}${result.resumedFrom > 0 ? ` (resumed after ${result.resumedFrom})` : ''}\n`);
    io.out(`  frames        ${result.frames}\n`);
    if (env.config.task.success.length > 0) io.out(`  success rate  ${rate.toFixed(1)}%\n`);
    io.out(`  throughput    ${result.seconds > 0 ? Math.round(result.steps / result.seconds) : 0} steps/s (${result.steps} steps simulated in ${result.seconds.toFixed(1)} s)\n`);
    io.out(`  size          ${(result.bytes / 1e6).toFixed(2)} MB\n`);
    return 0;
  },
};

function positive(x: number, name: string): number {
  if (!(x > 0)) throw new TrajforgeError('E_USAGE', `--${name} must be > 0, got ${x}`);
  return x;
}

function parseShard(s: string | undefined): { index: number; count: number } {
  if (s === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m || Number(m[1]) >= Number(m[2]) || Number(m[2]) < 1) throw new TrajforgeError('E_USAGE', `--shard must be i/N with 0 <= i < N, got '${s}'`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** A progress bar on a terminal, a plain line every few seconds otherwise. */
function reporter(io: CliIO): (p: Progress) => void {
  let lastLine = 0;
  return (p) => {
    const rate = p.elapsed > 0 ? p.steps / p.elapsed : 0;
    const remaining = p.done > p.resumedFrom ? ((p.total - p.done) * p.elapsed) / (p.done - p.resumedFrom) : 0;
    if (io.isTTY) {
      const width = 30;
      const filled = Math.round((width * p.done) / p.total);
      io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} episodes  ${Math.round(rate)} steps/s  ETA ${remaining.toFixed(0)} s   `);
    } else if (p.elapsed - lastLine >= 5 || p.done === p.total) {
      lastLine = p.elapsed;
      io.err(`episodes ${p.done}/${p.total}  steps ${p.steps}  ${Math.round(rate)} steps/s  eta ${remaining.toFixed(0)} s\n`);
    }
  };
}
