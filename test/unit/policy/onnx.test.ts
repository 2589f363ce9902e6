/**
 * ONNX policies in the loop: a linear feedback controller exported as a one-layer graph drives
 * generate exactly as the same controller written in TypeScript; graphs that do not fit the
 * environment, and files that are not ONNX, are refused naming the file; discrete action sets
 * take scores (argmax) or an index; the dataset does not depend on the worker count and records
 * the policy file, which --resume holds the run to.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { validateEnvConfig, type ResolvedEnv } from '../../../src/config/parse.js';
import type { Action, Space } from '../../../src/core/spaces.js';
import { episodeSeed, rolloutAsync } from '../../../src/episode/rollout.js';
import { simulateEpisode } from '../../../src/episode/simulate.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { OnnxGraph, type Dim } from '../../../src/model/onnx/graph.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { loadOnnxPolicyFile } from '../../../src/policy/load.js';
import type { Policy } from '../../../src/policy/policy.js';
import { Renderer } from '../../../src/render/renderer.js';
import { createEnv } from '../../../src/sim/env.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { datasetDigest } from '../../helpers/digest.js';
import { generateOptions, interruptedRun } from '../../helpers/generate.js';
import { rejection } from '../../helpers/rejection.js';

let root: string;

/** CartPole's state feedback (slider angle, slider velocity, hinge angle, hinge velocity): it balances the pole. */
const GAINS = [0.1, 0.25, 3.0, 0.5];

/** A one-layer graph y = x·W + b, written to `file`: W is inputs × outputs, row-major. */
function linearGraph(file: string, W: Float32Array, b: Float32Array, o: { input?: string; inputDims?: Dim[]; outputDims?: Dim[] } = {}): string {
  const inputs = W.length / b.length;
  const g = new OnnxGraph('linear_policy');
  const x = g.input(o.input ?? 'observation', o.inputDims ?? ['batch', inputs]);
  const rowInput = (o.inputDims ?? ['batch', inputs]).length === 1;
  // Gemm wants rank 2: a [D] input is viewed as [1, D] and the result flattened back.
  const y = g.gemm(rowInput ? g.reshape(x, [1, inputs]) : x, { inputs, outputs: b.length, weights: W, bias: b, activation: 'linear' });
  g.output(rowInput ? g.reshape(y, [b.length]) : y, 'action', o.outputDims ?? ['batch', b.length]);
  writeFileSync(file, g.toBytes());
  return file;
}

/** The same controller in TypeScript: u = W·obs + b (float32 weights, as the graph holds them), clipped to the box. */
class LinearPolicy implements Policy {
  readonly name = 'linear';
  constructor(
    private readonly W: Float32Array,
    private readonly b: Float32Array,
    private readonly space: Space,
  ) {}
  reset(): void {}
  scores(obs: Float32Array): number[] {
    const A = this.b.length;
    const D = this.W.length / A;
    return Array.from({ length: A }, (_, k) => {
      let u = this.b[k]!;
      for (let j = 0; j < D; j++) u += this.W[j * A + k]! * obs[j]!;
      return u;
    });
  }
  act(obs: Float32Array): Action {
    const u = this.scores(obs);
    if (this.space.type === 'discrete') return u.indexOf(Math.max(...u));
    const { low, high } = this.space;
    return Float32Array.from(u, (v, k) => Math.min(high[k]!, Math.max(low[k]!, v)));
  }
}

async function episodesOf(dir: string): Promise<EpisodeData[]> {
  const out: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir, { channels: [] })) out.push(ep);
  return out;
}

/** CartPole with three named choices instead of a continuous force. */
function discreteCartPole(): ResolvedEnv {
  const cfg = loadEnv('CartPole-v1').config;
  const doc = { ...cfg, id: 'CartPoleChoices-v1', expert: undefined, actions: { ...cfg.actions, discrete: [{ name: 'left', value: [-1] }, { name: 'stay', value: [0] }, { name: 'right', value: [1] }] } };
  return validateEnvConfig(JSON.parse(JSON.stringify(doc)), 'cart-pole-choices.json');
}

beforeAll(() => {
  root = tmpDir('tf-onnx-policy-');
  mkdirSync(join(root, 'policies'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ONNX policies', () => {
  it('a linear feedback expert as a one-layer graph drives generate action for action like the same controller in TypeScript', async () => {
    const W = Float32Array.from(GAINS);
    const b = Float32Array.of(0);
    const file = linearGraph(join(root, 'policies', 'feedback.onnx'), W, b);
    const out = join(root, 'feedback');
    const summary = await generateDataset(generateOptions(out, { env: loadEnv('CartPole-v1'), episodes: 3, seed: 4, channels: [], policy: { kind: 'onnx', file, noise: 0, epsilon: 0 } }));
    expect(summary.episodes).toBe(3);

    const env = await createEnv(loadEnv('CartPole-v1'));
    const ts = new LinearPolicy(W, b, env.actionSpace);
    const written = await episodesOf(out);
    let compared = 0;
    for (const [k, ep] of written.entries()) {
      // Step by step: the graph's action is the controller's on the observation it was given (to a few float32 ulps).
      for (let t = 0; t < ep.length; t++) {
        const expected = ts.act(ep.obs.subarray(t * 4, (t + 1) * 4)) as Float32Array;
        expect(Math.abs(ep.actions[t]! - expected[0]!)).toBeLessThanOrEqual(1e-6);
      }
      // And as a whole: the TypeScript controller in the same loop reproduces the episode.
      const again = await simulateEpisode(env, ts, new Renderer(), k, episodeSeed(4, k), []);
      expect(again.length).toBe(ep.length);
      // float32 rounding apart (onnxruntime's Gemm sums in its own order; measured ≤ 7e-7 here).
      for (let i = 0; i < ep.actions.length; i++) expect(Math.abs(again.actions[i]! - ep.actions[i]!)).toBeLessThanOrEqual(1e-5);
      for (let i = 0; i < ep.obs.length; i++) expect(Math.abs(again.obs[i]! - ep.obs[i]!)).toBeLessThanOrEqual(1e-5);
      compared += ep.length;
    }
    // The controller balances: CartPole's episodes run to the time limit, so many steps are compared.
    expect(compared).toBe(3 * 200);
    // Not a constant: the force changes sign and saturates within episodes.
    const forces = written.flatMap((e) => Array.from(e.actions));
    expect(Math.min(...forces)).toBeLessThan(0);
    expect(Math.max(...forces)).toBeGreaterThan(0);

    // The run records the policy: its kind, the file as given and its content hash.
    const meta = datasetMeta(out);
    const sha = (await import('node:crypto')).createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(meta.run.policy).toEqual({ kind: 'onnx', noise: 0, epsilon: 0, file, sha256: sha });
    env.close();
  });

  it('rolloutAsync and a [D] -> [A] graph (no batch dimension) give the same actions', async () => {
    const W = Float32Array.from(GAINS);
    const b = Float32Array.of(0.05);
    const file = linearGraph(join(root, 'policies', 'rank1.onnx'), W, b, { inputDims: [4], outputDims: [1] });
    const env = await createEnv(loadEnv('CartPole-v1'));
    const { policy } = await loadOnnxPolicyFile(file, env);
    expect(policy.io).toEqual({ input: { name: 'observation', kind: 'observation', width: 4, rank: 1 }, output: { name: 'action', width: 1, declared: true } });
    const ts = new LinearPolicy(W, b, env.actionSpace);
    let steps = 0;
    for await (const s of rolloutAsync(env, policy, 11)) {
      expect((s.action as Float32Array)[0]).toBeCloseTo((ts.act(s.obs) as Float32Array)[0]!, 6);
      steps++;
    }
    expect(steps).toBeGreaterThan(10);
    await policy.dispose();
    env.close();
  });

  it('refuses a graph that does not fit the environment, and a file that is not ONNX, naming the file and writing nothing', async () => {
    const policies = join(root, 'policies');
    const wide = linearGraph(join(policies, 'wide.onnx'), new Float32Array(5), Float32Array.of(0));
    const batch4 = linearGraph(join(policies, 'batch4.onnx'), new Float32Array(4), Float32Array.of(0), { inputDims: [4, 4], outputDims: [4, 1] });
    const latent = linearGraph(join(policies, 'latent.onnx'), new Float32Array(16), Float32Array.of(0), { input: 'latent' });
    const good = readFileSync(linearGraph(join(policies, 'good.onnx'), Float32Array.from(GAINS), Float32Array.of(0)));
    const truncated = join(policies, 'truncated.onnx');
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const text = join(policies, 'notes.onnx');
    writeFileSync(text, 'not a model\n');
    const cases: [string, RegExp][] = [
      [wide, /input 'observation' takes 5 values, but the environment's observation has 4 values/],
      [batch4, /input 'observation' has shape \[4, 4\]; a policy graph's input is \[N, D\] \(N symbolic or 1\) or \[D\]/],
      [latent, /latent policies run in `trajforge dream`/],
      [truncated, /not a loadable ONNX model/],
      [text, /not a loadable ONNX model/],
      [join(policies, 'missing.onnx'), /cannot read the ONNX policy \(no such file\)/],
      [policies, /a folder, not an ONNX file/],
    ];
    for (const [file, message] of cases) {
      const out = join(root, 'refused');
      const e = await rejection(generateDataset(generateOptions(out, { env: loadEnv('CartPole-v1'), episodes: 1, channels: [], policy: { kind: 'onnx', file, noise: 0, epsilon: 0 } })));
      expect(e.code, file).toBe('E_POLICY_INVALID');
      expect(e.message.startsWith(`${file}: `), e.message).toBe(true);
      expect(e.message).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    // Outputs are checked too: 3 values for CartPole's one force.
    const env = await createEnv(loadEnv('CartPole-v1'));
    const three = linearGraph(join(policies, 'three-out.onnx'), new Float32Array(12), new Float32Array(3));
    const e = await rejection(loadOnnxPolicyFile(three, env));
    expect(e.code).toBe('E_POLICY_INVALID');
    expect(e.message).toBe(`${three}: output 'action' gives 3 values, but the environment expects 1 action values (force); train or export the policy for this environment (trajforge bc)`);
    env.close();

    // The CLI: exit 2 and the file named.
    const r = await cli(['generate', 'CartPole-v1', '--episodes', '1', '--policy', `onnx:${wide}`, '--out', join(root, 'cli-refused')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error[E_POLICY_INVALID]: ${wide}: input 'observation' takes 5 values`);
    expect(existsSync(join(root, 'cli-refused'))).toBe(false);
    expect((await cli(['generate', 'CartPole-v1', '--policy', 'onnx:', '--out', join(root, 'x')])).err).toContain('--policy onnx:PATH needs the path');
  });

  it('a discrete action set takes n scores (argmax) or one index (rounded, clamped)', async () => {
    const resolved = discreteCartPole();
    const env = await createEnv(resolved);
    expect(env.actionSpace).toMatchObject({ type: 'discrete', n: 3 });
    // Scores (-u, 0, u) for u = gains · obs: argmax pushes the way the feedback says.
    const W = new Float32Array(4 * 3);
    GAINS.forEach((g, j) => {
      W[j * 3] = -g;
      W[j * 3 + 2] = g;
    });
    const scores = linearGraph(join(root, 'policies', 'scores.onnx'), W, new Float32Array(3));
    const out = join(root, 'discrete');
    await generateDataset(generateOptions(out, { env: resolved, episodes: 2, seed: 1, channels: [], policy: { kind: 'onnx', file: scores, noise: 0, epsilon: 0 } }));
    const ts = new LinearPolicy(W, new Float32Array(3), env.actionSpace);
    const eps = await episodesOf(out);
    const choices = new Set<number>();
    for (const ep of eps) {
      for (let t = 0; t < ep.length; t++) {
        const s = ts.scores(ep.obs.subarray(t * 4, (t + 1) * 4));
        // Rows where two scores tie to float precision could go either way; there are none here.
        expect(Math.abs(s[2]!)).toBeGreaterThan(1e-6);
        expect(ep.actions[t]).toBe(ts.act(ep.obs.subarray(t * 4, (t + 1) * 4)));
        choices.add(ep.actions[t]!);
      }
    }
    expect([...choices].sort()).toEqual([0, 2]);

    // One output: the index itself, rounded and clamped to the choices.
    const index = linearGraph(join(root, 'policies', 'index.onnx'), new Float32Array(4), Float32Array.of(1.6));
    const { policy } = await loadOnnxPolicyFile(index, env);
    expect(await policy.act(new Float32Array(4))).toBe(2);
    await policy.dispose();
    const below = linearGraph(join(root, 'policies', 'below.onnx'), new Float32Array(4), Float32Array.of(-3));
    const low = await loadOnnxPolicyFile(below, env);
    expect(await low.policy.act(new Float32Array(4))).toBe(0);
    await low.policy.dispose();
    // Two outputs fit neither convention for three choices.
    const two = linearGraph(join(root, 'policies', 'two.onnx'), new Float32Array(8), new Float32Array(2));
    expect((await rejection(loadOnnxPolicyFile(two, env))).message).toContain('expects 3 choice scores (argmax) or 1 choice index (left, stay, right)');
    env.close();
  });

  it('a 2-worker run equals a 1-worker run byte for byte (noise and epsilon included), and --resume holds the run to its policy file', async () => {
    const file = linearGraph(join(root, 'policies', 'noisy.onnx'), Float32Array.from(GAINS), Float32Array.of(0));
    const policy = { kind: 'onnx' as const, file, noise: 0.2, epsilon: 0.1 };
    const opts = (out: string, workers: number) => generateOptions(join(root, out), { env: loadEnv('CartPole-v1'), episodes: 4, seed: 2, workers, channels: ['rgb'], policy });
    await generateDataset(opts('one-worker', 1));
    await generateDataset(opts('two-workers', 2));
    const one = datasetDigest(join(root, 'one-worker'));
    expect(Object.keys(one).length).toBeGreaterThan(5);
    expect(datasetDigest(join(root, 'two-workers'))).toEqual(one);
    // The noise is there: the actions are not the noiseless controller's.
    const ts = new LinearPolicy(Float32Array.from(GAINS), Float32Array.of(0), { type: 'box', dtype: 'float32', shape: [1], low: [-1], high: [1], names: ['force'] });
    const ep = (await episodesOf(join(root, 'one-worker')))[0]!;
    const off = Array.from({ length: ep.length }, (_, t) => Math.abs(ep.actions[t]! - (ts.act(ep.obs.subarray(t * 4, t * 4 + 4)) as Float32Array)[0]!));
    expect(Math.max(...off)).toBeGreaterThan(0.01);

    // A run interrupted with one file and resumed with another is refused, naming the hash.
    const other = linearGraph(join(root, 'policies', 'other.onnx'), Float32Array.from(GAINS.map((g) => g * 1.1)), Float32Array.of(0));
    const partial = { ...opts('resumed', 0), checkpoint: 1 };
    await interruptedRun(partial, 2);
    const e = await rejection(generateDataset({ ...partial, resume: true, policy: { ...policy, file: other } }));
    expect(e.code).toBe('E_DATASET_EXISTS');
    expect(e.message).toContain('run.policy.file, run.policy.sha256');
    // The same file resumes and completes the run as an uninterrupted one.
    await generateDataset({ ...partial, resume: true });
    const straight = { ...opts('straight', 0), checkpoint: 1 };
    await generateDataset(straight);
    expect(datasetDigest(join(root, 'resumed'))).toEqual(datasetDigest(join(root, 'straight')));
  });
});
