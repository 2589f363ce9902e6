/**
 * The application layer called as a library: each pipeline function with typed options, no CLI,
 * checked on its summary and on the progress events and notices it reports.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { readInfo } from '../../../src/export/lerobot/reader.js';
import { datasetMeta } from '../../../src/export/lerobot/episodes.js';
import { readModelCard } from '../../../src/model/store.js';
import {
  convertDataset,
  dreamDataset,
  encodeDataset,
  evaluateWorldModel,
  generateDataset,
  mergeDatasets,
  predictEpisode,
  predictFrameSize,
  trainWorldModel,
  validateDataset,
  type ConvertProgress,
  type DreamProgress,
  type EncodeProgress,
  type EvalProgress,
  type MergeProgress,
  type NoticeKind,
  type PredictProgress,
  type TrainProgress,
  type TrainSummary,
} from '../../../src/pipeline/index.js';
import { tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';

/** Small and fast: what the CLI tests train with (test/unit/cli/world-model-commands.test.ts). */
const TINY = { kind: 'keypoints', epochs: 1, hidden: 16, latent: 26, keypoints: 2, rollout: 2 } as const;

/** Collects callback calls. */
function recorder<P>(): { events: P[]; on: (p: P) => void } {
  const events: P[] = [];
  return { events, on: (p) => events.push(p) };
}

/** Stage, done and total of each event, for exact comparison. */
const steps = (events: { stage: string; done: number; total: number }[]) => events.map((e) => `${e.stage} ${e.done}/${e.total}`);

let root: string;
let trained: TrainSummary;
let trainEvents: TrainProgress[];

describe('pipeline functions, called without the CLI', () => {
  beforeAll(async () => {
    root = tmpDir('tf-pipeline-');
    await generateDataset(generateOptions('data', { episodes: 6, cwd: root }));
    const progress = recorder<TrainProgress>();
    trained = await trainWorldModel({ dataset: 'data', out: 'model', ...TINY, cwd: root, onProgress: progress.on });
    trainEvents = progress.events;
  });

  it('trainWorldModel: the summary describes the saved model; progress: reading, then each epoch of both phases', () => {
    const card = readModelCard(join(root, 'model'));
    expect(trained.dir).toBe(join(root, 'model'));
    expect(trained.kind).toBe('keypoints');
    expect(trained.card.id).toBe(card.id);
    expect(trained.latent).toBe(26);
    // Episode 4 (every fifth) is held out; each episode has its steps plus a final frame.
    const lengths = readFileSync(join(root, 'data', 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { length: number }).length);
    const trainFrames = lengths.reduce((n, len, e) => (e === 4 ? n : n + len + 1), 0);
    expect(trained.data).toEqual({ episodes: 6, trainEpisodes: 5, heldoutEpisodes: 1, frames: card.dataset.frames, trainFrames, width: card.decoded.width, height: card.decoded.height, camera: card.camera });
    expect(card.dataset.frames).toBe(trainFrames + lengths[4]! + 1);
    expect(trained.seconds).toBeGreaterThan(0);
    expect(Number.isFinite(trained.final.latentDeltaNmse)).toBe(true);
    expect(Number.isFinite(trained.final.inverseMse)).toBe(true);
    expect(Number.isFinite(trained.final.stateMse)).toBe(true);
    // --epochs 1: one state epoch, and the dynamics phase runs half as many (at least one).
    expect(steps(trainEvents)).toEqual(['read 0/1', 'read 1/1', 'state 1/1', 'dynamics 1/1']);
    expect(trainEvents[1]).toMatchObject({ data: trained.data });
    const dynamics = trainEvents[3]!;
    expect('losses' in dynamics && dynamics.losses.latent_delta_nmse).toBe(trained.final.latentDeltaNmse);
    for (let i = 1; i < trainEvents.length; i++) expect(trainEvents[i]!.elapsed).toBeGreaterThanOrEqual(trainEvents[i - 1]!.elapsed);
    expect(trained.log.map((e) => e.phase)).toEqual(['state', 'dynamics']);
    const log = readFileSync(join(root, 'model', 'training_log.jsonl'), 'utf8').trim().split('\n');
    expect(log.map((l) => JSON.parse(l))).toEqual(JSON.parse(JSON.stringify(trained.log)));
  });

  it('trainWorldModel: the linear baseline fits in closed form and reports a fit stage', async () => {
    const progress = recorder<TrainProgress>();
    const s = await trainWorldModel({ dataset: 'data', out: 'linear', kind: 'linear', latent: 8, cwd: root, onProgress: progress.on });
    expect(s.kind).toBe('linear');
    expect(s.card.kind).toBe('linear');
    expect(s.latent).toBeLessThanOrEqual(8);
    expect(s.log).toEqual([]);
    expect(s.final).toEqual({ stateMse: undefined, latentDeltaNmse: undefined, inverseMse: undefined });
    expect(steps(progress.events)).toEqual(['read 0/1', 'read 1/1', 'fit 0/1', 'fit 1/1']);
  });

  it('trainWorldModel checks option values as the CLI does, before reading or writing anything', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ kind: 'keypoints', epochs: 0 }, /^--epochs must be an integer >= 1, got '0'$/],
      [{ latent: 2.5 }, /^--latent must be an integer >= 2/],
      [{ kind: 'keypoints', sprites: 4 }, /^--sprites must be 0 or an odd size/],
      [{ kind: 'keypoints', keypoints: 0, sprites: 5 }, /needs --keypoints > 0/],
      [{ kind: 'keypoints', dynamicsNoise: -1 }, /^--dynamics-noise must be >= 0/],
      [{ kind: 'cubic' }, /^--arch must be conv, keypoints or linear, got 'cubic'$/],
      [{ epochs: 2 }, /^--epochs applies to --arch keypoints, not to --arch conv \(the default\)/],
      [{ kind: 'keypoints', steps: 5 }, /^--steps applies to --arch conv, not to --arch keypoints/],
      [{ latent: 8, learnedKeypoints: 4 }, /^--latent 8 must exceed 16: 4 learned keypoints take 16 latent dims \(position and motion\)/],
      [{ latent: 8, learnedKeypoints: 4, context: 1 }, /^--latent 8 must exceed 8: 4 learned keypoints take 8 latent dims;/],
      [{ context: 3 }, /^--context must be 1 \(the frame alone\) or 2/],
      [{ inverseWeight: -1 }, /^--inverse-weight must be >= 0, got -1/],
      [{ kind: 'keypoints', inverseWeight: 10 }, /^--inverse-weight applies to --arch conv, not to --arch keypoints/],
    ];
    for (const [opts, message] of bad) {
      const progress = recorder<TrainProgress>();
      await expect(trainWorldModel({ dataset: 'data', out: 'refused', ...opts, cwd: root, onProgress: progress.on }), JSON.stringify(opts)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(message) });
      expect(progress.events).toEqual([]);
    }
    expect(existsSync(join(root, 'refused'))).toBe(false);
  });

  it('validateDataset returns the problems instead of throwing', async () => {
    expect(await validateDataset({ dir: 'data', quick: true, cwd: root })).toEqual({ dir: join(root, 'data'), valid: true, problems: [] });
    mkdirSync(join(root, 'empty'));
    const bad = await validateDataset({ dir: 'empty', cwd: root });
    expect(bad.valid).toBe(false);
    expect(bad.problems[0]).toMatch(/not a LeRobot dataset \(no meta\/info\.json\)/);
  });

  it('mergeDatasets merges shards into one dataset', async () => {
    const shard = (index: number) => generateDataset(generateOptions(`shard${index}`, { episodes: 3, shard: { index, count: 2 }, codec: 'lossless', cwd: root }));
    const [a, b] = [await shard(0), await shard(1)];
    const progress = recorder<MergeProgress>();
    const s = await mergeDatasets({ inputs: ['shard0', 'shard1'], out: 'merged', cwd: root, onProgress: progress.on });
    expect(s).toMatchObject({ dir: join(root, 'merged'), inputs: 2, episodes: 3, frames: a.frames + b.frames });
    expect(steps(progress.events)).toEqual(['merge 1/3', 'merge 2/3', 'merge 3/3']);
    expect(s.bytes).toBeGreaterThan(0);
    expect(readInfo(join(root, 'merged')).total_episodes).toBe(3);
    await expect(mergeDatasets({ inputs: [], out: 'none', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: 'merge needs at least one input dataset' });
    expect(existsSync(join(root, 'none'))).toBe(false);
  });

  it('convertDataset reports each episode; a callback that throws stops the run and removes its output', async () => {
    const progress = recorder<ConvertProgress>();
    const s = await convertDataset({ src: 'data', to: 'dreamer', out: 'dreamer', cwd: root, onProgress: progress.on });
    expect(s).toMatchObject({ dir: join(root, 'dreamer'), format: 'dreamer', episodes: 6 });
    expect(s.bytes).toBeGreaterThan(0);
    expect(steps(progress.events)).toEqual([1, 2, 3, 4, 5, 6].map((k) => `convert ${k}/6`));
    const stop = (p: ConvertProgress) => {
      if (p.done === 2) throw new Error('stopped by the caller');
    };
    await expect(convertDataset({ src: 'data', to: 'frames', out: 'stopped', cwd: root, onProgress: stop })).rejects.toThrow('stopped by the caller');
    expect(existsSync(join(root, 'stopped'))).toBe(false);
    await expect(convertDataset({ src: 'data', to: 'nope', out: 'nope', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('encodeDataset adds the latent feature; progress per episode handed to the writer', async () => {
    const progress = recorder<EncodeProgress>();
    const s = await encodeDataset({ dataset: 'data', model: 'model', out: 'encoded', batch: 50, cwd: root, onProgress: progress.on });
    const info = readInfo(join(root, 'data'));
    expect(s).toMatchObject({ dir: join(root, 'encoded'), modelId: trained.card.id, key: 'observation.latent', latent: 26, episodes: 6, frames: info.total_frames });
    expect(s.encoderFramesPerSecond).toBeGreaterThan(0);
    expect(steps(progress.events)).toEqual([1, 2, 3, 4, 5, 6].map((k) => `encode ${k}/6`));
    expect(datasetMeta(join(root, 'encoded')).extraFeatures).toEqual([{ key: 'observation.latent', dim: 26, names: expect.any(Array), modelId: trained.card.id }]);
    await expect(encodeDataset({ dataset: 'data', model: 'model', out: 'e2', key: 'a/b', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/must be non-empty and contain no '\/'/) });
    await expect(encodeDataset({ dataset: 'data', model: 'model', out: 'data', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/--out must differ from DATASET/) });
    await expect(encodeDataset({ dataset: 'data', model: 'model', out: 'e3', batch: 0, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: "--batch must be an integer >= 1, got '0'" });
    // The encoder in two worker threads or on this one: the same latents, byte for byte.
    await encodeDataset({ dataset: 'data', model: 'model', out: 'encoded-1', batch: 50, threads: 1, cwd: root });
    await encodeDataset({ dataset: 'data', model: 'model', out: 'encoded-2', batch: 50, threads: 2, cwd: root });
    const dataFile = (dir: string) => readFileSync(join(root, dir, 'data', 'chunk-000', 'file-000.parquet'));
    expect(dataFile('encoded-2').equals(dataFile('encoded-1'))).toBe(true);
    await expect(encodeDataset({ dataset: 'data', model: 'model', out: 'e4', threads: 0, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: "--threads must be an integer >= 1, got '0'" });
  });

  it('predictEpisode writes the video and returns the per-step MSE', async () => {
    const progress = recorder<PredictProgress>();
    const s = await predictEpisode({ dataset: 'data', model: 'model', episode: 1, horizon: 3, scale: 1, out: 'pred.mp4', cwd: root, onProgress: progress.on });
    const size = predictFrameSize(trained.card.decoded.width, trained.card.decoded.height, 1);
    expect(s).toMatchObject({ file: join(root, 'pred.mp4'), modelId: trained.card.id, episode: 1, contextFrame: 0, horizon: 3, errorGain: 4, ...size });
    expect(s.mse).toHaveLength(3);
    expect(s.meanMse).toBeCloseTo((s.mse[0]! + s.mse[1]! + s.mse[2]!) / 3, 12);
    expect(existsSync(s.file)).toBe(true);
    expect(steps(progress.events)).toEqual(['predict 0/1', 'predict 1/1', 'write 1/4', 'write 2/4', 'write 3/4', 'write 4/4']);
    await expect(predictEpisode({ dataset: 'data', model: 'model', episode: 1, horizon: 3, out: 'pred.mp4', cwd: root })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
    await expect(predictEpisode({ dataset: 'data', model: 'model', episode: 6, out: 'p2.mp4', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/--episode 6 is out of range/) });
    await expect(predictEpisode({ dataset: 'data', model: 'model', episode: 0, scale: 65, out: 'p2.mp4', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: '--scale must be at most 64, got 65' });
  });

  it('dreamDataset writes dreamed episodes, compares with the simulator, and notes a changed config', async () => {
    const env = loadEnv('PushCube-v1');
    const progress = recorder<DreamProgress>();
    const notices: [string, NoticeKind][] = [];
    const s = await dreamDataset({
      model: 'model',
      env: { ...env, hash: 'f'.repeat(64) },
      out: 'dream',
      episodes: 2,
      policy: { kind: 'random' },
      horizon: 5,
      codec: 'lossless',
      compare: true,
      cwd: root,
      onProgress: progress.on,
      onNotice: (line, kind) => notices.push([line, kind]),
    });
    expect(s).toMatchObject({ dir: join(root, 'dream'), envId: 'PushCube-v1', modelId: trained.card.id, format: 'lerobot', policy: 'random', horizon: 5, episodes: 2, camera: trained.card.camera });
    expect([s.width, s.height]).toEqual([trained.card.decoded.width, trained.card.decoded.height]);
    expect(s.frames).toBe(readInfo(join(root, 'dream')).total_frames);
    expect(s.frames).toBeLessThanOrEqual(10);
    expect(s.dreamSeconds).toBeCloseTo(s.modelSeconds + s.startSeconds, 12);
    // Deterministic: the second pass dreams exactly the same steps.
    expect(s.compare!.redreamedSteps).toBe(s.steps);
    expect(s.compare!.speedup).toBeCloseTo(s.compare!.dreamStepsPerSecond / s.compare!.simulatorStepsPerSecond, 9);
    expect(steps(progress.events)).toEqual(['dream 1/2', 'dream 2/2', 'redream 1/2', 'redream 2/2', 'simulate 1/2', 'simulate 2/2']);
    expect(notices).toEqual([[expect.stringMatching(/^PushCube-v1's config differs from the one the model was trained on/), 'input']]);
    // The encoder and decoder in two worker threads or on this one: the same dream, byte for byte.
    const dreamFile = async (threads: number) => {
      await dreamDataset({ model: 'model', env, out: `dream-t${threads}`, episodes: 3, policy: { kind: 'random' }, horizon: 5, codec: 'lossless', threads, cwd: root });
      return readFileSync(join(root, `dream-t${threads}`, 'data', 'chunk-000', 'file-000.parquet'));
    };
    expect((await dreamFile(2)).equals(await dreamFile(1))).toBe(true);
    await expect(dreamDataset({ model: 'model', env, out: 'd0', threads: 0, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: "--threads must be an integer >= 1, got '0'" });
    await expect(dreamDataset({ model: 'model', env, out: 'd0', episodes: 0, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: "--episodes must be an integer >= 1, got '0'" });
    await expect(dreamDataset({ model: 'model', env, out: 'd0', policy: { kind: 'replay' }, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(dreamDataset({ model: 'model', env: loadEnv('CartPole-v1'), out: 'd0', cwd: root })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(join(root, 'd0'))).toBe(false);
  });

  it('evaluateWorldModel writes the report and returns its targets and the horizon MSE', async () => {
    const progress = recorder<EvalProgress>();
    const s = await evaluateWorldModel({ model: 'model', dataset: 'data', out: 'report', horizon: 3, cwd: root, onProgress: progress.on });
    const report = JSON.parse(readFileSync(join(root, 'report', 'report.json'), 'utf8'));
    expect(s).toMatchObject({ dir: join(root, 'report'), modelId: trained.card.id, heldoutEpisodes: 1, horizon: 3 });
    expect(s.targets.map((t) => t.name)).toEqual(report.targets.map((t: { name: string }) => t.name));
    expect(s.mse.copyLast).toBeCloseTo(report.open_loop.copy_last.mse[2], 10);
    expect(s.mse.model).toBeCloseTo(report.open_loop.model.mse[2], 10);
    // PushCube's two action dimensions, each with its R²; their mean is the target's value.
    const perAction = report.inverse_r2.per_action;
    expect(perAction.names).toEqual(trained.card.action.names);
    expect(perAction.model).toHaveLength(2);
    expect((perAction.model[0] + perAction.model[1]) / 2).toBeCloseTo(report.inverse_r2.model, 12);
    // The probe's position columns, named, each with its R²; the defined ones average to the probe.
    const probe = report.representation;
    expect(probe.position_names.length).toBeGreaterThan(1);
    expect(probe.position_names.every((n: string) => /\.(x|y|z)$/.test(n))).toBe(true);
    expect(probe.model.probeR2PerColumn).toHaveLength(probe.position_names.length);
    const defined = probe.model.probeR2PerColumn.filter((v: number | null) => v !== null);
    expect(defined.reduce((a: number, b: number) => a + b, 0) / defined.length).toBeCloseTo(probe.model.probeR2, 12);
    const markdown = readFileSync(join(root, 'report', 'report.md'), 'utf8');
    expect(markdown).toContain(`Linear probe R² per state column: model (${probe.position_names[0]} `);
    expect(markdown).toMatch(new RegExp(`- inverse dynamics R²: model \\S+ \\(${perAction.names[0]} \\S+, ${perAction.names[1]} \\S+\\), PCA baseline \\S+ \\(${perAction.names[0]} `));
    expect(steps(progress.events)).toEqual(['read 0/1', 'read 1/1', 'evaluate 0/3', 'evaluate 1/3', 'evaluate 2/3', 'evaluate 3/3', 'write 0/1', 'write 1/1']);
    expect(progress.events[2]).toMatchObject({ modelId: trained.card.id, heldoutEpisodes: 1 });
    await expect(evaluateWorldModel({ model: 'model', dataset: 'data', context: 2, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/^--context 2: the model's encoder sees 1 frame\(s\) per latent/) });
  });
});
