/**
 * trajforge bc: behaviour cloning on a generated expert dataset, scored on held-out episodes,
 * exported as an ONNX policy that a fresh onnxruntime session reads back with the card's figures,
 * deterministic for a seed, and run in the loop by generate and (as a latent policy) by dream.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { dreamEpisodes, type DreamModel } from '../../../src/model/dream.js';
import { WorldModelSession } from '../../../src/model/session.js';
import { readModelCard, readModelParts } from '../../../src/model/store.js';
import { trainBehaviourCloning, type PolicyCard } from '../../../src/pipeline/bc.js';
import { dreamDataset } from '../../../src/pipeline/dream.js';
import { encodeDataset } from '../../../src/pipeline/encode.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { trainWorldModel } from '../../../src/pipeline/train.js';
import { loadOnnxPolicyFile } from '../../../src/policy/load.js';
import { Renderer } from '../../../src/render/renderer.js';
import { createEnv } from '../../../src/sim/env.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';
import { FOREIGN_MOTORS, writeForeignDataset } from '../../helpers/lerobot-foreign.js';
import { rejection } from '../../helpers/rejection.js';

let root: string;
/** What the tests train with: small enough for about a second of training on 2 cores. */
const SMALL = ['--steps', '1000', '--hidden', '128'];

/** Each episode's observations and actions, and the held-out split bc uses (every 5th episode). */
async function rowsOf(dir: string) {
  const eps: { obs: Float32Array; actions: Float32Array }[] = [];
  for await (const ep of readLeRobotEpisodes(dir, { channels: [] })) eps.push({ obs: ep.obs, actions: ep.actions });
  return { train: eps.filter((_, i) => i % 5 !== 4), heldout: eps.filter((_, i) => i % 5 === 4) };
}

/** The policy graph run by onnxruntime directly (not through trajforge's wrapper). */
async function runGraph(file: string, input: string, x: Float32Array, width: number): Promise<Float32Array> {
  const session = await InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const out = await session.run({ [input]: new Tensor('float32', x, [x.length / width, width]) });
    return out.action!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** R² and MAE per dimension, written out independently of src/. */
function score(pred: Float32Array, truth: Float32Array, A: number): { r2: number[]; mae: number[] } {
  const n = truth.length / A;
  const r2: number[] = [];
  const mae: number[] = [];
  for (let k = 0; k < A; k++) {
    const col = (a: Float32Array) => Array.from({ length: n }, (_, i) => a[i * A + k]!);
    const t = col(truth);
    const p = col(pred);
    const mean = t.reduce((s, v) => s + v, 0) / n;
    const ssTot = t.reduce((s, v) => s + (v - mean) ** 2, 0);
    const ssRes = t.reduce((s, v, i) => s + (v - p[i]!) ** 2, 0);
    r2.push(1 - ssRes / ssTot);
    mae.push(t.reduce((s, v, i) => s + Math.abs(v - p[i]!), 0) / n);
  }
  return { r2, mae };
}

const cat = (xs: Float32Array[]) => {
  const out = new Float32Array(xs.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const x of xs) {
    out.set(x, at);
    at += x.length;
  }
  return out;
};

beforeAll(async () => {
  root = tmpDir('tf-bc-');
  // 30 episodes of Reach-v1's expert (joint-velocity commands from the damped least-squares
  // inverse of the arm's Jacobian: a smooth function of the state), no cameras: seconds.
  await generateDataset(generateOptions(join(root, 'reach'), { env: loadEnv('Reach-v1'), episodes: 30, seed: 0, channels: [] }));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trajforge bc', () => {
  it('learns the expert: held-out R² above 0.9 per action, the card figures are the exported graph’s, read back by a fresh onnxruntime session', async () => {
    const r = await cli(['bc', 'reach', '--out', 'policy', ...SMALL], root);
    expect(r.code, r.err).toBe(0);
    const card = JSON.parse(readFileSync(join(root, 'policy', 'policy.json'), 'utf8')) as PolicyCard;
    const bytes = readFileSync(join(root, 'policy', 'policy.onnx'));
    expect(card).toMatchObject({
      format: 'trajforge-policy',
      kind: 'behaviour-cloning',
      file: 'policy.onnx',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      env_id: 'Reach-v1',
      config_hash: datasetMeta(join(root, 'reach')).configHash,
      input: { key: 'observation.state', name: 'observation', size: 10 },
      output: { name: 'action', size: 2, names: ['shoulder_vel', 'elbow_vel'] },
      dataset: { path: 'reach', episodes: 30, train_episodes: 24, heldout_episodes: 6 },
      network: { hidden: 128, layers: 2, activation: 'relu' },
      training: { steps: 1000, batch: 256, seed: 0 },
    });
    // Measured 0.974 and 0.977 held out (0.986 / 0.996 on the training episodes); a policy that
    // learned nothing scores ≤ 0 (the mean's R²). 0.9 leaves room for other CPUs' rounding.
    for (const v of card.metrics.heldout.r2) expect(v).toBeGreaterThan(0.9);
    for (const [k, v] of card.metrics.train.r2.entries()) expect(v).toBeGreaterThanOrEqual(card.metrics.heldout.r2[k]! - 0.02);
    for (const v of card.metrics.heldout.mae) expect(v).toBeLessThan(0.15);

    // The figures again, from the .onnx file alone: a fresh session and this file's own arithmetic.
    const { train, heldout } = await rowsOf(join(root, 'reach'));
    expect(card.dataset.train_rows).toBe(train.reduce((s, e) => s + e.actions.length / 2, 0));
    expect(card.dataset.heldout_rows).toBe(heldout.reduce((s, e) => s + e.actions.length / 2, 0));
    for (const [name, eps] of [['train', train], ['heldout', heldout]] as const) {
      const pred = await runGraph(join(root, 'policy', 'policy.onnx'), 'observation', cat(eps.map((e) => e.obs)), 10);
      const s = score(pred, cat(eps.map((e) => e.actions)), 2);
      for (let k = 0; k < 2; k++) {
        expect(card.metrics[name].r2[k]).toBeCloseTo(s.r2[k]!, 9);
        expect(card.metrics[name].mae[k]).toBeCloseTo(s.mae[k]!, 9);
      }
    }
    // The command's output: one line per action with both splits' R² and MAE.
    expect(r.out).toContain('episodes      30 (24 train, 6 held out: every 5th)');
    expect(r.out).toMatch(new RegExp(`shoulder_vel\\s+${card.metrics.train.r2[0]!.toFixed(3)}\\s+${card.metrics.heldout.r2[0]!.toFixed(3)}`));
  });

  it('is deterministic for a seed (the same .onnx bytes), writes FILE.onnx with FILE.json, and never replaces what it did not write', async () => {
    const a = await trainBehaviourCloning({ dataset: 'reach', out: 'again.onnx', steps: 200, hidden: 32, cwd: root });
    const b = await trainBehaviourCloning({ dataset: 'reach', out: 'b/again.onnx', steps: 200, hidden: 32, cwd: root });
    const c = await trainBehaviourCloning({ dataset: 'reach', out: 'seed1.onnx', steps: 200, hidden: 32, seed: 1, cwd: root });
    expect(a.policy).toBe(join(root, 'again.onnx'));
    expect(a.cardFile).toBe(join(root, 'again.json'));
    expect(readFileSync(b.policy).equals(readFileSync(a.policy))).toBe(true);
    expect(b.card.sha256).toBe(a.card.sha256);
    expect(c.card.sha256).not.toBe(a.card.sha256);

    // An existing file is replaced only with --overwrite, and only when its card is ours.
    expect((await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'again.onnx', steps: 1, cwd: root }))).code).toBe('E_DATASET_EXISTS');
    mkdirSync(join(root, 'mine'));
    writeFileSync(join(root, 'mine', 'model.onnx'), 'a user file');
    const foreign = await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'mine/model.onnx', overwrite: true, steps: 1, cwd: root }));
    expect(foreign.code).toBe('E_OUTPUT_NOT_OURS');
    expect(readFileSync(join(root, 'mine', 'model.onnx'), 'utf8')).toBe('a user file');
    await trainBehaviourCloning({ dataset: 'reach', out: 'again.onnx', overwrite: true, steps: 1, cwd: root });
    // A folder of someone else's files is refused; the policy folder of the first test is ours to replace.
    const e = await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'mine', overwrite: true, steps: 1, cwd: root }));
    expect(e.code).toBe('E_OUTPUT_NOT_OURS');
    expect((await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'reach/policy', steps: 1, cwd: root }))).message).toContain('lies inside the dataset');
    // Inputs: a feature the dataset lacks, too few episodes; nothing is written.
    const missing = await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'none', input: 'observation.latent', cwd: root }));
    expect(missing.message).toBe("reach has no float feature 'observation.latent' (it has: observation.state); `trajforge encode` adds observation.latent");
    expect((await rejection(trainBehaviourCloning({ dataset: 'reach', out: 'none', episodes: 1, cwd: root }))).message).toContain('--episodes must be an integer >= 2');
    expect(existsSync(join(root, 'none'))).toBe(false);
  });

  it("fits another tool's LeRobot dataset: its state to its actions, which declare no bounds, so the training rows' range scales and clips them", async () => {
    const fx = writeForeignDataset(join(root, 'so100_pick'), { lengths: [7, 9, 8, 6, 7], cameras: [{ name: 'front', width: 16, height: 16, codec: 'h264' }] });
    const r = await trainBehaviourCloning({ dataset: fx.dir, out: 'so100-policy', steps: 300, hidden: 32, cwd: root });
    expect(r.card).toMatchObject({ env_id: 'so100_follower', input: { key: 'observation.state', size: 6, names: FOREIGN_MOTORS }, dataset: { episodes: 5, train_episodes: 4, heldout_episodes: 1, train_rows: 7 + 9 + 8 + 6, heldout_rows: 7 } });
    expect(r.card.output.names).toEqual(FOREIGN_MOTORS);
    // The range of each action over the four training episodes, from the fixture's own values.
    const train = fx.action.filter((_, e) => e % 5 !== 4).flat();
    const column = (k: number) => train.filter((_, i) => i % 6 === k);
    expect(r.card.output.low).toEqual(FOREIGN_MOTORS.map((_, k) => Math.min(...column(k))));
    expect(r.card.output.high).toEqual(FOREIGN_MOTORS.map((_, k) => Math.max(...column(k))));
    const all = Float32Array.from(fx.state.flat());
    const acted = await runGraph(r.policy, 'observation', all, 6);
    for (let i = 0; i < acted.length; i++) {
      expect(acted[i]!).toBeGreaterThanOrEqual(r.card.output.low[i % 6]!);
      expect(acted[i]!).toBeLessThanOrEqual(r.card.output.high[i % 6]!);
    }
    expect(r.card.metrics.heldout.mae.every((v) => Number.isFinite(v))).toBe(true);
  }, 60_000);

  it('generate --policy onnx:<bc output> runs the learned policy and records its file and hash', async () => {
    const card = JSON.parse(readFileSync(join(root, 'policy', 'policy.json'), 'utf8')) as PolicyCard;
    const r = await cli(['generate', 'Reach-v1', '--episodes', '4', '--workers', '0', '--channels', 'rgb', '--policy', 'onnx:policy/policy.onnx', '--out', 'cloned'], root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('success rate');
    expect(datasetMeta(join(root, 'cloned')).run.policy).toEqual({ kind: 'onnx', noise: 0, epsilon: 0, file: 'policy/policy.onnx', sha256: card.sha256 });
    // The recorded actions are the graph's on the recorded observations.
    const eps = await rowsOf(join(root, 'cloned'));
    const ep = eps.train[0]!;
    const pred = await runGraph(join(root, 'policy', 'policy.onnx'), 'observation', ep.obs, 10);
    for (let i = 0; i < ep.actions.length; i++) expect(ep.actions[i]).toBeCloseTo(pred[i]!, 6);
  });

  it('a policy over observation.latent acts on the world model’s z_t in dream; generate refuses it', async () => {
    await generateDataset(generateOptions(join(root, 'push'), { episodes: 6, codec: 'lossless', policy: { kind: 'expert', noise: 0.3, epsilon: 0 } }));
    await trainWorldModel({ dataset: 'push', out: 'model', kind: 'keypoints', epochs: 1, hidden: 16, latent: 26, keypoints: 2, rollout: 2, cwd: root });
    await encodeDataset({ dataset: 'push', model: 'model', out: 'push-latent', cwd: root });
    const bc = await trainBehaviourCloning({ dataset: 'push-latent', input: 'observation.latent', out: 'latent-policy', steps: 300, hidden: 32, cwd: root });
    expect(bc.card.input).toMatchObject({ key: 'observation.latent', name: 'latent', size: 26 });

    const env = await createEnv(loadEnv('PushCube-v1'));
    const refused = await rejection(loadOnnxPolicyFile(bc.policy, env));
    expect(refused.code).toBe('E_POLICY_INVALID');
    expect(refused.message).toContain('latent policies run in `trajforge dream`');

    // In the dream loop: the policy is asked with exactly the latent the dynamics then step.
    const card = readModelCard(join(root, 'model'));
    const session = await WorldModelSession.load(card, readModelParts(join(root, 'model'), card));
    const { policy } = await loadOnnxPolicyFile(bc.policy, env, { latent: card.latent });
    expect(policy.input).toBe('latent');
    const stepped: Float32Array[] = [];
    const model: DreamModel = {
      card,
      encode: (f, n) => session.encode(f, n),
      decode: (z, n) => session.decode(z, n),
      decodeRgb: (z, o, n) => session.decodeRgb(z, o, n),
      step: (z, a, n) => {
        stepped.push(z.slice());
        return session.step(z, a, n);
      },
    };
    const dreamed = [];
    for await (const ep of dreamEpisodes({ model, env, renderer: new Renderer(), makePolicy: () => policy.fork(), jobs: [{ episode: 0, seed: 5 }], horizon: 6, batch: 1 })) dreamed.push(ep);
    const ep = dreamed[0]!;
    expect(stepped).toHaveLength(ep.length);
    const pred = await runGraph(bc.policy, 'latent', cat(stepped), 26);
    for (let i = 0; i < ep.actions.length; i++) expect(ep.actions[i]).toBeCloseTo(pred[i]!, 6);
    await policy.dispose();
    await session.release();
    env.close();

    // Through dreamDataset: recorded as the run's policy; --compare refused (the simulator has no latent).
    const s = await dreamDataset({ model: 'model', env: loadEnv('PushCube-v1'), out: 'dream', episodes: 2, horizon: 5, policy: { kind: 'onnx', file: 'latent-policy/policy.onnx' }, cwd: root });
    expect(s.policy).toBe('onnx');
    expect(datasetMeta(join(root, 'dream')).run.policy).toEqual({ kind: 'onnx', noise: 0, epsilon: 0, file: 'latent-policy/policy.onnx', sha256: bc.card.sha256 });
    const compare = await rejection(dreamDataset({ model: 'model', env: loadEnv('PushCube-v1'), out: 'dream2', episodes: 1, compare: true, policy: { kind: 'onnx', file: 'latent-policy/policy.onnx' }, cwd: root }));
    expect(compare.message).toContain('--compare runs the policy in the simulator too');
    expect(existsSync(join(root, 'dream2'))).toBe(false);
    // An observation policy runs on both sides of --compare.
    await trainBehaviourCloning({ dataset: 'push', out: 'obs-policy', steps: 100, hidden: 32, cwd: root });
    const both = await dreamDataset({ model: 'model', env: loadEnv('PushCube-v1'), out: 'dream3', episodes: 2, horizon: 5, compare: true, policy: { kind: 'onnx', file: 'obs-policy/policy.onnx' }, cwd: root });
    expect(both.compare!.simulatedSteps).toBeGreaterThan(0);
  });
});
