/**
 * World models of an environment whose actions are a discrete set: the model takes each choice as
 * its one-hot vector (card.ts modelActions); train, eval, dream and label work on such an
 * environment, and the datasets they write store choice indices.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { validateEnvConfig, type ResolvedEnv } from '../../../src/config/parse.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { checkModelTarget, choicesOf, modelActions, oneHotActions, type ModelCard } from '../../../src/model/card.js';
import { choiceAccuracy } from '../../../src/model/label-metrics.js';
import { transitionsFromEpisodes } from '../../../src/model/transitions.js';
import { readModelCard } from '../../../src/model/store.js';
import { defaultDownsample } from '../../../src/pipeline/model-data.js';
import { dreamDataset, evaluateWorldModel, generateDataset, trainWorldModel, validateDataset } from '../../../src/pipeline/index.js';
import { trainBehaviourCloning } from '../../../src/pipeline/bc.js';
import { predictEpisode } from '../../../src/pipeline/predict.js';
import { viewDataset } from '../../../src/pipeline/view.js';
import { loadOnnxPolicyFile } from '../../../src/policy/load.js';
import { createEnv } from '../../../src/sim/env.js';
import { labelVideos } from '../../../src/pipeline/label.js';
import { tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';
import { rejection } from '../../helpers/rejection.js';

const CHOICES = ['left', 'stay', 'right'];

/** CartPole with three named choices instead of a continuous force. */
function discreteCartPole(): ResolvedEnv {
  const cfg = loadEnv('CartPole-v1').config;
  const doc = { ...cfg, id: 'CartPoleChoices-v1', expert: undefined, actions: { ...cfg.actions, discrete: CHOICES.map((name, k) => ({ name, value: [k - 1] })) } };
  return validateEnvConfig(JSON.parse(JSON.stringify(doc)), 'cart-pole-choices.json');
}

async function episodesOf(dir: string): Promise<EpisodeData[]> {
  const out: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir, { channels: [] })) out.push(ep);
  return out;
}

/** The coded error a synchronous call throws. */
const thrown = (f: () => unknown) => rejection(Promise.resolve().then(f));

/** Every stored action is a choice index: an integer in [0, choices). */
function indicesOnly(eps: EpisodeData[]): boolean {
  return eps.every((e) => e.discrete && e.actionDim === 1 && Array.from(e.actions).every((a) => Number.isInteger(a) && a >= 0 && a < CHOICES.length));
}

describe('the action space a world model takes', () => {
  it('is the actuators for a box and one value per choice for a discrete set', () => {
    const box = loadEnv('CartPole-v1').config.actions;
    expect(modelActions(box)).toEqual({ names: ['force'], low: [-1], high: [1], discrete: false });
    expect(modelActions(discreteCartPole().config.actions)).toEqual({ names: CHOICES, low: [0, 0, 0], high: [1, 1, 1], discrete: true });
  });

  it('turns choice indices into one-hot rows and back; an index outside the set names where it is', async () => {
    const hot = oneHotActions([2, 0, 1, 2], 3, 'episode 7');
    expect(Array.from(hot)).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(Array.from(choicesOf(Float32Array.of(0.1, 0.7, 0.2, -1, -3, -2), 3))).toEqual([1, 0]);
    expect(await thrown(() => oneHotActions([0, 3], 3, 'episode 7'))).toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringMatching(/episode 7: action 3 at step 1 is not one of the 3 choices/) });
    expect(await thrown(() => oneHotActions([0.5], 3, 'episode 7'))).toMatchObject({ code: 'E_DATASET_INVALID' });
  });

  it('scores inverse dynamics by the choice it picks, beside always answering the most frequent choice', () => {
    // Truth: choices 0, 0, 0, 2; inferred picks 0, 1, 0, 2: 3 of 4 right; the most frequent choice is 3 of 4.
    const truth = oneHotActions([0, 0, 0, 2], 3, 'truth');
    const inferred = Float32Array.of(0.9, 0, 0.1, 0.2, 0.5, 0.3, 1, 0, 0, 0, 0.4, 0.6);
    expect(choiceAccuracy(inferred, truth, 3)).toEqual({ accuracy: 0.75, majority: 0.75 });
  });

  it('refuses a model of continuous actions for a discrete set and the reverse, and other choices', async () => {
    const card = { dataset: { env_id: 'X', config_hash: 'h' }, camera: 'side', input: { width: 64, height: 64, downsample: 1 }, action: { names: CHOICES, low: [0, 0, 0], high: [1, 1, 1], discrete: true } } as unknown as ModelCard;
    const target = { where: 'data', envId: 'X', configHash: 'h', cameras: [{ name: 'side', width: 64, height: 64 }] };
    expect(checkModelTarget(card, { ...target, discrete: true, actionDims: 1, choices: CHOICES })).toEqual({});
    expect(await thrown(() => checkModelTarget(card, { ...target, discrete: false, actionDims: 3 }))).toMatchObject({ code: 'E_MODEL_SHAPE', message: expect.stringMatching(/has continuous actions; the model takes a choice among left, stay, right/) });
    expect(await thrown(() => checkModelTarget(card, { ...target, discrete: true, actionDims: 1, choices: ['a', 'b', 'c'] }))).toMatchObject({ code: 'E_MODEL_SHAPE', message: expect.stringMatching(/choices are a, b, c; the model's are left, stay, right/) });
    const box = { ...card, action: { names: ['force'], low: [-1], high: [1] } } as unknown as ModelCard;
    expect(await thrown(() => checkModelTarget(box, { ...target, discrete: true, actionDims: 1, choices: CHOICES }))).toMatchObject({ code: 'E_MODEL_SHAPE', message: expect.stringMatching(/has a discrete action set; the model takes continuous actions \(force\)/) });
  });

  it('downsamples a camera by a factor that divides both sides', () => {
    expect([defaultDownsample(64, 64), defaultDownsample(80, 60), defaultDownsample(96, 72), defaultDownsample(97, 61), defaultDownsample(32, 32)]).toEqual([2, 4, 3, 1, 1]);
  });
});

describe('a world model of a discrete action set, end to end', () => {
  let root: string;
  let env: ResolvedEnv;
  let card: ModelCard;

  beforeAll(async () => {
    root = tmpDir('tf-discrete-model-');
    env = discreteCartPole();
    await generateDataset(generateOptions('data', { env, episodes: 5, seed: 3, channels: ['rgb'], policy: { kind: 'random', noise: 0, epsilon: 0 }, cwd: root }));
    await trainWorldModel({ dataset: 'data', out: 'model', kind: 'conv', steps: 4, batch: 2, rollout: 2, depth: 4, latent: 16, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
    card = readModelCard(join(root, 'model'));
  }, 120_000);

  it('trains on one-hot choices: the card names them and the graphs take one value each', async () => {
    expect(card.action).toEqual({ names: CHOICES, low: [0, 0, 0], high: [1, 1, 1], discrete: true });
    expect(card.parts.dynamics.inputs.find((i) => i.name === 'action')!.shape).toEqual(['batch', 3]);
    const eps = await episodesOf(join(root, 'data'));
    expect(indicesOnly(eps)).toBe(true);
    const tr = transitionsFromEpisodes(eps.map((e) => ({ ...e, frames: [{ camera: 'side', channel: 'rgb', width: 1, height: 1, data: new Uint8Array(3 * e.length) }], finalFrames: [{ camera: 'side', channel: 'rgb', width: 1, height: 1, data: new Uint8Array(3) }] })), { camera: 'side', choices: 3 });
    expect(tr.actions.cols).toBe(3);
    // Every step of every episode: a row with a single 1, at the stored index.
    const indices = eps.flatMap((e) => Array.from(e.actions));
    expect(tr.actions.rows).toBe(indices.length);
    indices.forEach((k, i) => expect(Array.from(tr.actions.data.subarray(i * 3, i * 3 + 3))).toEqual([0, 1, 2].map((j) => (j === k ? 1 : 0))));
  });

  it('eval reports the inverse model\'s choice accuracy beside the most frequent choice of the held-out steps', async () => {
    const s = await evaluateWorldModel({ model: 'model', dataset: 'data', cwd: root });
    const report = JSON.parse(readFileSync(join(s.dir, 'report.json'), 'utf8')) as { inverse_choice: { model: number; majority: number }; targets: { name: string }[] };
    const held = (await episodesOf(join(root, 'data'))).filter((_, i) => card.split.heldout.includes(i));
    const counts = [0, 0, 0];
    for (const e of held) for (const a of e.actions) counts[a]!++;
    const steps = counts.reduce((a, b) => a + b, 0);
    expect(report.inverse_choice.majority).toBeCloseTo(Math.max(...counts) / steps, 12);
    expect(report.inverse_choice.model).toBeGreaterThanOrEqual(0);
    expect(report.inverse_choice.model).toBeLessThanOrEqual(1);
    expect(report.targets.map((t) => t.name)).toContain('inverse-dynamics choice accuracy');
  }, 120_000);

  it('predicts an episode from its stored choices, in predict and in view alike', async () => {
    const p = await predictEpisode({ dataset: 'data', model: 'model', episode: 1, context: 3, horizon: 4, scale: 1, out: 'pred.mp4', cwd: root });
    expect(p.mse).toHaveLength(4);
    const server = await viewDataset({ dir: 'data', model: 'model', cwd: root });
    try {
      const r = await fetch(new URL('/api/episodes/1/predict?start=2&horizon=4', server.url));
      expect(r.status).toBe(200);
      const mse = r.headers.get('x-mse')!.split(',').map(Number);
      mse.forEach((m, i) => expect(m).toBeCloseTo(p.mse[i]!, 5));
    } finally {
      await server.close();
    }
  }, 120_000);

  it('dreams with a policy of choices and labels video with choices: both datasets store indices and validate', async () => {
    await dreamDataset({ model: 'model', env, out: 'dream', episodes: 3, horizon: 6, policy: { kind: 'random' }, cwd: root });
    const dreamt = await episodesOf(join(root, 'dream'));
    expect(dreamt).toHaveLength(3);
    expect(indicesOnly(dreamt)).toBe(true);
    expect((await validateDataset({ dir: 'dream', cwd: root })).problems).toEqual([]);

    await labelVideos({ videos: 'data', model: 'model', env, out: 'labelled', cwd: root });
    const labelled = await episodesOf(join(root, 'labelled'));
    expect(labelled.length).toBeGreaterThan(0);
    expect(indicesOnly(labelled)).toBe(true);
    expect((await validateDataset({ dir: 'labelled', cwd: root })).problems).toEqual([]);
  }, 120_000);

  it('behaviour-clones choices: one value per choice, the card\'s choice accuracy is what the policy loader\'s argmax picks, and the policy drives generate', async () => {
    const s = await trainBehaviourCloning({ dataset: 'data', out: 'bc', steps: 300, cwd: root });
    expect(s.card.output).toMatchObject({ size: 3, names: CHOICES, low: [0, 0, 0], high: [1, 1, 1], discrete: true });
    // The held-out steps, chosen again by the exported policy through the loader generate uses.
    const eps = await episodesOf(join(root, 'data'));
    const sim = await createEnv(env);
    const { policy } = await loadOnnxPolicyFile(s.policy, sim);
    let hits = 0;
    let steps = 0;
    for (const [i, e] of eps.entries()) {
      if (i % 5 !== 4) continue;
      for (let t = 0; t < e.length; t++, steps++) if ((await policy.act(e.obs.subarray(t * e.obsDim, (t + 1) * e.obsDim))) === e.actions[t]) hits++;
    }
    await policy.dispose();
    sim.close();
    expect(steps).toBe(s.card.dataset.heldout_rows);
    expect(s.card.metrics.heldout.choiceAccuracy).toBeCloseTo(hits / steps, 12);
    await generateDataset(generateOptions('bc-rollouts', { env, episodes: 2, seed: 9, channels: [], policy: { kind: 'onnx', file: s.policy, noise: 0, epsilon: 0 }, cwd: root }));
    expect(indicesOnly(await episodesOf(join(root, 'bc-rollouts')))).toBe(true);
  }, 120_000);
});

describe('video a codec cannot encode', () => {
  it('refuses a camera with an odd side for 4:2:0 video before anything is written; lossless RGB writes it', async () => {
    const root = tmpDir('tf-odd-camera-');
    const base = loadEnv('PushCube-v1');
    const cfg = { ...base.config, cameras: base.config.cameras.map((c) => ({ ...c, resolution: [63, 48] })) };
    const env = validateEnvConfig(JSON.parse(JSON.stringify(cfg)), 'odd.json');
    const error = await rejection(generateDataset(generateOptions('odd', { env, episodes: 1, codec: 'h264', cwd: root })));
    expect(error).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/camera 'top' is 63x48; h264 video is 4:2:0, which needs even sides.*--codec lossless/) });
    expect(existsSync(join(root, 'odd'))).toBe(false);
    await generateDataset(generateOptions('odd', { env, episodes: 1, codec: 'lossless', cwd: root }));
    expect((await validateDataset({ dir: 'odd', cwd: root })).problems).toEqual([]);
  }, 60_000);
});
