/**
 * Another tool's LeRobot v3 dataset whose cameras are `image` features (one PNG per row in the
 * data parquet, HF's Image struct), written by Arrow + parquet-wasm with pngjs's PNGs: read as rgb
 * frames by openDataset, learned from by train and eval; label, which reads video, refuses it by name.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../../src/dataset/open.js';
import { evaluateWorldModel, generateDataset, trainWorldModel } from '../../../src/pipeline/index.js';
import { labelVideos } from '../../../src/pipeline/label.js';
import { viewDataset } from '../../../src/pipeline/view.js';
import type { ViewSummary } from '../../../src/pipeline/view-data.js';
import { decodePngRgb } from '../../../src/render/png.js';
import { ffmpegPath } from '../../../src/video/ffmpeg.js';
import { tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';
import { foreignFrame, writeForeignDataset, type ForeignFixture } from '../../helpers/lerobot-foreign.js';
import { rejection } from '../../helpers/rejection.js';

let root: string;
let fx: ForeignFixture;
const LENGTHS = [7, 9, 8, 6, 7];

beforeAll(() => {
  root = tmpDir('tf-foreign-images-');
  fx = writeForeignDataset(join(root, 'pusht_image'), { lengths: LENGTHS, cameras: [], imageCameras: [{ name: 'top', width: 24, height: 16 }] });
});

describe("another tool's image features", () => {
  it('openDataset decodes every row’s PNG to the rgb frame written, beside the rows’ state and action', async () => {
    const ds = await openDataset(fx.dir);
    try {
      expect(ds.info.writtenBy).toBe('other');
      expect(ds.info.cameras).toEqual([{ name: 'top', width: 24, height: 16, channels: ['rgb'] }]);
      let k = 0;
      let e = 0;
      for await (const ep of ds.episodes()) {
        expect(ep.length).toBe(LENGTHS[e]);
        expect(Array.from(ep.actions)).toEqual(fx.action[e]);
        const frames = ep.channel('top').data as Uint8Array;
        for (let t = 0; t < ep.length; t++) expect(Buffer.from(frames.subarray(t * 24 * 16 * 3, (t + 1) * 24 * 16 * 3)).equals(Buffer.from(foreignFrame(24, 16, k + t)))).toBe(true);
        k += ep.length;
        e++;
      }
      expect(e).toBe(LENGTHS.length);
      // Without frames the image columns are not decoded; the rows still are.
      let rows = 0;
      for await (const ep of ds.episodes({ channels: [] })) {
        expect(ep.frames).toEqual([]);
        rows += ep.length;
      }
      expect(rows).toBe(LENGTHS.reduce((a, b) => a + b, 0));
    } finally {
      await ds.close();
    }
  });

  it('view serves each episode’s frames from the PNGs, byte for byte', async () => {
    const server = await viewDataset({ dir: fx.dir });
    try {
      const sum = (await (await fetch(new URL('/api/dataset', server.url))).json()) as ViewSummary;
      expect(sum.cameras).toEqual([{ name: 'top', videoKey: 'observation.images.top', stored: 'image', width: 24, height: 16, overlays: [] }]);
      const frameBytes = 24 * 16 * 3;
      for (const e of [3, 0]) {
        const r = await fetch(new URL(`/api/episodes/${e}/frames/top`, server.url));
        expect(r.status).toBe(200);
        expect(r.headers.get('x-length')).toBe(String(LENGTHS[e]));
        const got = new Uint8Array(await r.arrayBuffer());
        const first = LENGTHS.slice(0, e).reduce((a, b) => a + b, 0);
        const want = Buffer.concat(Array.from({ length: LENGTHS[e]! }, (_, t) => foreignFrame(24, 16, first + t)));
        expect(got.length).toBe(LENGTHS[e]! * frameBytes);
        expect(Buffer.compare(Buffer.from(got), want)).toBe(0);
      }
    } finally {
      await server.close();
    }
  }, 60_000);

  it('train and eval learn from them like from video', async () => {
    const s = await trainWorldModel({ dataset: fx.dir, out: 'model', kind: 'conv', steps: 2, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
    expect(s.card.camera).toBe('top');
    expect(s.data).toMatchObject({ width: 24, height: 16, episodes: 5 });
    const e = await evaluateWorldModel({ model: 'model', dataset: fx.dir, horizon: 3, cwd: root });
    expect(existsSync(join(e.dir, 'report.json'))).toBe(true);
  }, 120_000);

  it('label, which reads video, refuses them by name and writes nothing', async () => {
    // A model of an environment trajforge knows, so that label gets as far as reading the frames.
    await generateDataset(generateOptions('push', { episodes: 3, channels: ['rgb'], cwd: root }));
    await trainWorldModel({ dataset: 'push', out: 'push-model', kind: 'conv', steps: 1, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
    const e = await rejection(labelVideos({ videos: fx.dir, model: 'push-model', out: 'labelled', cwd: root }));
    expect(e).toMatchObject({ code: 'E_USAGE', message: `${fx.dir} stores its frames as images in its data files (observation.images.top), not as video; label reads video: write those frames to an mp4 (ffmpeg) and label the file` });
    expect(existsSync(join(root, 'labelled'))).toBe(false);
  }, 60_000);
});

describe('decodePngRgb', () => {
  // A picture with every kind of content: gradients, a hard edge, and a few grey levels.
  const W = 13;
  const H = 7;
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) rgb.set([(i * 37) & 255, (i * 11 + 40) & 255, i % W < 6 ? 250 : 3], i * 3);
  const run = (args: string[], input: Uint8Array) => {
    const r = spawnSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', ...args], { input, maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(r.stderr.toString());
    return new Uint8Array(r.stdout);
  };
  // ffmpeg writes the PNG in each pixel format and decodes it again to rgb24: the reference.
  for (const pixFmt of ['rgb24', 'rgba', 'rgb48be', 'rgba64be', 'gray', 'ya8', 'gray16be', 'pal8', 'monob']) {
    it(`reads a ${pixFmt} PNG as ffmpeg does`, () => {
      const png = run(['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-i', 'pipe:0', '-frames:v', '1', '-pix_fmt', pixFmt, '-f', 'image2pipe', '-c:v', 'png', 'pipe:1'], rgb);
      const reference = run(['-f', 'png_pipe', '-i', 'pipe:0', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], png);
      const decoded = decodePngRgb(png);
      expect({ width: decoded.width, height: decoded.height }).toEqual({ width: W, height: H });
      let worst = 0;
      for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(decoded.data[i]! - reference[i]!));
      // 16-bit samples keep their high byte; ffmpeg rounds: at most one level apart.
      expect(worst).toBeLessThanOrEqual(pixFmt.includes('64') || pixFmt.includes('48') || pixFmt === 'gray16be' ? 1 : 0);
    });
  }

  it('refuses bytes that are not a PNG', () => {
    expect(() => decodePngRgb(new Uint8Array(readFileSync(join(root, 'pusht_image', 'meta', 'info.json'))))).toThrow();
  });
});
