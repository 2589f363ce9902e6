import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { evaluateWorldModel } from '../../../src/pipeline/eval.js';
import { trainWorldModel, type TrainProgress } from '../../../src/pipeline/train.js';
import { readModelCard } from '../../../src/model/store.js';
import { loadWorldModel } from '../../../src/model/world-model.js';
import { loadEnv } from '../../../src/config/load.js';
import { observationNames } from '../../../src/config/names.js';
import { stateEstimate } from '../../../src/model/label.js';
import { generateOptions } from '../../helpers/generate.js';
import { tmpDir } from '../../helpers/dataset.js';

/** The convolutional model through the pipeline: progress, the card, checkpoints, resume, budget. */
const TINY = { steps: 12, batch: 4, depth: 4, latent: 12, hidden: 16, learnedKeypoints: 2, rollout: 2 } as const;

let root: string;
beforeAll(async () => {
  root = tmpDir('tf-train-conv-');
  await generateDataset(generateOptions('data', { episodes: 6, cwd: root }));
}, 120_000);

describe('trainWorldModel --arch conv (the default)', () => {
  it('reports every step with its losses, writes a conv card and the log, and leaves no checkpoint', async () => {
    const events: TrainProgress[] = [];
    const s = await trainWorldModel({ dataset: 'data', out: 'model', ...TINY, cwd: root, onProgress: (p) => events.push(p) });
    expect(s.kind).toBe('conv');
    expect(s.steps).toEqual({ done: 12, planned: 12, stopped: false });
    expect(events.map((e) => `${e.stage} ${e.done}/${e.total}`)).toEqual(['read 0/1', 'read 1/1', ...Array.from({ length: 12 }, (_, i) => `train ${i + 1}/12`)]);
    const last = events.at(-1)!;
    expect('losses' in last && Object.keys(last.losses).sort()).toEqual(['done', 'inverse', 'latent', 'predict', 'recon', 'reward', 'state', 'total']);
    const card = readModelCard(join(root, 'model'));
    expect(card).toMatchObject({ kind: 'conv', latent: 12, input: { width: 64, height: 64, downsample: 1, context: 2 }, decoded: { width: 64, height: 64 } });
    expect(card.training.options).toMatchObject({ steps: 12, steps_done: 12, depth: 4, keypoints: 2, context: 2, decoderMaps: 1 });
    expect(card.parts.encoder.inputs.map((i) => i.name)).toEqual(['frames', 'previous_index']);
    expect(Object.values(card.training.final).every(Number.isFinite)).toBe(true);
    // The state head as a read-out over the whole observation: trained columns read z, constant ones their value.
    const names = loadEnv('PushCube-v1').config;
    expect(card.state.names).toEqual(observationNames(names));
    const S = card.state.names.length;
    expect(card.state.readout!.weights).toHaveLength(12 * S);
    const z = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i));
    const est = stateEstimate(card, z, 1)!;
    expect(est.every(Number.isFinite)).toBe(true);
    const constant = card.state.names.map((_, c) => card.state.readout!.weights.every((w, k) => k % S !== c || w === 0));
    constant.forEach((isConstant, c) => isConstant && expect(est[c]).toBeCloseTo(card.state.mean[c]!, 6));
    expect(constant.filter((c) => !c).length).toBeGreaterThan(4);
    const log = readFileSync(join(root, 'model', 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number });
    expect(log.map((e) => e.epoch)).toEqual([2, 4, 6, 8, 10, 12]);
    expect(existsSync(join(root, 'model', '.trajforge-train'))).toBe(false);
    // eval reads it like any model: the report has its figures.
    const ev = await evaluateWorldModel({ model: 'model', dataset: 'data', cwd: root, horizon: 3 });
    expect(ev.mse.model).toBeGreaterThan(0);
  }, 120_000);

  it("context 2: each latent sees its frame and the one before (encodeSequence pairs them), eval conditions on both and refuses --context 1", async () => {
    const model = await loadWorldModel(join(root, 'model'));
    try {
      expect(model.context).toBe(2);
      const per = 64 * 64 * 3;
      const frames = Uint8Array.from({ length: 3 * per }, (_, i) => (i * 2654435761) >>> 24);
      const frame = (k: number) => frames.subarray(k * per, (k + 1) * per);
      const seq = await model.encodeSequence(frames);
      const L = model.latent;
      // Row k is encode(frame k, previous frame k-1); the first frame is its own predecessor.
      expect(Array.from(seq.subarray(0, L))).toEqual(Array.from(await model.encode(frame(0), frame(0))));
      expect(Array.from(seq.subarray(0, L))).toEqual(Array.from(await model.encode(frame(0))));
      expect(Array.from(seq.subarray(2 * L))).toEqual(Array.from(await model.encode(frame(2), frame(1))));
      // The predecessor matters: the same frame at rest is another latent.
      expect(Array.from(seq.subarray(2 * L))).not.toEqual(Array.from(await model.encode(frame(2))));
      await expect(model.encode(frames, frame(0))).rejects.toMatchObject({ code: 'E_MODEL_SHAPE', message: expect.stringMatching(/frames holds 3 frame\(s\) but previous holds 1/) });
    } finally {
      await model.dispose();
    }
    const ev = await evaluateWorldModel({ model: 'model', dataset: 'data', cwd: root, horizon: 2, out: 'ev2' });
    expect(ev.mse.model).toBeGreaterThan(0);
    await expect(evaluateWorldModel({ model: 'model', dataset: 'data', cwd: root, horizon: 2, context: 1, out: 'ev1' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/^--context 1: the model's encoder sees 2 frame\(s\)/) });
    expect(existsSync(join(root, 'ev1'))).toBe(false);
  }, 120_000);

  it('a run killed mid-way resumes to the same model (id, card figures and log) as an uninterrupted one', async () => {
    const whole = await trainWorldModel({ dataset: 'data', out: 'whole', ...TINY, cwd: root });
    // "Killed" at step 7: the progress callback throws; the checkpoint of step 6 stays.
    const kill = (p: TrainProgress) => {
      if (p.stage === 'train' && p.done === 7) throw new Error('killed');
    };
    await expect(trainWorldModel({ dataset: 'data', out: 'resumed', ...TINY, cwd: root, onProgress: kill })).rejects.toThrow(/killed/);
    expect(existsSync(join(root, 'resumed', '.trajforge-train', 'checkpoint.bin'))).toBe(true);
    expect(existsSync(join(root, 'resumed', 'model.json'))).toBe(false);
    // Without --resume the folder is refused, naming the way out.
    await expect(trainWorldModel({ dataset: 'data', out: 'resumed', ...TINY, cwd: root })).rejects.toMatchObject({ message: expect.stringMatching(/--resume|--overwrite/) });
    const notices: string[] = [];
    const resumed = await trainWorldModel({ dataset: 'data', out: 'resumed', ...TINY, resume: true, cwd: root, onNotice: (m) => notices.push(m) });
    expect(notices).toContain('resuming from the checkpoint at step 6 of 12');
    expect(resumed.card.id).toBe(whole.card.id);
    expect(resumed.card.training.final).toEqual(whole.card.training.final);
    expect(readFileSync(join(root, 'resumed', 'training_log.jsonl'), 'utf8')).toBe(readFileSync(join(root, 'whole', 'training_log.jsonl'), 'utf8'));
    // Other options are not continued from that checkpoint's state.
    await trainWorldModel({ dataset: 'data', out: 'other', ...TINY, cwd: root, onProgress: (p) => { if (p.stage === 'train' && p.done === 3) throw new Error('killed'); } }).catch(() => undefined);
    await expect(trainWorldModel({ dataset: 'data', out: 'other', ...TINY, seed: 5, resume: true, cwd: root })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
  }, 120_000);

  it('a time budget stops with a usable model; resume continues it to the planned steps', async () => {
    const s = await trainWorldModel({ dataset: 'data', out: 'budget', ...TINY, budgetSeconds: 1e-6, cwd: root });
    expect(s.steps).toEqual({ done: 1, planned: 12, stopped: true });
    expect(readModelCard(join(root, 'budget')).training.options.steps_done).toBe(1);
    expect(existsSync(join(root, 'budget', '.trajforge-train', 'checkpoint.bin'))).toBe(true);
    const more = await trainWorldModel({ dataset: 'data', out: 'budget', ...TINY, resume: true, cwd: root });
    expect(more.steps).toEqual({ done: 12, planned: 12, stopped: false });
    expect(existsSync(join(root, 'budget', '.trajforge-train'))).toBe(false);
  }, 120_000);
});
