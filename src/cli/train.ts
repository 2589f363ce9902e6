import { TrajforgeError } from '../core/errors.js';
import { trainWorldModel, type TrainOptions, type TrainProgress, type WorldModelKind } from '../pipeline/train.js';
import { intOption, numberOption, parse } from './args.js';

/** A duration such as 90, 90s, 10m or 1.5h, in seconds. */
function durationOption(value: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!(seconds > 0)) throw new TrajforgeError('E_USAGE', `--${name} must be a positive duration such as 600, 90s, 10m or 1.5h, got '${value}'`);
  return seconds;
}
import { printNotice, type CliIO, type Command } from './io.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'fit a latent world model (encoder, decoder, dynamics + reward/done, inverse) and export it as ONNX',
  usage:
    'trajforge train DATASET --out MODEL_DIR [--arch conv|keypoints|linear (default conv)] [--latent 160 (conv: 32 + 4 per learned keypoint; 128 keypoints)] [--hidden 256] [--camera NAME] [--seed 0] ' +
    '[--rollout 8] [--state-weight 10 (conv; 1 keypoints; 0: no state supervision)] [--inverse-weight 50 (conv)] [--augment-chroma 0.5 (conv: share of sequences with 4:2:0 colour, so the model reads H.264 / VP9 video; 0: none)] [--overwrite (replace a model folder this tool wrote)] ' +
    'conv: [--steps 2000] [--batch 8] [--depth 16] [--learned-keypoints 32] [--context 2 (frames the encoder sees: 2 gives z velocities)] [--keypoint-maps 1 (0: the decoder does not draw the keypoints)] [--lr 1e-3] [--budget 10m (stop then, with a usable model)] [--resume (continue after a kill or --budget)] [--threads 2] ' +
    'keypoints: [--epochs 12] [--keypoints 12 (colour keypoints; 0: none)] [--dynamics-noise NOISE] [--sprites 5] [--sprite-count 8] [--downsample auto]',
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
        arch: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        depth: { type: 'string' },
        lr: { type: 'string' },
        budget: { type: 'string' },
        resume: { type: 'boolean' },
        threads: { type: 'string' },
        'learned-keypoints': { type: 'string' },
        context: { type: 'string' },
        'keypoint-maps': { type: 'string' },
        'state-weight': { type: 'string' },
        'inverse-weight': { type: 'string' },
        'augment-chroma': { type: 'string' },
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
      inverseWeight: num('inverse-weight'),
      augmentChroma: num('augment-chroma'),
      dynamicsNoise: num('dynamics-noise'),
      seed: int('seed', 0),
      sprites: int('sprites', 0),
      spriteCount: int('sprite-count', 1),
      kind: (values.arch ?? values.model) as WorldModelKind | undefined,
      steps: int('steps', 1),
      batch: int('batch', 1),
      depth: int('depth', 1),
      threads: int('threads', 1),
      learnedKeypoints: int('learned-keypoints', 0),
      context: int('context', 1),
      keypointMaps: values['keypoint-maps'] === undefined ? undefined : int('keypoint-maps', 0) !== 0,
      learningRate: num('lr'),
      budgetSeconds: values.budget === undefined ? undefined : durationOption(values.budget as string, 'budget'),
      resume: (values.resume as unknown) === true,
      camera: values.camera as string | undefined,
      downsample: values.downsample ? intOption(values.downsample as string, 'downsample', 1, 1) : undefined,
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: progressReporter(io, dataset),
    };
    const s = await trainWorldModel(options);
    const d = s.data;
    if (s.kind === 'conv') {
      io.out(`conv world model ${s.card.id} -> ${values.out}\n`);
      io.out(`  trained on    ${d.trainEpisodes} episodes, ${d.trainFrames} frames (${d.width}x${d.height}), latent ${s.latent}, ${s.steps!.done} of ${s.steps!.planned} steps, in ${s.seconds.toFixed(1)} s\n`);
      const last = s.log.at(-1)?.parts ?? {};
      io.out(`  final losses  ${Object.entries(last).map(([k, v]) => `${k} ${v.toPrecision(3)}`).join('  ')}\n`);
      if (s.steps!.stopped) io.out(`  --budget stopped training at step ${s.steps!.done}; --resume continues to ${s.steps!.planned}\n`);
    } else if (s.kind === 'linear') {
      io.out(`linear world model ${s.card.id} -> ${values.out}\n`);
      io.out(`  PCA ${s.latent} + bilinear ridge on ${d.trainEpisodes} episodes, ${d.trainFrames} frames (${d.width}x${d.height}), in ${s.seconds.toFixed(1)} s\n`);
    } else {
      io.out(`world model ${s.card.id} -> ${values.out}\n`);
      io.out(`  trained on    ${d.trainEpisodes} episodes, ${d.trainFrames} frames (${d.width}x${d.height}), latent ${s.latent}, in ${s.seconds.toFixed(1)} s\n`);
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
    const unit = p.stage === 'train' ? 'step' : 'epoch';
    const eta = p.done > 0 && p.done < p.total ? `  eta ${((elapsed / p.done) * (p.total - p.done)).toFixed(0)} s` : '';
    if (io.isTTY) {
      const width = 20;
      const filled = Math.round((width * p.done) / p.total);
      io.err(`\r${p.stage.padEnd(11)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}  ${parts}  ${elapsed.toFixed(0)} s${eta}   ${p.done === p.total ? '\n' : ''}`);
    } else if (elapsed - lastLine >= 2 || p.done === p.total) {
      lastLine = elapsed;
      io.err(`${p.stage} ${unit} ${p.done}/${p.total}  ${parts}  ${elapsed.toFixed(0)} s${eta}\n`);
    }
  };
}
