import { TrajforgeError } from '../core/errors.js';
import { trainWorldModel, type TrainOptions, type TrainProgress, type WorldModelKind } from '../pipeline/train.js';
import { intOption, numberOption, parse } from './args.js';
import { printNotice, type CliIO, type Command } from './io.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'fit a latent world model (encoder, decoder, dynamics + reward/done, inverse) and export it as ONNX',
  usage:
    'trajforge train DATASET --out MODEL_DIR [--model latent|linear] [--epochs 12] [--latent 128] [--camera NAME] [--seed 0] [--hidden 128] [--keypoints 12 (colour keypoints; 0: none)] ' +
    '[--rollout 8] [--state-weight 1 (0: no state supervision)] [--dynamics-noise NOISE (start-latent noise, in typical steps)] ' +
    '[--sprites 5 (sprite size of the decoder; 0: PCA decoder)] [--sprite-count 8] [--downsample auto] [--overwrite (replace a model folder this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        out: { type: 'string' },
        epochs: { type: 'string' },
        latent: { type: 'string' },
        camera: { type: 'string' },
        seed: { type: 'string' },
        hidden: { type: 'string' },
        keypoints: { type: 'string' },
        rollout: { type: 'string' },
        model: { type: 'string' },
        'state-weight': { type: 'string' },
        'dynamics-noise': { type: 'string' },
        sprites: { type: 'string' },
        'sprite-count': { type: 'string' },
        downsample: { type: 'string' },
        overwrite: { type: 'boolean' },
      },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset || !values.out) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const int = (name: string, min: number) => (values[name] === undefined ? undefined : intOption(values[name] as string, name, 0, min));
    const num = (name: string) => (values[name] === undefined ? undefined : numberOption(values[name] as string, name, 0));
    const options: TrainOptions = {
      dataset,
      out: values.out as string,
      overwrite: (values.overwrite as unknown) === true,
      epochs: int('epochs', 1),
      keypoints: int('keypoints', 0),
      latent: int('latent', 2),
      hidden: int('hidden', 4),
      rollout: int('rollout', 1),
      stateWeight: num('state-weight'),
      dynamicsNoise: num('dynamics-noise'),
      seed: int('seed', 0),
      sprites: int('sprites', 0),
      spriteCount: int('sprite-count', 1),
      kind: values.model as WorldModelKind | undefined,
      camera: values.camera as string | undefined,
      downsample: values.downsample ? intOption(values.downsample as string, 'downsample', 1, 1) : undefined,
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: progressReporter(io, dataset),
    };
    const s = await trainWorldModel(options);
    const d = s.data;
    if (s.kind === 'linear') {
      io.out(`linear world model ${s.card.id} -> ${values.out}\n`);
      io.out(`  PCA ${s.latent} + bilinear ridge on ${d.trainEpisodes} episodes, ${d.frames} frames (${d.width}x${d.height}), in ${s.seconds.toFixed(1)} s\n`);
    } else {
      io.out(`world model ${s.card.id} -> ${values.out}\n`);
      io.out(`  trained on    ${d.trainEpisodes} episodes, ${d.frames} frames (${d.width}x${d.height}), latent ${s.latent}, in ${s.seconds.toFixed(1)} s\n`);
      io.out(`  state-head MSE (normalised) ${s.final.stateMse?.toFixed(3) ?? 'n/a (no state supervision)'}\n`);
      io.out(`  dynamics Δz NMSE ${s.final.latentDeltaNmse?.toFixed(4)}  inverse MSE ${s.final.inverseMse?.toFixed(4)}\n`);
    }
    io.out(`  evaluate: trajforge eval --model ${values.out} ${dataset}\n`);
    return 0;
  },
};

/**
 * Reading, the data, and each epoch: a bar per phase on a terminal, otherwise a line every two
 * seconds and at each phase's end. Times count from the end of reading, when training starts.
 */
function progressReporter(io: CliIO, dataset: string): (p: TrainProgress) => void {
  let started = 0;
  let lastLine = 0;
  return (p) => {
    if (p.stage === 'read') {
      if (p.done === 0) io.err(`reading ${dataset} ...\n`);
      if ('data' in p && p.data) {
        const d = p.data;
        io.err(`${d.episodes} episodes (${d.trainEpisodes} train, ${d.heldoutEpisodes} held out), ${d.frames} frames at ${d.width}x${d.height} from camera '${d.camera}'\n`);
        started = p.elapsed;
      }
      return;
    }
    if (!('losses' in p)) return;
    const elapsed = p.elapsed - started;
    const parts = Object.entries(p.losses)
      .map(([k, v]) => `${k} ${v < 0.01 ? v.toExponential(2) : v.toFixed(4)}`)
      .join('  ');
    if (io.isTTY) {
      const width = 20;
      const filled = Math.round((width * p.done) / p.total);
      io.err(`\r${p.stage.padEnd(11)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}  ${parts}  ${elapsed.toFixed(0)} s   ${p.done === p.total ? '\n' : ''}`);
    } else if (elapsed - lastLine >= 2 || p.done === p.total) {
      lastLine = elapsed;
      io.err(`${p.stage} epoch ${p.done}/${p.total}  ${parts}  ${elapsed.toFixed(0)} s\n`);
    }
  };
}
