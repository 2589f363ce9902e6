import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { dreamDataset } from '../../../src/pipeline/dream.js';
import { readStartFrames } from '../../../src/pipeline/start-frames.js';
import { readModelCard } from '../../../src/model/store.js';
import { readResampled } from '../../../src/video/resample.js';
import { writeClip } from '../../../src/video/clip.js';
import { squareFrames, writeCentroidModel } from '../../helpers/analytic-model.js';
import { tmpDir } from '../../helpers/dataset.js';

describe('dream --from-video', () => {
  it('starts each dream from a frame of the video, evenly spaced over it, and records which', async () => {
    const root = tmpDir('tf-dream-video-');
    const model = join(root, 'model');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 4 });
    // 25 frames of a square moving right at 96x96, 20 fps: resampled to the model's 64x64.
    const actions = new Float32Array(48).map((_, i) => (i % 2 === 0 ? 0.5 : 0));
    const { frames, count } = squareFrames(96, 96, 12, [24, 48], actions, 3);
    const video = join(root, 'clip.mp4');
    writeClip(video, frames, count, { width: 96, height: 96, fps: 20, profile: 'lossless' });
    const expected = await readResampled(video, { width: 64, height: 64, fps: 20 });
    expect(expected.frames).toBe(25);

    const out = join(root, 'dreamed');
    const s = await dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 4, horizon: 5, fromVideo: video, codec: 'lossless' });
    expect(s.episodes).toBe(4);
    const P = 64 * 64 * 3;
    const starts: number[] = [];
    for await (const ep of readLeRobotEpisodes(out)) {
      const first = (ep.frames[0]!.data as Uint8Array).subarray(0, P);
      // Episode k starts from output frame floor(k · 25 / 4): 0, 6, 12, 18.
      const k = ep.episode;
      const index = Math.floor((k * 25) / 4);
      expect(Buffer.from(first).equals(Buffer.from(expected.data.subarray(index * P, (index + 1) * P)))).toBe(true);
      expect(ep.provenance).toMatchObject({ file: video, fromFrame: index, toFrame: index, sourceFps: 20, sourceWidth: 96, sourceHeight: 96 });
      starts.push(index);
    }
    expect(starts).toEqual([0, 6, 12, 18]);
    const lines = readFileSync(join(out, 'meta', 'trajforge_episodes.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.provenance.from_frame)).toEqual([0, 6, 12, 18]);
    // Each start comes with the frame before it (the first is its own): a context-2 encoder sees the video's motion there.
    const picked = await readStartFrames(video, readModelCard(model), 20, 4);
    expect(picked.count).toBe(4);
    [0, 6, 12, 18].forEach((index, j) => {
      const before = Math.max(0, index - 1);
      expect(Buffer.from(picked.frames.subarray(j * P, (j + 1) * P)).equals(Buffer.from(expected.data.subarray(index * P, (index + 1) * P)))).toBe(true);
      expect(Buffer.from(picked.previous.subarray(j * P, (j + 1) * P)).equals(Buffer.from(expected.data.subarray(before * P, (before + 1) * P))), `start ${index}`).toBe(true);
    });
  }, 120_000);

  it('refuses an unreadable video with nothing written', async () => {
    const root = tmpDir('tf-dream-video-');
    const model = join(root, 'model');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 4 });
    const bad = join(root, 'bad.mp4');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(bad, 'not a video');
    const out = join(root, 'dreamed');
    await expect(dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 2, fromVideo: bad })).rejects.toMatchObject({ code: 'E_VIDEO_INVALID', message: expect.stringContaining(bad) });
    expect(existsSync(out)).toBe(false);
    await expect(dreamDataset({ model, env: loadEnv('PushCube-v1'), out, episodes: 2, fit: 'pad' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
