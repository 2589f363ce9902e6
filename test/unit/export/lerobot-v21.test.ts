/**
 * LeRobot v2.1 datasets (LeRobot up to v0.3: one data parquet and one mp4 per episode, JSON-lines
 * metadata), as most datasets on the hub still are: openDataset, view, train, eval, predict and
 * label read them; every value is checked against what the fixture wrote and every frame against an
 * independent ffmpeg decode of the episode's own file.
 */
import { readFileSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset } from '../../../src/dataset/open.js';
import { evaluateWorldModel, predictEpisode, trainWorldModel } from '../../../src/pipeline/index.js';
import { viewDataset, type ViewServer } from '../../../src/pipeline/view.js';
import type { EpisodeSeries, ViewSummary } from '../../../src/pipeline/view-data.js';
import { tmpDir } from '../../helpers/dataset.js';
import { decodeAll, FOREIGN_MOTORS, writeForeignDataset, type ForeignFixture } from '../../helpers/lerobot-foreign.js';
import { rejection } from '../../helpers/rejection.js';
import { writeCentroidModel } from '../../helpers/analytic-model.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { labelVideos } from '../../../src/pipeline/label.js';
import { validateDataset } from '../../../src/pipeline/validate.js';

let root: string;
let fx: ForeignFixture;
let server: ViewServer | undefined;

const episodeVideo = (cam: string, e: number) => join(fx.dir, 'videos', 'chunk-000', `observation.images.${cam}`, `episode_${String(e).padStart(6, '0')}.mp4`);

beforeAll(() => {
  root = tmpDir('tf-lerobot-v21-');
  fx = writeForeignDataset(join(root, 'so100_v21'), { version: 'v2.1', lengths: [7, 9, 8, 6, 7] });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('a LeRobot v2.1 dataset', () => {
  it('opens: its info, tasks, and each episode\'s states, actions and frames (each from its own file) as written', async () => {
    const ds = await openDataset(fx.dir);
    try {
      expect(ds.info).toMatchObject({ writtenBy: 'other', codebaseVersion: 'v2.1', envId: 'so100', fps: 10, episodes: 5, frames: 37, instruction: fx.tasks[0], actionNames: FOREIGN_MOTORS, observationNames: FOREIGN_MOTORS });
      expect(ds.info.cameras.map((c) => [c.name, c.width, c.height])).toEqual(fx.cameras.map((c) => [c.name, c.width, c.height]));
      let e = 0;
      for await (const ep of ds.episodes()) {
        expect(ep.length).toBe(fx.lengths[e]);
        expect(Array.from(ep.obs)).toEqual(fx.state[e]);
        expect(Array.from(ep.actions)).toEqual(fx.action[e]);
        for (const cam of fx.cameras) {
          const want = decodeAll(episodeVideo(cam.name, e));
          expect(Buffer.compare(Buffer.from(ep.channel(cam.name, 'rgb').data), want), `${cam.name} episode ${e}`).toBe(0);
        }
        e++;
      }
      expect(e).toBe(5);
    } finally {
      await ds.close();
    }
  }, 60_000);

  it('shows in view: the table, each episode\'s series and its frames', async () => {
    server = await viewDataset({ dir: fx.dir });
    const get = (path: string) => fetch(new URL(path, server!.url));
    const sum = (await (await get('/api/dataset')).json()) as ViewSummary;
    expect(sum).toMatchObject({ writtenBy: 'other', fps: 10, frames: 37 });
    for (const e of [3, 1]) {
      const s = (await (await get(`/api/episodes/${e}`)).json()) as EpisodeSeries;
      expect(s.length).toBe(fx.lengths[e]);
      const action = s.columns.find((c) => c.feature === 'action')!;
      for (let j = 0; j < 6; j++) expect(action.values[j]).toEqual(fx.action[e]!.filter((_, i) => i % 6 === j));
      const cam = fx.cameras[1]!;
      const r = await get(`/api/episodes/${e}/frames/${cam.name}`);
      expect(r.status).toBe(200);
      expect(Buffer.compare(Buffer.from(await r.arrayBuffer()), decodeAll(episodeVideo(cam.name, e)))).toBe(0);
    }
  }, 60_000);

  it('trains a world model, which eval and predict then read it with', async () => {
    const s = await trainWorldModel({ dataset: fx.dir, out: 'v21-model', kind: 'conv', steps: 2, batch: 2, rollout: 2, depth: 4, latent: 24, hidden: 16, learnedKeypoints: 2, threads: 1, cwd: root });
    expect(s.card.dataset).toMatchObject({ env_id: 'so100', episodes: 5, frames: 37 });
    expect(s.card.action.names).toEqual(FOREIGN_MOTORS);
    const e = await evaluateWorldModel({ model: 'v21-model', dataset: fx.dir, horizon: 3, cwd: root });
    expect(JSON.stringify(JSON.parse(readFileSync(join(e.dir, 'report.json'), 'utf8')).inverse_r2)).toContain('shoulder_pan');
    const p = await predictEpisode({ model: 'v21-model', dataset: fx.dir, episode: 1, cwd: root, out: 'v21-predict.mp4' });
    expect(p).toMatchObject({ episode: 1, contextFrame: 0, horizon: 8 });
  }, 120_000);

  it('labels: one episode per source episode, each read from its own video file, and the result validates', async () => {
    const model = join(root, 'centroid-model');
    writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 8, residualScale: 0.05 });
    const s = await labelVideos({ videos: fx.dir, camera: 'wrist', model, out: join(root, 'v21-labelled') });
    expect(s.sources).toBe(5);
    expect(s.episodes).toBe(5);
    const eps: EpisodeData[] = [];
    for await (const ep of readLeRobotEpisodes(join(root, 'v21-labelled'))) eps.push(ep);
    // 10 fps episodes resampled to the environment's 20 fps: about twice the frames, from frame 0 of each episode's file.
    expect(eps.map((ep) => ep.provenance?.fromFrame)).toEqual([0, 0, 0, 0, 0]);
    eps.forEach((ep, e) => expect(Math.abs(ep.length + 1 - 2 * fx.lengths[e]!)).toBeLessThanOrEqual(1));
    expect((await validateDataset({ dir: join(root, 'v21-labelled') })).valid).toBe(true);
  }, 60_000);

  it('damaged: a bad episodes.jsonl line, a missing episode file, a path template leaving the folder: coded errors naming them', async () => {
    const copy = (name: string) => {
      const dir = join(root, name);
      cpSync(fx.dir, dir, { recursive: true });
      return dir;
    };
    const read = async (dir: string) => {
      const ds = await openDataset(dir);
      try {
        for await (const ep of ds.episodes()) void ep;
      } finally {
        await ds.close();
      }
    };
    const badLine = copy('bad-line');
    const lines = readFileSync(join(badLine, 'meta', 'episodes.jsonl'), 'utf8').split('\n');
    lines[2] = JSON.stringify({ episode_index: 2, tasks: [], length: 'eight' });
    writeFileSync(join(badLine, 'meta', 'episodes.jsonl'), lines.join('\n'));
    expect(await rejection(read(badLine))).toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringMatching(/episodes\.jsonl:3: .*length/) });

    const missing = copy('missing-data');
    renameSync(join(missing, 'data', 'chunk-000', 'episode_000002.parquet'), join(missing, 'episode_000002.parquet.moved'));
    expect(await rejection(read(missing))).toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringContaining('episode_000002.parquet') });

    const escaping = copy('escaping');
    const info = JSON.parse(readFileSync(join(escaping, 'meta', 'info.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(escaping, 'meta', 'info.json'), JSON.stringify({ ...info, video_path: '../../{video_key}/episode_{episode_index:06d}.mp4' }));
    expect(await rejection(read(escaping))).toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringContaining('leads outside the dataset') });
    rmSync(escaping, { recursive: true });
  }, 60_000);
});
