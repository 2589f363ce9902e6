import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { boxContains } from '../core/spaces.js';
import { episodeSeed, summarizeEpisode } from '../episode/rollout.js';
import { makePolicy } from '../policy/index.js';
import { createEnv } from '../sim/env.js';
import { hashSnapshot } from '../sim/hash.js';
import { intOption, parse, SET_OPTION, SET_USAGE, overridesOf } from './args.js';
import type { Command } from './io.js';

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate an environment, roll out random steps, and report',
  usage: `trajforge check <env id or file> [--steps 100] [--seed 0] [--expert-episodes 10] ${SET_USAGE}`,
  async run(args, io) {
    const { values, positionals } = parse(args, { steps: { type: 'string' }, seed: { type: 'string' }, 'expert-episodes': { type: 'string' }, ...SET_OPTION }, this.usage);
    const ref = positionals[0];
    if (!ref) throw new TrajforgeError('E_USAGE', `missing environment\nusage: ${this.usage}`);
    const steps = intOption(values.steps, 'steps', 100, 1);
    const seed = intOption(values.seed, 'seed', 0);
    const expertEpisodes = intOption(values['expert-episodes'], 'expert-episodes', 10);
    const resolved = loadEnv(ref, { baseDir: io.cwd, overrides: overridesOf(values) });
    const env = await createEnv(resolved);
    try {
      const c = resolved.config;
      const a = env.actionSpace;
      io.out(`${c.id}: valid (${resolved.source})\n`);
      io.out(`  config hash   ${resolved.hash}\n`);
      io.out(`  control       ${env.spec.fps} steps/s (${c.world.substeps} x ${c.world.timestep} s physics), time limit ${c.task.timeLimit} steps\n`);
      io.out(`  bodies        ${env.spec.bodyNames.length}: ${env.spec.bodyNames.join(', ')}\n`);
      io.out(`  observation   ${env.observationSpace.shape[0]} dims: ${env.observationSpace.names.join(', ')}\n`);
      io.out(`  actions       ${a.type === 'box' ? `Box(${a.shape[0]}): ${a.names.map((n, i) => `${n} [${a.low[i]}, ${a.high[i]}]`).join(', ')}` : `Discrete(${a.n}): ${a.names.join(', ')}`}\n`);
      io.out(`  cameras       ${c.cameras.map((cam) => `${cam.name} ${cam.resolution[0]}x${cam.resolution[1]} [${cam.channels.join(',')}]`).join('; ') || 'none'}\n`);

      const policy = makePolicy('random', env);
      policy.reset(seed);
      let { obs } = env.reset({ seed });
      let episodes = 1;
      let ends = 0;
      let reward = 0;
      let minR = Infinity;
      let maxR = -Infinity;
      let outside = 0;
      let hash = '';
      const t0 = performance.now();
      for (let t = 0; t < steps; t++) {
        const r = env.step(policy.act(obs, env));
        reward += r.reward;
        minR = Math.min(minR, r.reward);
        maxR = Math.max(maxR, r.reward);
        if (!r.obs.every(Number.isFinite)) throw new TrajforgeError('E_INTERNAL', `${c.id}: non-finite observation at step ${t}`);
        if (!boxContains(env.observationSpace, r.obs)) outside++;
        hash = hashSnapshot(env.snapshot());
        obs = r.obs;
        if (r.terminated || r.truncated) {
          ends++;
          episodes++;
          obs = env.reset({ seed: seed + episodes }).obs;
        }
      }
      const dt = (performance.now() - t0) / 1000;
      io.out(`  random play   ${steps} steps in ${episodes} episode(s), ${ends} ended; reward mean ${(reward / steps).toFixed(4)} [${minR.toFixed(3)}, ${maxR.toFixed(3)}]; ${Math.round(steps / dt)} steps/s incl. snapshots\n`);
      io.out(`  observations  all finite; ${outside} outside the observation space; last snapshot hash ${hash}\n`);
      if (env.spec.hasExpert && expertEpisodes > 0) {
        const expert = makePolicy('expert', env);
        let ok = 0;
        for (let k = 0; k < expertEpisodes; k++) ok += summarizeEpisode(env, expert, episodeSeed(seed, k)).success ? 1 : 0;
        io.out(`  expert        ${ok}/${expertEpisodes} successful episodes\n`);
      }
      return 0;
    } finally {
      env.close();
    }
  },
};
