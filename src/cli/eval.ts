import { join } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { parseProviders, PROVIDERS_ENV } from '../model/onnx/runtime.js';
import { evaluateWorldModel } from '../pipeline/eval.js';
import { formatTargetValue } from '../report/world-model-report.js';
import { intOption, parse } from './args.js';
import { printNotice, type Command } from './io.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'evaluate a world model on held-out episodes against the PCA baseline and copy-last (report.json, report.md, PNG plots)',
  usage: 'trajforge eval --model MODEL_DIR DATASET [--out DIR (default MODEL_DIR/eval)] [--horizon 10 (at most the longest held-out episode)] [--context N (default: what the model sees)]',
  async run(args, io) {
    const { values, positionals } = parse(args, { model: { type: 'string' }, out: { type: 'string' }, horizon: { type: 'string' }, context: { type: 'string' } }, this.usage);
    const dataset = positionals[0];
    if (!dataset || !values.model) throw new TrajforgeError('E_USAGE', `usage: ${this.usage}`);
    const s = await evaluateWorldModel({
      model: values.model as string,
      dataset,
      out: values.out as string | undefined,
      ...(values.horizon === undefined ? {} : { horizon: intOption(values.horizon as string, 'horizon', 10, 1) }),
      context: values.context === undefined ? undefined : intOption(values.context as string, 'context', 1, 1),
      providers: parseProviders(process.env[PROVIDERS_ENV]),
      cwd: io.cwd,
      onNotice: printNotice(io),
      onProgress: (p) => {
        if (p.stage === 'evaluate' && p.done === 0) io.err(`evaluating ${p.modelId} on ${p.heldoutEpisodes} held-out episodes of ${dataset} ...\n`);
      },
    });
    io.out(`report -> ${join((values.out as string | undefined) ?? join(values.model as string, 'eval'), 'report.md')}\n`);
    for (const tg of s.targets) io.out(`  ${tg.pass ? 'pass' : 'MISS'}  ${tg.name}: ${formatTargetValue(tg)} (target ${tg.target})\n`);
    io.out(`  ${s.horizon}-step MSE: model ${s.mse.model.toExponential(3)}, PCA ${s.mse.baseline.toExponential(3)}, copy-last ${s.mse.copyLast.toExponential(3)}\n`);
    return 0;
  },
};
