import { loadEnv } from '../src/config/load.js';
import { createEnv } from '../src/sim/env.js';
import { makePolicy } from '../src/policy/index.js';
import { summarizeEpisode, episodeSeed } from '../src/episode/rollout.js';
const id = process.argv[2] ?? 'PushCube-v1';
const n = Number(process.argv[3] ?? 50);
const env = await createEnv(loadEnv(id));
for (const kind of ['expert', 'random', 'noise'] as const) {
  if (kind === 'expert' && !env.spec.hasExpert) continue;
  const policy = makePolicy(kind, env);
  let succ = 0, steps = 0; const t0 = performance.now();
  const fails: number[] = [];
  for (let k = 0; k < n; k++) { const s = summarizeEpisode(env, policy, episodeSeed(0, k)); succ += s.success ? 1 : 0; steps += s.steps; if (!s.success && fails.length < 8) fails.push(k); }
  const dt = (performance.now() - t0) / 1000;
  console.log(`${id} ${kind}: success ${succ}/${n}, mean len ${(steps / n).toFixed(1)}, ${(steps / dt).toFixed(0)} steps/s, fails ${fails.join(',')}`);
}
env.close();
