import { describe, expect, it } from 'vitest';
import { SessionPool } from '../../../src/parallel/session-pool.js';
import { scaleGraph } from '../../helpers/scale-graph.js';
import { OnnxModel } from '../../../src/model/onnx/runtime.js';

const graph = (): Uint8Array => scaleGraph('pool_test');

describe('SessionPool', () => {
  it('runs many calls side by side on its workers, each answered with its own outputs', async () => {
    const pool = await SessionPool.start(graph(), 2, { threads: 1 }, 'test worker');
    try {
      expect(pool.concurrency).toBe(2);
      const runs = Array.from({ length: 9 }, (_, i) => pool.run({ x: { data: Float32Array.of(i, i + 1, i + 2), dims: [1, 3] }, w: { data: Float32Array.of(1, 2, 3), dims: [3] } }, ['y']));
      const out = await Promise.all(runs);
      out.forEach((o, i) => expect(Array.from(o.y!.data)).toEqual([i, 2 * (i + 1), 3 * (i + 2)]));
      // The caller's arrays stay its own unless handed over, when the worker takes their buffers.
      const x = Float32Array.of(1, 2, 3);
      await pool.run({ x: { data: x, dims: [1, 3] }, w: { data: Float32Array.of(1, 1, 1), dims: [3] } }, ['y']);
      expect(Array.from(x)).toEqual([1, 2, 3]);
      await pool.run({ x: { data: x, dims: [1, 3] }, w: { data: Float32Array.of(1, 1, 1), dims: [3] } }, ['y'], true);
      expect(x.length).toBe(0);
      // A bad feed is that call's coded error; the pool serves the next call.
      await expect(pool.run({ x: { data: Float32Array.of(1, 1), dims: [1, 2] }, w: { data: Float32Array.of(1, 2, 3), dims: [3] } }, ['y'])).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
      expect(Array.from((await pool.run({ x: { data: Float32Array.of(1, 1, 1), dims: [1, 3] }, w: { data: Float32Array.of(1, 2, 3), dims: [3] } }, ['y'])).y!.data)).toEqual([1, 2, 3]);
    } finally {
      await pool.release();
    }
  });

  it('a worker gone fails the calls it gets at once with E_WORKER_FAILED', async () => {
    const pool = await SessionPool.start(graph(), 1, { threads: 1 }, 'test worker');
    try {
      await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0]!.terminate();
      const started = performance.now();
      await expect(pool.run({ x: { data: Float32Array.of(1, 1, 1), dims: [1, 3] }, w: { data: Float32Array.of(1, 2, 3), dims: [3] } }, ['y'])).rejects.toMatchObject({ code: 'E_WORKER_FAILED', message: expect.stringContaining('test worker 0 exited') });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await pool.release();
    }
  });

  it('rgb bytes feed a float input as byte / 255, in this thread and in a worker alike', async () => {
    const bytes = Uint8Array.of(0, 51, 255);
    const w = { data: Float32Array.of(1, 1, 1), dims: [3] };
    const want = Array.from(Float32Array.of(0, 51 / 255, 1));
    const model = await OnnxModel.load(graph());
    const pool = await SessionPool.start(graph(), 1, { threads: 1 }, 'test worker');
    try {
      expect(Array.from((await model.run({ x: { data: bytes, dims: [1, 3] }, w }, ['y'])).y!.data)).toEqual(want);
      expect(Array.from((await pool.run({ x: { data: bytes.slice(), dims: [1, 3] }, w }, ['y'])).y!.data)).toEqual(want);
    } finally {
      await model.release();
      await pool.release();
    }
  });
});
