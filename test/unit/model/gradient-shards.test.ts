import { describe, expect, it } from 'vitest';
import { GradientShards } from '../../../src/parallel/gradient-shards.js';
import { scaleGraph } from '../../helpers/scale-graph.js';

const graph = (): Uint8Array => scaleGraph('shard_test');

describe('GradientShards', () => {
  it('runs each shard on its own feeds in its own worker and returns the outputs in shard order', async () => {
    const shards = await GradientShards.start(graph(), 2, { threads: 1 });
    try {
      expect(shards.count).toBe(2);
      const w = { data: Float32Array.of(1, 2, 3), dims: [3] };
      const out = await shards.run(
        [
          { x: { data: Float32Array.of(1, 1, 1), dims: [1, 3] }, w },
          { x: { data: Float32Array.of(2, 0, -1, 0, 1, 0), dims: [2, 3] }, w },
        ],
        ['y'],
      );
      expect(Array.from(out[0]!.y!.data)).toEqual([1, 2, 3]);
      expect(Array.from(out[1]!.y!.data)).toEqual([2, 0, -3, 0, 2, 0]);
      expect(out[1]!.y!.dims).toEqual([2, 3]);
      // A feed the graph rejects comes back as the session's coded error, and the workers live on.
      await expect(shards.run([{ x: { data: Float32Array.of(1, 1), dims: [1, 2] }, w }, { x: { data: Float32Array.of(1, 1, 1), dims: [1, 3] }, w }], ['y'])).rejects.toMatchObject({ code: 'E_MODEL_SHAPE' });
      const again = await shards.run([{ x: { data: Float32Array.of(0, 0, 1), dims: [1, 3] }, w }, { x: { data: Float32Array.of(1, 0, 0), dims: [1, 3] }, w }], ['y']);
      expect(Array.from(again[0]!.y!.data)).toEqual([0, 0, 3]);
    } finally {
      await shards.close();
    }
  });

  it('a worker gone between steps fails the next step at once with E_WORKER_FAILED', async () => {
    const shards = await GradientShards.start(graph(), 2, { threads: 1 });
    try {
      await (shards as unknown as { workers: { terminate(): Promise<number> }[] }).workers[1]!.terminate();
      const w = { data: Float32Array.of(1, 2, 3), dims: [3] };
      const x = { data: Float32Array.of(1, 1, 1), dims: [1, 3] };
      const started = performance.now();
      await expect(shards.run([{ x, w }, { x, w }], ['y'])).rejects.toMatchObject({ code: 'E_WORKER_FAILED', message: expect.stringContaining('training worker 1 exited') });
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await shards.close();
    }
  });

  it('a graph no session can load fails the start with the session\'s coded error', async () => {
    await expect(GradientShards.start(Uint8Array.of(1, 2, 3), 2, { threads: 1 })).rejects.toMatchObject({ code: 'E_INTERNAL' });
  });
});
