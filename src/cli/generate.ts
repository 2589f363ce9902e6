import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { episodeSeed, summarizeEpisode } from '../episode/rollout.js';
import { makePolicy, POLICY_KINDS, type PolicyKind } from '../policy/index.js';
import { createEnv } from '../sim/env.js';
import { intOption, numberOption, parse } from './args.js';
import type { Command } from './io.js';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'roll out episodes of an environment with a policy',
  usage: 'trajforge generate <env id or file> [--episodes 50] [--seed 0] [--policy expert|random|noise] [--noise 0.1] [--epsilon 0]',
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      {
        episodes: { type: 'string' },
        seed: { type: 'string' },
        policy: { type: 'string' },
        noise: { type: 'string' },
        epsilon: { type: 'string' },
        out: { type: 'string' },
      },
      this.usage,
    );
    const ref = positionals[0];
    if (!ref) throw new TrajforgeError('E_USAGE', `missing environment\nusage: ${this.usage}`);
    const episodes = intOption(values.episodes, 'episodes', 50, 1);
    const seed = intOption(values.seed, 'seed', 0);
    const env = await createEnv(loadEnv(ref, { baseDir: io.cwd }));
    try {
      const kind = (values.policy ?? (env.spec.hasExpert ? 'expert' : 'noise')) as PolicyKind;
      if (!POLICY_KINDS.includes(kind) || kind === 'replay') throw new TrajforgeError('E_USAGE', `--policy must be one of expert, random, noise; got '${kind}'`);
      const policy = makePolicy(kind, env, { noise: numberOption(values.noise, 'noise', 0), epsilon: numberOption(values.epsilon, 'epsilon', 0) });
      const t0 = performance.now();
      let steps = 0;
      let successes = 0;
      let ret = 0;
      for (let k = 0; k < episodes; k++) {
        const s = summarizeEpisode(env, policy, episodeSeed(seed, k));
        steps += s.steps;
        successes += s.success ? 1 : 0;
        ret += s.return;
        if (!io.isTTY && (k + 1) % 10 === 0) io.err(`episode ${k + 1}/${episodes}\n`);
      }
      const dt = (performance.now() - t0) / 1000;
      io.out(`${env.spec.id}: ${episodes} episodes, ${steps} steps, policy ${kind}\n`);
      if (env.spec.isTask) io.out(`  success rate  ${((100 * successes) / episodes).toFixed(1)}%\n`);
      io.out(`  mean return   ${(ret / episodes).toFixed(3)}\n  throughput    ${Math.round(steps / dt)} steps/s (physics only, single thread)\n`);
      return 0;
    } finally {
      env.close();
    }
  },
};
