import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewDataset, type ViewServer } from '../../../src/pipeline/view.js';
import type { EpisodeSeries, ViewSummary } from '../../../src/pipeline/view-data.js';
import { tmpDir } from '../../helpers/dataset.js';
import { decodeAll, writeForeignDataset, type ForeignFixture } from '../../helpers/lerobot-foreign.js';

let fx: ForeignFixture;
let server: ViewServer;

const get = (path: string) => fetch(new URL(path, server.url));

beforeAll(async () => {
  fx = writeForeignDataset(join(tmpDir('tf-view-foreign-'), 'so100_pick'));
  server = await viewDataset({ dir: fx.dir });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('trajforge view on a LeRobot v3 dataset another tool wrote', () => {
  it('opens it and fills the table from meta/episodes, with no success or return where the dataset records none', async () => {
    const r = await get('/api/dataset');
    expect(r.status).toBe(200);
    const sum = (await r.json()) as ViewSummary;
    expect(sum.writtenBy).toBe('other');
    expect(sum.envId).toBe('so100_follower');
    expect(sum.fps).toBe(10);
    expect(sum.frames).toBe(16);
    expect(sum.episodes).toEqual([
      { index: 0, length: 7, seed: null, success: null, return: null, task: fx.tasks[0] },
      { index: 1, length: 9, seed: null, success: null, return: null, task: fx.tasks[1] },
    ]);
    expect(sum.cameras).toEqual([
      { name: 'front', videoKey: 'observation.images.front', stored: 'video', width: 48, height: 32, overlays: [] },
      { name: 'wrist', videoKey: 'observation.images.wrist', stored: 'video', width: 32, height: 24, overlays: [] },
    ]);
    expect(sum.series).toEqual([
      { feature: 'observation.state', group: 'state', names: fx.motors },
      { feature: 'action', group: 'action', names: fx.motors },
    ]);
    expect(sum.sizes.perCamera.front).toBeGreaterThan(0);
    expect(sum.sizes.perCamera.wrist).toBeGreaterThan(0);
    expect(sum.sizes.videos).toBe(sum.sizes.perCamera.front! + sum.sizes.perCamera.wrist!);
  }, 60_000);

  it("shows meta/stats.json's stats in LeRobot's shapes and computes those it lacks", async () => {
    const sum = (await (await get('/api/dataset')).json()) as ViewSummary;
    const byKey = Object.fromEntries(sum.stats.map((s) => [s.feature, s]));
    const acts = fx.action.flat();
    const col = (xs: number[], j: number) => xs.filter((_, i) => i % 6 === j);
    expect(byKey.action!.origin).toBe('stats.json');
    expect(byKey.action!.names).toEqual(fx.motors);
    expect(byKey.action!.count).toBe(16);
    expect(byKey.action!.stats.min).toEqual(fx.motors.map((_, j) => Math.min(...col(acts, j))));
    expect(byKey['observation.images.front']!.stats.mean).toEqual([0.4, 0.3, 0.2]);
    expect(byKey['observation.images.front']!.names).toEqual(['r', 'g', 'b']);
    const st = byKey['observation.state']!;
    expect(st.origin).toBe('computed');
    expect(st.count).toBe(16);
    const states = fx.state.flat();
    fx.motors.forEach((_, j) => {
      expect(st.stats.min![j]).toBeCloseTo(Math.min(...col(states, j)), 4);
      expect(st.stats.max![j]).toBeCloseTo(Math.max(...col(states, j)), 4);
    });
  });

  it("serves each episode's series equal to the stored values, named by LeRobot's {motors: [...]}", async () => {
    for (const e of [0, 1]) {
      const s = (await (await get(`/api/episodes/${e}`)).json()) as EpisodeSeries;
      expect(s.length).toBe(fx.lengths[e]);
      const state = s.columns.find((c) => c.feature === 'observation.state')!;
      expect(state.names).toEqual(fx.motors);
      for (let j = 0; j < 6; j++) expect(state.values[j]).toEqual(fx.state[e]!.filter((_, i) => i % 6 === j));
      const action = s.columns.find((c) => c.feature === 'action')!;
      for (let j = 0; j < 6; j++) expect(action.values[j]).toEqual(fx.action[e]!.filter((_, i) => i % 6 === j));
    }
  });

  it("serves each episode's frames equal to an independent decode of its time range (AV1 and H.264 with B-frames, the second episode mid-file)", async () => {
    for (const cam of fx.cameras) {
      const file = join(fx.dir, 'videos', `observation.images.${cam.name}`, 'chunk-000', 'file-000.mp4');
      const all = decodeAll(file);
      const frameBytes = cam.width * cam.height * 3;
      expect(all.length).toBe(16 * frameBytes);
      let from = 0;
      // Episode 1 first: its decoder starts mid-file by seeking; then episode 0 from the start.
      const starts = [0, fx.lengths[0]!];
      for (const e of [1, 0]) {
        from = starts[e]!;
        const r = await get(`/api/episodes/${e}/frames/${cam.name}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('x-length')).toBe(String(fx.lengths[e]));
        expect([r.headers.get('x-width'), r.headers.get('x-height')]).toEqual([String(cam.width), String(cam.height)]);
        const got = new Uint8Array(await r.arrayBuffer());
        const want = all.subarray(from * frameBytes, (from + fx.lengths[e]!) * frameBytes);
        expect(got.length).toBe(want.length);
        expect(Buffer.compare(Buffer.from(got), want), `${cam.name} episode ${e}`).toBe(0);
      }
    }
  }, 60_000);
});
