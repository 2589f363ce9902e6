import { mkdtempSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset, openDataset } from '../../../src/api/dataset.js';
import { loadWorldModel, trainWorldModel } from '../../../src/api/model.js';
import type { DatasetEpisode } from '../../../src/dataset/open.js';
import { WorldModelSession } from '../../../src/model/session.js';
import { readModelCard, readModelParts } from '../../../src/model/store.js';
import { unitInto } from '../../../src/model/transitions.js';
import type { WorldModel } from '../../../src/model/world-model.js';
import { rejection } from '../../helpers/rejection.js';

let dir: string;
let model: WorldModel;
let session: WorldModelSession;
let ep: DatasetEpisode;


describe('loadWorldModel', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tf-wm-api-'));
    await generateDataset({ env: 'PushCube-v1', out: join(dir, 'data'), episodes: 2, workers: 0, channels: ['rgb'], policy: { noise: 0.3 } });
    await trainWorldModel({ dataset: 'data', out: 'model', cwd: dir, kind: 'keypoints', epochs: 1, hidden: 16, latent: 26, keypoints: 2, rollout: 2 });
    model = await loadWorldModel(join(dir, 'model'));
    const card = readModelCard(join(dir, 'model'));
    session = await WorldModelSession.load(card, readModelParts(join(dir, 'model'), card));
    const ds = await openDataset(join(dir, 'data'));
    for await (const e of ds.episodes()) {
      ep = e;
      break;
    }
    await ds.close();
  }, 180_000);
  afterAll(async () => {
    await model?.dispose();
    await session?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exposes the card and the sizes the graphs take', () => {
    expect(model.card.format).toBe('trajforge-world-model');
    expect(model.dir).toBe(join(dir, 'model'));
    expect([model.latent, model.actionDim, model.actionNames, model.camera]).toEqual([26, 2, ['vx', 'vy'], 'top']);
    expect(model.input).toEqual({ width: 64, height: 64 });
    expect(model.decoded).toEqual({ width: model.card.decoded.width, height: model.card.decoded.height });
  });

  it('encode / step / decode / inverse return what the session computes, batched, with the documented shapes', async () => {
    const T = ep.length;
    const Z = model.latent;
    const bytes = ep.channel('top').data as Uint8Array;
    const floats = new Float32Array(bytes.length);
    unitInto(bytes, floats, 0);

    const z = await model.encode(bytes);
    expect(z.length).toBe(T * Z);
    expect(z).toEqual(await session.encode(floats, T));
    expect(await model.encode(floats)).toEqual(z);
    expect(await model.encode(new Uint8ClampedArray(bytes))).toEqual(z);

    const next = await model.step(z, ep.actions);
    const want = await session.step(z, ep.actions, T);
    expect([next.z, next.reward, next.done]).toEqual([want.next, want.reward, want.done]);
    expect([next.z.length, next.reward.length, next.done.length]).toEqual([T * Z, T, T]);

    const frames = await model.decode(next.z);
    expect(frames.length).toBe(T * model.decoded.width * model.decoded.height * 3);
    expect(frames).toEqual(await session.decode(next.z, T));

    const actions = await model.inverse(z.subarray(0, (T - 1) * Z), z.subarray(Z));
    expect(actions.length).toBe((T - 1) * 2);
    expect(actions).toEqual(await session.inverse(z.subarray(0, (T - 1) * Z), z.subarray(Z), T - 1));
  });

  it('wrong lengths and types are E_MODEL_SHAPE naming the argument and the expected row', async () => {
    const Z = model.latent;
    const z = new Float32Array(3 * Z);
    const cases: [Promise<unknown>, RegExp][] = [
      [model.encode(new Uint8Array(100)), /encode: frames has 100 values, not a whole number \(>= 1\) of 64x64x3 frames .*N × 12288/],
      [model.encode(new Uint8Array(0)), /encode: frames has 0 values/],
      [model.encode(new Float64Array(12288) as unknown as Float32Array), /encode: frames must be a Float32Array or a Uint8Array of rgb bytes, got Float64Array/],
      [model.step(z, new Float32Array(4)), /step: z holds 3 latent\(s\) but actions holds 2 action\(s\)/],
      [model.step(z, new Float32Array(5)), /step: actions has 5 values, not a whole number \(>= 1\) of actions of 2 \(vx, vy\)/],
      [model.step(new Float32Array(Z + 1), new Float32Array(2)), /step: z has 27 values, not a whole number \(>= 1\) of latents of 26/],
      [model.decode([0, 1] as unknown as Float32Array), /decode: z must be a Float32Array, got a plain array/],
      [model.inverse(z, z.subarray(Z)), /inverse: z0 holds 3 latent\(s\) but z1 holds 2/],
    ];
    for (const [p, message] of cases) {
      const e = await rejection(p);
      expect(e.code).toBe('E_MODEL_SHAPE');
      expect(e.message).toMatch(message);
    }
  });

  it('execution providers come from the options, else TRAJFORGE_ORT_PROVIDERS (as for the CLI), else the CPU', async () => {
    const saved = process.env.TRAJFORGE_ORT_PROVIDERS;
    try {
      process.env.TRAJFORGE_ORT_PROVIDERS = 'nosuch';
      expect((await rejection(loadWorldModel(join(dir, 'model')))).message).toMatch(/providers \[nosuch\]/);
      const m = await loadWorldModel(join(dir, 'model'), { providers: ['cpu'] });
      await m.dispose();
    } finally {
      if (saved === undefined) delete process.env.TRAJFORGE_ORT_PROVIDERS;
      else process.env.TRAJFORGE_ORT_PROVIDERS = saved;
    }
  });

  it('dispose() is idempotent and a disposed model refuses calls; bad folders are coded errors', async () => {
    const m = await loadWorldModel(join(dir, 'model'));
    await m.dispose();
    await m.dispose();
    expect((await rejection(m.decode(new Float32Array(m.latent)))).message).toMatch(/was disposed; load it again/);
    expect((await rejection(loadWorldModel(join(dir, 'data')))).code).toBe('E_USAGE');
    const broken = join(dir, 'broken');
    cpSync(join(dir, 'model'), broken, { recursive: true });
    writeFileSync(join(broken, 'encoder.onnx'), 'not onnx');
    const e = await rejection(loadWorldModel(broken));
    expect(e.code).toBe('E_MODEL_SHAPE');
    expect(e.message).toContain(join(broken, 'encoder.onnx'));
  });
});
