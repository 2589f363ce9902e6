import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset, openDataset } from '../../../src/api/dataset.js';
import { TrajforgeError } from '../../../src/core/errors.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { rejection } from '../../helpers/rejection.js';

let dir: string;
const small = { env: 'PushCube-v1', episodes: 2, workers: 0, policy: { kind: 'expert' as const, noise: 0.3 } };


describe('openDataset', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tf-open-'));
    // One run writing two formats (DIR/lerobot, DIR/dreamer), and one folder per other format.
    await generateDataset({ ...small, out: join(dir, 'both'), format: 'lerobot,dreamer' });
    for (const format of ['dreamer', 'minari', 'rlds', 'frames']) await generateDataset({ ...small, episodes: 1, out: join(dir, format), format, channels: ['rgb'] });
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reads a several-format output through its lerobot/ part: metadata from the dataset's own files", async () => {
    const ds = await openDataset(join(dir, 'both'));
    const lerobot = join(dir, 'both', 'lerobot');
    const meta = datasetMeta(lerobot);
    expect(ds.dir).toBe(lerobot);
    expect(ds.info).toMatchObject({
      dir: lerobot,
      format: 'lerobot',
      codebaseVersion: 'v3.0',
      envId: 'PushCube-v1',
      configHash: meta.configHash,
      fps: 20,
      observationNames: meta.observationNames,
      actionNames: ['vx', 'vy'],
      discrete: false,
      cameras: [{ name: 'top', width: 64, height: 64, channels: ['rgb', 'depth', 'segmentation'] }],
      bodyNames: meta.bodyNames,
      episodes: 2,
    });
    expect(ds.info.frames).toBeGreaterThan(2);
    await ds.close();
  });

  it('episodes() yields what the LeRobot reader reads, with their index and a channel() accessor', async () => {
    const lerobot = join(dir, 'both', 'lerobot');
    const want: EpisodeData[] = [];
    for await (const ep of readLeRobotEpisodes(lerobot)) want.push(ep);
    const ds = await openDataset(lerobot);
    let i = 0;
    let frames = 0;
    for await (const ep of ds.episodes()) {
      const w = want[i]!;
      expect(ep.index).toBe(i);
      expect([ep.obs, ep.actions, ep.rewards, ep.terminated, ep.truncated, ep.success, ep.finalObs]).toEqual([w.obs, w.actions, w.rewards, w.terminated, w.truncated, w.success, w.finalObs]);
      expect(ep.obs.length).toBe(ep.length * ds.info.observationNames.length);
      expect(ep.actions.length).toBe(ep.length * 2);
      const rgb = ep.channel('top');
      expect(rgb).toMatchObject({ camera: 'top', channel: 'rgb', width: 64, height: 64 });
      expect(rgb.data).toBeInstanceOf(Uint8Array);
      expect(rgb.data).toEqual(w.frames.find((f) => f.channel === 'rgb')!.data);
      expect(ep.channel('top', 'depth').data).toBeInstanceOf(Float32Array);
      expect(ep.channel('top', 'segmentation').data.length).toBe(ep.length * 64 * 64);
      const missing = (() => {
        try {
          ep.channel('side');
        } catch (e) {
          return e as TrajforgeError;
        }
      })();
      expect(missing?.code).toBe('E_USAGE');
      expect(missing?.message).toContain('top.rgb, top.depth, top.segmentation');
      frames += ep.length;
      i++;
    }
    expect(i).toBe(2);
    expect(frames).toBe(ds.info.frames);
    await ds.close();
  });

  it("episodes({ channels }) decodes only those; [] none; an unknown channel is E_USAGE", async () => {
    const ds = await openDataset(join(dir, 'both'));
    for await (const ep of ds.episodes({ channels: ['rgb'] })) expect(ep.frames.map((f) => f.channel)).toEqual(['rgb']);
    for await (const ep of ds.episodes({ channels: [] })) {
      expect(ep.frames).toEqual([]);
      expect(() => ep.channel('top')).toThrow(/pass channels to episodes\(\)/);
    }
    expect(() => ds.episodes({ channels: ['colour' as 'rgb'] })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    await ds.close();
  });

  it('close() ends open iterations (their decoders stop) and the handle refuses new ones', async () => {
    const ds = await openDataset(join(dir, 'both'));
    const it1 = ds.episodes();
    const first = await it1.next();
    expect(first.done).toBe(false);
    await ds.close();
    expect(await it1.next()).toEqual({ done: true, value: undefined });
    expect(() => ds.episodes()).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    await ds.close();
  });

  it('a folder of another format trajforge writes is E_DATASET_INVALID naming the format, also without the run record', async () => {
    const names: Record<string, string> = { dreamer: 'DreamerV3', minari: 'Minari', rlds: 'RLDS', frames: 'per-frame' };
    for (const [format, name] of Object.entries(names)) {
      const e = await rejection(openDataset(join(dir, format)));
      expect(e.code).toBe('E_DATASET_INVALID');
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(join(dir, format));
      expect(e.message).toContain(name);
      expect(e.message).toContain("format: 'lerobot'");
      // Recognised by its layout alone.
      const copy = join(dir, `${format}-copy`);
      cpSync(join(dir, format), copy, { recursive: true });
      rmSync(join(copy, '.trajforge-run.json'));
      expect((await rejection(openDataset(copy))).message).toContain(name);
    }
    const both = await rejection(openDataset(join(dir, 'both', 'dreamer')));
    expect(both.message).toContain('DreamerV3');
  });

  it('a LeRobot v3 dataset another tool wrote is read by what LeRobot defines: states, actions, rewards, task, rgb video', async () => {
    // trajforge's own files removed: what is left is plain LeRobot v3 (info, tasks, episodes, data, videos).
    const foreign = join(dir, 'foreign');
    cpSync(join(dir, 'both', 'lerobot'), foreign, { recursive: true });
    for (const f of ['meta/trajforge.json', 'meta/trajforge_episodes.jsonl', 'meta/trajforge_episodes']) rmSync(join(foreign, f), { recursive: true });
    const ds = await openDataset(foreign);
    const ours = await openDataset(join(dir, 'both', 'lerobot'));
    expect(ds.info).toMatchObject({
      writtenBy: 'other',
      envId: 'trajforge-sim',
      configHash: '',
      instruction: ours.info.instruction,
      fps: 20,
      actionNames: ['vx', 'vy'],
      cameras: [{ name: 'top', width: 64, height: 64, channels: ['rgb'] }],
      episodes: 2,
      frames: ours.info.frames,
    });
    expect(ds.info.observationNames).toEqual(ours.info.observationNames);
    const want: EpisodeData[] = [];
    for await (const ep of ours.episodes({ channels: ['rgb'] })) want.push(ep);
    let i = 0;
    for await (const ep of ds.episodes()) {
      const w = want[i]!;
      expect(ep.index).toBe(i);
      expect([ep.length, ep.obs, ep.actions, ep.rewards, ep.success]).toEqual([w.length, w.obs, w.actions, w.rewards, w.success]);
      expect(ep.channel('top', 'rgb').data).toEqual(w.frames.find((f) => f.channel === 'rgb')!.data);
      expect([ep.seed, ep.finalObs.length, ep.bodies.length]).toEqual([-1, 0, 0]);
      i++;
    }
    expect(i).toBe(2);
    let frames = 0;
    for await (const ep of ds.episodes({ channels: [] })) frames += ep.frames.length;
    expect(frames).toBe(0);
    await Promise.all([ds.close(), ours.close()]);
  });

  it('no folder, a file, an empty folder, a model folder, a parent of datasets and an unfinished run are each named', async () => {
    const cases: [string, () => string, RegExp][] = [
      ['missing', () => join(dir, 'nope'), /nope: no such folder/],
      ['file', () => join(dir, 'both', 'dreamer', 'dreamer.json'), /is a file, not a dataset folder/],
      ['empty', () => (mkdirSync(join(dir, 'empty')), join(dir, 'empty')), /no meta\/info\.json \(found an empty folder\)/],
      ['model', () => (mkdirSync(join(dir, 'model')), writeFileSync(join(dir, 'model', 'model.json'), '{}'), join(dir, 'model')), /world model folder.*loadWorldModel/],
      ['parent', () => (mkdirSync(join(dir, 'parent')), cpSync(join(dir, 'both', 'lerobot'), join(dir, 'parent', 'run1'), { recursive: true }), join(dir, 'parent')), /holds one: .*run1; open that folder/],
      ['unfinished', () => (mkdirSync(join(dir, 'unfinished', '.trajforge'), { recursive: true }), join(dir, 'unfinished')), /unfinished trajforge run.*resume: true/],
    ];
    for (const [name, make, message] of cases) {
      const e = await rejection(openDataset(make()));
      expect(e.code, name).toBe('E_DATASET_INVALID');
      expect(e.message, name).toMatch(message);
    }
    expect((await rejection(openDataset(''))).code).toBe('E_USAGE');
  });

  it('a damaged dataset fails with E_DATASET_INVALID naming the file', async () => {
    const damaged = join(dir, 'damaged');
    cpSync(join(dir, 'both', 'lerobot'), damaged, { recursive: true });
    writeFileSync(join(damaged, 'meta', 'trajforge.json'), '{"env_id": 3}');
    const e = await rejection(openDataset(damaged));
    expect(e.code).toBe('E_DATASET_INVALID');
    expect(e.message).toContain(join(damaged, 'meta', 'trajforge.json'));
  });
});
