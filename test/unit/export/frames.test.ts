import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { decode as decodeTiff } from 'tiff';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { episodeSeed } from '../../../src/episode/rollout.js';
import { createRunner } from '../../../src/episode/runner.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { validateEnvConfig } from '../../../src/config/parse.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';

const ENV = 'FallingObjects-v1';

describe('--format frames (Kubric-style), decoded by pngjs and tiff', () => {
  let dir: string;
  let truth: EpisodeData;
  beforeAll(async () => {
    dir = join(tmpDir(), 'frames');
    const r = await cli(['generate', ENV, '--episodes', '2', '--out', dir, '--format', 'frames', '--workers', '0']);
    expect(r.code, r.err).toBe(0);
    const runner = await createRunner({ config: loadEnv(ENV).config, source: 't', policy: { kind: 'noise', noise: 0, epsilon: 0 }, cameras: [{ name: 'main', channels: ['rgb', 'depth', 'segmentation', 'flow'] }], supersample: 1 });
    truth = await runner.run(1, episodeSeed(0, 1));
    await runner.close();
  });

  it('writes T + 1 frames of every layer per episode', () => {
    const files = readdirSync(join(dir, 'episode_000001'));
    const N = truth.length + 1;
    for (const layer of ['rgba', 'segmentation', 'forward_flow']) expect(files.filter((f) => f.startsWith(`${layer}_`) && f.endsWith('.png'))).toHaveLength(N);
    expect(files.filter((f) => f.startsWith('depth_') && f.endsWith('.tiff'))).toHaveLength(N);
    expect(files).toEqual(expect.arrayContaining(['metadata.json', 'data_ranges.json', 'events.json', 'rgba_00000.png']));
  });

  it('rgba, segmentation, depth (ray distance) and flow equal the rendered frames', () => {
    const ep = join(dir, 'episode_000001');
    const t = 3;
    const id = String(t).padStart(5, '0');
    const W = 64;
    const px = W * W;
    const rgb = truth.frames.find((f) => f.channel === 'rgb')!.data.subarray(t * px * 3, (t + 1) * px * 3);
    const rgba = PNG.sync.read(readFileSync(join(ep, `rgba_${id}.png`)));
    for (let i = 0; i < px; i++) {
      expect(rgba.data[4 * i]).toBe(rgb[3 * i]);
      expect(rgba.data[4 * i + 3]).toBe(255);
    }
    const seg = PNG.sync.read(readFileSync(join(ep, `segmentation_${id}.png`)), { skipRescale: true });
    const ids = truth.frames.find((f) => f.channel === 'segmentation')!.data.subarray(t * px, (t + 1) * px);
    for (let i = 0; i < px; i++) expect(seg.data[4 * i]).toBe(ids[i]);
    const depth = decodeTiff(readFileSync(join(ep, `depth_${id}.tiff`)))[0]!;
    const z = truth.frames.find((f) => f.channel === 'depth')!.data.subarray(t * px, (t + 1) * px);
    const K = truth.cameras[0]!.K;
    for (const i of [0, 1000, 2080, 4095]) {
      const u = i % W;
      const v = Math.floor(i / W);
      const a = (u + 0.5 - K[0]![2]!) / K[0]![0]!;
      const b = (v + 0.5 - K[1]![2]!) / K[1]![1]!;
      expect((depth.data as Float32Array)[i]).toBeCloseTo(z[i]! * Math.sqrt(1 + a * a + b * b), 4);
    }
    const ranges = JSON.parse(readFileSync(join(ep, 'data_ranges.json'), 'utf8'));
    const flowPng = PNG.sync.read(readFileSync(join(ep, `forward_flow_${id}.png`)), { skipRescale: true });
    const flow = truth.frames.find((f) => f.channel === 'flow')!.data.subarray(t * px * 2, (t + 1) * px * 2);
    const { min, max } = ranges.forward_flow;
    const step = (max - min) / 65535;
    for (let i = 0; i < px; i += 7) {
      expect(Math.abs(min + (flowPng.data[4 * i]! / 65535) * (max - min) - flow[2 * i + 1]!)).toBeLessThanOrEqual(step); // Δrow
      expect(Math.abs(min + (flowPng.data[4 * i + 1]! / 65535) * (max - min) - flow[2 * i]!)).toBeLessThanOrEqual(step); // Δcol
    }
  });

  it('metadata.json holds camera tracks and per-object tracks consistent with segmentation', () => {
    const meta = JSON.parse(readFileSync(join(dir, 'episode_000001', 'metadata.json'), 'utf8'));
    const N = truth.length + 1;
    expect(meta.metadata).toMatchObject({ resolution: [64, 64], frame_rate: 24, num_frames: N });
    expect(meta.camera.positions).toHaveLength(N);
    expect(meta.camera.quaternions[0]).toHaveLength(4);
    expect(meta.camera.K[0][2]).toBeCloseTo(0.5, 9);
    const objects = meta.instances.filter((i: { name: string }) => i.name.startsWith('obj_'));
    expect(objects.length).toBeGreaterThanOrEqual(3);
    for (const o of objects) {
      expect(o.positions).toHaveLength(N);
      expect(o.bboxes_3d[0]).toHaveLength(8);
      for (const q of o.quaternions) expect(Math.hypot(...q)).toBeCloseTo(1, 5);
      // Where an object is visible, its projected centre lies inside (or at) its 2-D box.
      o.bbox_frames.forEach((t: number, k: number) => {
        const [y0, x0, y1, x1] = o.bboxes[k];
        const [x, y] = o.image_positions[t];
        if (o.visibility[t] > 30) {
          expect(x).toBeGreaterThanOrEqual(x0 - 0.05);
          expect(x).toBeLessThanOrEqual(x1 + 0.05);
          expect(y).toBeGreaterThanOrEqual(y0 - 0.05);
          expect(y).toBeLessThanOrEqual(y1 + 0.05);
        }
      });
    }
  });
});

describe('collision events', () => {
  it('events.json lists the contacts that started, with bodies, frame, point and normal', async () => {
    const dir = join(tmpDir(), 'ev');
    expect((await cli(['generate', ENV, '--episodes', '1', '--out', dir, '--format', 'frames', '--workers', '0', '--channels', 'rgb'])).code).toBe(0);
    const events = JSON.parse(readFileSync(join(dir, 'episode_000000', 'events.json'), 'utf8'));
    const meta = JSON.parse(readFileSync(join(dir, 'episode_000000', 'metadata.json'), 'utf8'));
    expect(events.collisions.length).toBeGreaterThanOrEqual(1); // thrown objects land on the table or the ground
    const ids = new Set(meta.instances.map((i: { id: number }) => i.id));
    for (const c of events.collisions) {
      expect(ids.has(c.instances[0]) && ids.has(c.instances[1])).toBe(true);
      expect(c.frame).toBeGreaterThanOrEqual(1);
      expect(c.frame).toBeLessThanOrEqual(meta.metadata.num_frames - 1);
      if (c.contact_normal) expect(Math.hypot(...c.contact_normal)).toBeCloseTo(1, 4);
    }
  });
});

describe('several cameras', () => {
  it("each camera's folder has its own metadata.json, at that camera's resolution and pose", async () => {
    const cfg = loadEnv(ENV).config;
    const side = { ...cfg.cameras[0]!, name: 'side', resolution: [48, 32] as [number, number], position: [0.6, -0.6, 0.5] as [number, number, number] };
    const env = validateEnvConfig(JSON.parse(JSON.stringify({ ...cfg, cameras: [cfg.cameras[0], side], randomize: (cfg.randomize ?? []).filter((r) => r.term !== 'camera') })), 'two-cameras.json');
    const dir = join(tmpDir(), 'two');
    await generateDataset(generateOptions(dir, { env, episodes: 1, format: 'frames', channels: ['rgb'], policy: { kind: 'random', noise: 0, epsilon: 0 } }));
    const top = JSON.parse(readFileSync(join(dir, 'episode_000000', 'metadata.json'), 'utf8'));
    const other = JSON.parse(readFileSync(join(dir, 'episode_000000', 'side', 'metadata.json'), 'utf8'));
    expect(top.metadata.resolution).toEqual(cfg.cameras[0]!.resolution);
    expect(other.metadata.resolution).toEqual([48, 32]);
    expect(other.camera.positions[0]).toEqual([0.6, -0.6, 0.5].map((v) => expect.closeTo(v, 5)));
  });
});
