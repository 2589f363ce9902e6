/**
 * Environments users bring: a camera with an odd side (4:2:0 video cannot hold it) and none at all.
 * Each command either writes them or refuses them up front with advice that works for it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { datasetMeta, DEFAULT_LAYOUT } from '../../../src/dataset/meta.js';
import { FramesSink } from '../../../src/export/frames/sink.js';
import { TeleopRecorder } from '../../../src/pipeline/play-recorder.js';
import { writeClip } from '../../../src/video/clip.js';
import { probeVideo } from '../../../src/video/probe.js';
import { tmpDir } from '../../helpers/dataset.js';

const run = { seed: 0, episodes: 1, shard: { index: 0, count: 1 }, policy: { kind: 'random', noise: 0, epsilon: 0 }, codec: 'h264', gop: 2, checkpoint: 1, layout: DEFAULT_LAYOUT } as const;

function envFile(yaml: string): string {
  const file = join(tmpDir(), 'env.yaml');
  writeFileSync(file, yaml);
  return file;
}

const BALL = `bodies:
  - { name: floor, shape: { type: plane }, type: fixed }
  - { name: ball, shape: { type: sphere, radius: 0.1 }, position: [0, 0, 1] }
observation:
  - { term: position, body: ball }
task: { timeLimit: 5 }
`;

describe('environments with odd-sided cameras or none', () => {
  it('the frames format refuses an environment without a camera before anything is written', () => {
    const env = loadEnv(envFile(`id: NoCamera-v1\n${BALL}`));
    expect(() => new FramesSink().check(datasetMeta(env, { cameras: [], run }))).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringContaining('NoCamera-v1 has no camera') }));
  });

  it('a 4:2:0 clip of odd sides is scaled up to the next even size; a lossless one keeps its size', async () => {
    const dir = tmpDir();
    const [w, h, n] = [33, 17, 4];
    const frames = new Uint8Array(n * w * h * 3).map((_, i) => (i * 7) % 251);
    writeClip(join(dir, 'odd.mp4'), frames, n, { width: w, height: h, fps: 10, profile: 'h264' });
    writeClip(join(dir, 'odd.webm'), frames, n, { width: w, height: h, fps: 10, profile: 'vp9' });
    writeClip(join(dir, 'odd-lossless.mp4'), frames, n, { width: w, height: h, fps: 10, profile: 'lossless' });
    expect(await probeVideo(join(dir, 'odd.mp4'), { countFrames: true })).toMatchObject({ width: 34, height: 18, frames: n });
    expect(await probeVideo(join(dir, 'odd.webm'))).toMatchObject({ width: 34, height: 18 });
    expect(await probeVideo(join(dir, 'odd-lossless.mp4'))).toMatchObject({ width: 33, height: 17 });
  });

  it('play --record takes --codec: lossless records an odd-sided camera that h264 refuses', async () => {
    const env = loadEnv(envFile(`id: OddCamera-v1\n${BALL}cameras:\n  - { name: side, resolution: [33, 17], position: [0, -2, 1], lookAt: [0, 0, 0.5], channels: [rgb] }\n`));
    const root = tmpDir();
    await expect(TeleopRecorder.open({ env, dir: join(root, 'h264'), seed: 0, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('needs even sides') });
    expect(existsSync(join(root, 'h264'))).toBe(false);
    const recorder = await TeleopRecorder.open({ env, dir: join(root, 'lossless'), seed: 0, codec: 'lossless', cwd: root });
    await recorder.close();
  });
});
