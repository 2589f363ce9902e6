import { TrajforgeError } from '../core/errors.js';
import { trainBehaviourCloning, type BcProgress } from '../pipeline/bc.js';
import { intOption, numberOption, parse } from './args.js';
import { printNotice, type CliIO, type Command } from './io.js';

export const bcCommand: Command = {
  name: 'bc',
  summary: "behaviour cloning: fit an MLP from a dataset's observations to its actions, export it as an ONNX policy",
  usage:
    'trajforge bc DATASET --out POLICY_DIR|FILE.onnx [--input observation.state|observation.latent|KEY] [--hidden 256] [--layers 2] [--activation relu|tanh] ' +
    '[--steps 2000] [--batch 256] [--lr 1e-3] [--seed 0] [--episodes N (the first N)] [--overwrite (replace a policy this tool wrote)]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        out: { type: 'string' },
        input: { type: 'string' },
        hidden: { type: 'string' },
        layers: { type: 'string' },
        activation: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        episodes: { type: 'string' },
        overwrite: { type: 'boolean' },
      },
      this.usage,
    );
    const dataset = positionals[0];
    if (!dataset) throw new TrajforgeError('E_USAGE', `missing DATASET\nusage: ${this.usage}`);
    if (positionals.length > 1) throw new TrajforgeError('E_USAGE', `one DATASET only, got ${positionals.length}\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out POLICY_DIR or FILE.onnx\nusage: ${this.usage}`);
    const activation = values.activation as string | undefined;
    if (activation !== undefined && activation !== 'relu' && activation !== 'tanh') throw new TrajforgeError('E_USAGE', `--activation must be relu or tanh, got '${activation}'`);
    const s = await trainBehaviourCloning({
      dataset,
      out: values.out as string,
      overwrite: (values.overwrite as unknown) === true,
      input: values.input as string | undefined,
      hidden: intOption(values.hidden as string | undefined, 'hidden', 256, 1),
      layers: intOption(values.layers as string | undefined, 'layers', 2, 1),
      activation,
      steps: intOption(values.steps as string | undefined, 'steps', 2000, 1),
      batch: intOption(values.batch as string | undefined, 'batch', 256, 1),
      learningRate: numberOption(values.lr as string | undefined, 'lr', 1e-3),
      seed: intOption(values.seed as string | undefined, 'seed', 0),
      episodes: values.episodes === undefined ? undefined : intOption(values.episodes as string, 'episodes', 2, 2),
      cwd: io.cwd,
      onProgress: reporter(io),
      onNotice: printNotice(io),
    });
    if (io.isTTY) io.err('\n');
    const c = s.card;
    io.out(`bc ${c.env_id}: ${dataset} (${c.input.key}, ${c.input.size} values) -> ${values.out}\n`);
    io.out(`  episodes      ${c.dataset.episodes} (${c.dataset.train_episodes} train, ${c.dataset.heldout_episodes} held out: every 5th); ${c.dataset.train_rows} + ${c.dataset.heldout_rows} steps\n`);
    io.out(`  network       ${c.input.size} -> ${Array.from({ length: c.network.layers }, () => c.network.hidden).join(' -> ')} -> ${c.output.size} (${c.network.activation})\n`);
    io.out(`  training      ${c.training.steps} steps of ${c.training.batch} in ${s.trainSeconds.toFixed(1)} s (${Math.round(c.training.steps / Math.max(s.trainSeconds, 1e-9))} steps/s), final loss ${c.training.final_loss.toPrecision(3)}\n`);
    const width = Math.max(6, ...c.output.names.map((n) => n.length));
    const r2 = (v: number | null) => (v === null ? 'n/a' : v.toFixed(3)).padStart(9);
    const mae = (v: number) => v.toPrecision(3).padStart(10);
    io.out(`  ${'action'.padEnd(width)}  train R²  held-out R²  train MAE  held-out MAE\n`);
    c.output.names.forEach((n, k) => {
      io.out(`  ${n.padEnd(width)} ${r2(c.metrics.train.r2[k]!)} ${r2(c.metrics.heldout.r2[k]!).padStart(12)} ${mae(c.metrics.train.mae[k]!)} ${mae(c.metrics.heldout.mae[k]!).padStart(13)}\n`);
    });
    const accuracy = (m: { choiceAccuracy?: number }) => (m.choiceAccuracy ?? NaN).toFixed(3);
    if (c.output.discrete) io.out(`  choice picked ${accuracy(c.metrics.train)} of train steps, ${accuracy(c.metrics.heldout)} held out (the largest of the ${c.output.size} values)\n`);
    io.out(`  wrote         ${s.policy} (sha256 ${c.sha256.slice(0, 12)}) and ${s.cardFile}\n`);
    return 0;
  },
};

/** A progress bar on a terminal, a plain line every few seconds otherwise. */
function reporter(io: CliIO): (p: BcProgress) => void {
  let last = 0;
  return (p) => {
    if (p.stage !== 'train') return;
    const loss = 'loss' in p ? p.loss.toPrecision(3) : '';
    if (io.isTTY) {
      if (p.done % 10 === 0 || p.done === p.total) io.err(`\rtraining ${p.done}/${p.total} steps  loss ${loss}   `);
    } else if (p.elapsed - last >= 5 || p.done === p.total) {
      last = p.elapsed;
      io.err(`training ${p.done}/${p.total} steps  loss ${loss}\n`);
    }
  };
}
