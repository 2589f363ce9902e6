/**
 * eval on datasets smaller than its defaults assume: episodes shorter than the 10-step horizon,
 * and fewer training frames than the model has latent dims (the PCA baseline's components).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { validateEnvConfig } from '../../../src/config/parse.js';
import { evaluateWorldModel, generateDataset, predictEpisode, trainWorldModel } from '../../../src/pipeline/index.js';
import { trainBehaviourCloning } from '../../../src/pipeline/bc.js';
import { tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';
import { FOREIGN_MOTORS, writeForeignDataset } from '../../helpers/lerobot-foreign.js';
import { rejection } from '../../helpers/rejection.js';

let root: string;
/** A conv model small enough to train in a second: these tests are about the data, not the fit. */
const TINY = { kind: 'conv' as const, steps: 2, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1 };

beforeAll(async () => {
  root = tmpDir('tf-eval-small-');
  const cfg = loadEnv('PushCube-v1').config;
  // Four-step episodes: 5 episodes of 5 frames, 4 of them (20 frames) for training.
  const env = validateEnvConfig(JSON.parse(JSON.stringify({ ...cfg, id: 'PushCubeShort-v1', task: { ...cfg.task, timeLimit: 4 } })), 'push-short.json');
  await generateDataset(generateOptions('data', { env, episodes: 5, seed: 1, channels: ['rgb'], cwd: root }));
  await trainWorldModel({ dataset: 'data', out: 'model', kind: 'conv', steps: 2, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
}, 120_000);

describe('eval of a small dataset', () => {
  it('shrinks the default horizon to the longest held-out episode, the PCA baseline to the frames it has (saying both) and mutual k-NN to the held-out frames', async () => {
    const notices: string[] = [];
    const s = await evaluateWorldModel({ model: 'model', dataset: 'data', cwd: root, onNotice: (line) => notices.push(line) });
    expect(s.horizon).toBe(4);
    expect(notices).toContain('horizon 4 steps, not 10: the longest held-out episode of data has 4');
    expect(notices).toContain("the PCA baseline has 19 components, not the model's 24: the training episodes hold 20 frames");
    const report = JSON.parse(readFileSync(join(s.dir, 'report.json'), 'utf8')) as { baseline_latent: number; representation: { model: { knn: number; samples: number; mutualKnn: number }; mutual_knn_chance: number } };
    expect(report.baseline_latent).toBe(19);
    // One held-out episode of 5 frames: mutual k-NN over 4 neighbours, not 10.
    expect(report.representation.model).toMatchObject({ knn: 4, samples: 5 });
    expect(report.representation.mutual_knn_chance).toBeCloseTo(4 / 5, 12);
    expect(Number.isFinite(report.representation.model.mutualKnn)).toBe(true);
    expect(readFileSync(join(s.dir, 'report.md'), 'utf8')).toMatch(/baseline \(latent 19: the training episodes hold too few frames for 24\)/);
  }, 120_000);

  it('refuses an explicit horizon longer than every held-out episode, naming the longest', async () => {
    const e = await rejection(evaluateWorldModel({ model: 'model', dataset: 'data', horizon: 6, cwd: root }));
    expect(e).toMatchObject({ code: 'E_USAGE', message: '--horizon 6: the longest held-out episode of data has 4 steps; use --horizon 4 or less' });
  }, 120_000);
});

describe("another tool's dataset", () => {
  it('trains, evaluates and predicts: actions by the names its info.json declares, unbounded (normalised by their range), its state as the state target', async () => {
    const fx = writeForeignDataset(join(root, 'so100_pick'), { lengths: [7, 9, 8, 6, 7] });
    const s = await trainWorldModel({ dataset: fx.dir, out: 'foreign-model', kind: 'conv', steps: 2, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
    const card = JSON.parse(readFileSync(join(root, 'foreign-model', 'model.json'), 'utf8')) as {
      camera: string;
      dataset: { env_id: string; config_hash: string; episodes: number; frames: number; fps?: number };
      action: { names: string[]; low: (number | null)[]; high: (number | null)[] };
      state: { names: string[] };
    };
    expect(s.card.id).toMatch(/^[0-9a-f]{16}$/);
    expect(card.camera).toBe('front');
    expect(card.dataset).toMatchObject({ env_id: 'so100_follower', episodes: 5, frames: 7 + 9 + 8 + 6 + 7 });
    expect(card.dataset.config_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(card.action.names).toEqual(FOREIGN_MOTORS);
    expect(card.action.low).toEqual(FOREIGN_MOTORS.map(() => null));
    expect(card.action.high).toEqual(FOREIGN_MOTORS.map(() => null));
    // Every state column varies in the fixture: all six are the state head's targets.
    expect(card.state.names).toEqual(FOREIGN_MOTORS);

    const notices: string[] = [];
    const e = await evaluateWorldModel({ model: 'foreign-model', dataset: fx.dir, horizon: 3, cwd: root, onNotice: (line) => notices.push(line) });
    expect(notices.filter((n) => /config differs/.test(n))).toEqual([]);
    const report = JSON.parse(readFileSync(join(e.dir, 'report.json'), 'utf8')) as { inverse_r2: { per_dim: Record<string, number> } | Record<string, unknown>; open_loop: unknown };
    expect(JSON.stringify(report.inverse_r2)).toContain('shoulder_pan');
    const p = await predictEpisode({ model: 'foreign-model', dataset: fx.dir, episode: 1, cwd: root, out: 'foreign-predict.mp4' });
    expect(p).toMatchObject({ episode: 1, contextFrame: 0, horizon: 8 });

    // label, with no environment file anywhere: the dataset's own rate, its episodes kept whole.
    expect(card.dataset).toMatchObject({ fps: 10 });
    const { labelVideos } = await import('../../../src/pipeline/label.js');
    const l = await labelVideos({ videos: fx.dir, model: 'foreign-model', out: 'foreign-labelled', threads: 1, cwd: root, onNotice: () => undefined });
    expect(l).toMatchObject({ envId: 'so100_follower', fps: 10, episodes: 5, frames: 6 + 8 + 7 + 5 + 6, episodeLength: 8 });
    expect(JSON.parse(readFileSync(join(root, 'foreign-labelled', 'meta', 'trajforge.json'), 'utf8')).config).toBeUndefined();
  }, 120_000);

  it('is refused by a model of another environment, naming both', async () => {
    const fx = writeForeignDataset(join(root, 'so100_other'), { lengths: [7, 9, 8, 6, 7] });
    const e = await rejection(evaluateWorldModel({ model: 'model', dataset: fx.dir, cwd: root }));
    expect(e).toMatchObject({ code: 'E_USAGE', message: `${fx.dir} is so100_follower, but the model was trained on PushCubeShort-v1; use a model trained on so100_follower (trajforge train) or data of PushCubeShort-v1` });
  }, 60_000);

  it('without an action or a state feature: trains and evaluates (no inverse, no state head); bc refuses, having nothing to clone', async () => {
    const fx = writeForeignDataset(join(root, 'camera_only'), { lengths: [7, 9, 8, 6, 7], cameras: [{ name: 'front', width: 16, height: 16, codec: 'h264' }] });
    const info = join(fx.dir, 'meta', 'info.json');
    const declared = JSON.parse(readFileSync(info, 'utf8')) as { features: Record<string, unknown> };
    delete declared.features.action;
    delete declared.features['observation.state'];
    writeFileSync(info, JSON.stringify(declared));
    const s = await trainWorldModel({ dataset: fx.dir, out: 'camera-only-model', ...TINY, cwd: root });
    expect(s.card.action.names).toEqual([]);
    expect(s.card.state.names).toEqual([]);
    const e = await evaluateWorldModel({ model: 'camera-only-model', dataset: fx.dir, horizon: 3, cwd: root });
    const report = JSON.parse(readFileSync(join(e.dir, 'report.json'), 'utf8')) as { inverse_r2: { model: unknown } };
    expect(report.inverse_r2.model).toBeNull();
    const b = await rejection(trainBehaviourCloning({ dataset: fx.dir, out: 'camera-only-policy', cwd: root }));
    expect(b).toMatchObject({ code: 'E_USAGE', message: `${fx.dir} records no actions (no action feature, or an empty one), so there is nothing to clone` });
    expect(existsSync(join(root, 'camera-only-policy'))).toBe(false);
  }, 120_000);

  it('of one-row episodes is refused by train: no frame follows any action', async () => {
    const fx = writeForeignDataset(join(root, 'one_row'), { lengths: [1, 1, 1], cameras: [{ name: 'front', width: 16, height: 16, codec: 'h264' }] });
    const e = await rejection(trainWorldModel({ dataset: fx.dir, out: 'one-row-model', ...TINY, cwd: root }));
    expect(e).toMatchObject({ code: 'E_MODEL_SHAPE', message: `${fx.dir}: no episode has a step, a frame and the next (another tool's LeRobot episode of T rows gives T - 1 steps: no frame follows its last action); a world model learns from steps` });
    expect(existsSync(join(root, 'one-row-model'))).toBe(false);
  }, 60_000);
});

describe('the smallest datasets', () => {
  it('eval of one-step held-out episodes reports the unbiased CKA as n/a (it needs 4 frames) instead of failing', async () => {
    const fx = writeForeignDataset(join(root, 'two_rows'), { lengths: [2, 3, 2, 3, 2], cameras: [{ name: 'front', width: 16, height: 16, codec: 'h264' }] });
    await trainWorldModel({ dataset: fx.dir, out: 'two-row-model', ...TINY, cwd: root });
    const e = await evaluateWorldModel({ model: 'two-row-model', dataset: fx.dir, cwd: root });
    const report = JSON.parse(readFileSync(join(e.dir, 'report.json'), 'utf8')) as { representation: { model: { samples: number; ckaUnbiased: number | null; cka: number } } };
    expect(report.representation.model.samples).toBe(2);
    expect(report.representation.model.ckaUnbiased).toBeNull();
    expect(Number.isFinite(report.representation.model.cka)).toBe(true);
    expect(readFileSync(join(e.dir, 'report.md'), 'utf8')).toMatch(/\| world model \| [^|]+ \| [^|]+ \| [^|]+ \| n\/a \|/);
  }, 120_000);

  it('train --arch linear keeps one component fewer than the frames it fits, saying so', async () => {
    const notices: string[] = [];
    const s = await trainWorldModel({ dataset: 'data', out: 'linear-small', kind: 'linear', cwd: root, onNotice: (line) => notices.push(line) });
    expect(s.card.latent).toBe(19);
    expect(notices).toContain('latent 19, not 128: the training episodes hold 20 frames, and a PCA of n frames has at most n - 1 components');
  }, 60_000);
});

describe('a scene that never changes', () => {
  it('reports the latent NMSE as undefined (n/a), not a division by a vanishing variance', async () => {
    const still = validateEnvConfig(
      {
        id: 'Still-v1',
        bodies: [
          { name: 'floor', shape: { type: 'plane' }, type: 'fixed' },
          { name: 'block', shape: { type: 'box', halfExtents: [0.1, 0.1, 0.1] }, type: 'fixed', position: [0, 0, 0.1] },
        ],
        cameras: [{ name: 'cam', resolution: [32, 32], position: [0, -1, 0.6], lookAt: [0, 0, 0.1], channels: ['rgb'] }],
        observation: [{ term: 'position', body: 'block' }],
        task: { timeLimit: 3 },
      },
      'still.json',
    );
    await generateDataset(generateOptions('still', { env: still, episodes: 5, channels: ['rgb'], codec: 'lossless', policy: { kind: 'random', noise: 0, epsilon: 0 }, cwd: root }));
    await trainWorldModel({ dataset: 'still', out: 'still-model', ...TINY, cwd: root });
    const s = await evaluateWorldModel({ model: 'still-model', dataset: 'still', cwd: root });
    const report = JSON.parse(readFileSync(join(s.dir, 'report.json'), 'utf8')) as { latent_nmse: { model: (number | null)[] } };
    expect(report.latent_nmse.model.every((v) => v === null)).toBe(true);
    expect(readFileSync(join(s.dir, 'report.md'), 'utf8')).toMatch(/latent NMSE .*: step 1 n\/a, step 3 n\/a/);
  }, 60_000);
});
