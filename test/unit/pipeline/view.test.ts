import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import { readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { predictEpisode } from '../../../src/pipeline/predict.js';
import { trainWorldModel } from '../../../src/pipeline/train.js';
import { viewDataset, type ViewServer } from '../../../src/pipeline/view.js';
import { ByteLru, type EpisodeSeries, type ViewSummary } from '../../../src/pipeline/view-data.js';
import { depthToRgb, segmentationToRgb } from '../../../src/render/colorize.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';

let root: string;
let ours: string;
let foreign: string;
let episodes: EpisodeData[];
const servers: ViewServer[] = [];

async function open(dir: string): Promise<ViewServer> {
  const s = await viewDataset({ dir });
  servers.push(s);
  return s;
}

async function get(s: ViewServer, path: string): Promise<Response> {
  return fetch(new URL(path, s.url));
}

beforeAll(async () => {
  root = tmpDir('tf-view-');
  ours = join(root, 'ours');
  const env = loadEnv('PushCube-v1', { overrides: ['task.timeLimit=12', 'cameras[top].resolution=[24,20]'] });
  await generateDataset(generateOptions(ours, { env, episodes: 3, codec: 'lossless', channels: ['rgb', 'depth', 'segmentation'], policy: { kind: 'expert', noise: 0.3, epsilon: 0.1 } }));
  episodes = [];
  for await (const ep of readLeRobotEpisodes(ours)) episodes.push(ep);
  // Another tool's dataset: LeRobot's files without trajforge's sidecars.
  foreign = join(root, 'foreign');
  cpSync(ours, foreign, { recursive: true });
  for (const f of ['meta/trajforge.json', 'meta/trajforge_episodes.jsonl', 'meta/trajforge_episodes', '.trajforge-output.json', '.trajforge-run.json']) rmSync(join(foreign, f), { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('trajforge view: the API', () => {
  it('summarises the dataset: episode table from meta/episodes, cameras with their overlays, series, stats, sizes', async () => {
    const s = await open(ours);
    const sum = (await (await get(s, '/api/dataset')).json()) as ViewSummary;
    expect(sum.envId).toBe('PushCube-v1');
    expect(sum.writtenBy).toBe('trajforge');
    expect(sum.episodes.map((e) => [e.index, e.length, e.seed, e.success])).toEqual(episodes.map((e, i) => [i, e.length, e.seed, e.success[e.length - 1] === 1]));
    sum.episodes.forEach((row, i) => expect(row.return).toBeCloseTo(episodes[i]!.rewards.reduce((a, b) => a + b, 0), 3));
    expect(sum.episodes[0]!.task).toBe('Push the red cube onto the green goal.');
    expect(sum.cameras).toEqual([{ name: 'top', videoKey: 'observation.images.top', stored: 'video', width: 24, height: 20, overlays: ['depth', 'segmentation'] }]);
    expect(sum.series.map((x) => [x.feature, x.group])).toEqual([
      ['observation.state', 'state'],
      ['action', 'action'],
      ['next.reward', 'reward'],
      ['next.done', 'other'],
      ['next.terminated', 'other'],
      ['next.truncated', 'other'],
      ['next.success', 'other'],
    ]);
    expect(sum.series[1]!.names).toEqual(['vx', 'vy']);
    const action = sum.stats.find((x) => x.feature === 'action')!;
    expect(action.origin).toBe('stats.json');
    const all = episodes.flatMap((e) => Array.from(e.actions.filter((_, j) => j % 2 === 0)));
    expect(action.stats.min![0]).toBeCloseTo(Math.min(...all), 5);
    expect(action.stats.max![0]).toBeCloseTo(Math.max(...all), 5);
    expect(sum.sizes.total).toBe(sum.sizes.data + sum.sizes.videos + sum.sizes.meta + sum.sizes.other);
    expect(sum.sizes.perCamera.top).toBe(sum.sizes.videos);
    expect(sum.sizes.videos).toBeGreaterThan(0);
  }, 60_000);

  it("serves an episode's series: every state, action and reward dimension, equal to the stored values", async () => {
    const s = await open(ours);
    const series = (await (await get(s, '/api/episodes/1')).json()) as EpisodeSeries;
    const ep = episodes[1]!;
    expect(series.length).toBe(ep.length);
    const state = series.columns.find((c) => c.feature === 'observation.state')!;
    expect(state.values.length).toBe(ep.obsDim);
    for (let t = 0; t < ep.length; t++) for (let j = 0; j < ep.obsDim; j++) expect(state.values[j]![t]).toBe(ep.obs[t * ep.obsDim + j]);
    const reward = series.columns.find((c) => c.feature === 'next.reward')!;
    expect(reward.values[0]).toEqual(Array.from(ep.rewards));
    const action = series.columns.find((c) => c.feature === 'action')!;
    expect(action.values[1]).toEqual(Array.from({ length: ep.length }, (_, t) => ep.actions[t * 2 + 1]));
  }, 60_000);

  it('serves the decoded frames byte for byte, whole or a slice, with their size in headers', async () => {
    const s = await open(ours);
    const ep = episodes[2]!;
    const rgb = ep.frames.find((f) => f.channel === 'rgb')!;
    const whole = await get(s, '/api/episodes/2/frames/top');
    expect(whole.status).toBe(200);
    expect([whole.headers.get('x-width'), whole.headers.get('x-height'), whole.headers.get('x-length'), whole.headers.get('x-count')]).toEqual(['24', '20', String(ep.length), String(ep.length)]);
    expect(Buffer.from(await whole.arrayBuffer()).equals(Buffer.from(rgb.data as Uint8Array))).toBe(true);
    const k = 5;
    const one = await get(s, `/api/episodes/2/frames/top?from=${k}&count=1`);
    const bytes = 24 * 20 * 3;
    expect(Buffer.from(await one.arrayBuffer()).equals(Buffer.from((rgb.data as Uint8Array).subarray(k * bytes, (k + 1) * bytes)))).toBe(true);
  }, 60_000);

  it('false-colours the stored depth and segmentation with the colour maps of trajforge render', async () => {
    const s = await open(ours);
    const ep = episodes[0]!;
    const px = 24 * 20;
    const depth = ep.frames.find((f) => f.channel === 'depth')!.data as Float32Array;
    const seg = ep.frames.find((f) => f.channel === 'segmentation')!.data as Uint16Array;
    const d = new Uint8Array(await (await get(s, '/api/episodes/0/overlay/top/depth')).arrayBuffer());
    const g = new Uint8Array(await (await get(s, '/api/episodes/0/overlay/top/segmentation?from=3&count=2')).arrayBuffer());
    expect(d.length).toBe(ep.length * px * 3);
    for (let t = 0; t < ep.length; t++) expect(Buffer.from(d.subarray(t * px * 3, (t + 1) * px * 3)).equals(Buffer.from(depthToRgb(depth.subarray(t * px, (t + 1) * px))))).toBe(true);
    expect(Buffer.from(g).equals(Buffer.concat([segmentationToRgb(seg.subarray(3 * px, 4 * px)), segmentationToRgb(seg.subarray(4 * px, 5 * px))]))).toBe(true);
  }, 60_000);

  it('answers bad requests with a JSON error the page shows: episode, camera, channel, absurd ranges', async () => {
    const s = await open(ours);
    const cases: [string, number, RegExp][] = [
      ['/api/episodes/3', 400, /episode 3 is out of range: the dataset has 3 episode\(s\)/],
      ['/api/episodes/-1', 400, /episode must be a non-negative integer/],
      ['/api/episodes/1e3', 400, /episode must be a non-negative integer/],
      ['/api/episodes/0/frames/side', 400, /no camera 'side' in the dataset \(cameras: top\)/],
      ['/api/episodes/0/overlay/top/flow', 400, /stores no flow channel \(stored overlays: depth, segmentation\)/],
      ['/api/episodes/0/frames/top?from=99999999999999999999', 400, /from must be an integer from 0 to 11/],
      ['/api/episodes/0/frames/top?from=2&count=100', 400, /count must be an integer from 1 to 10/],
      ['/api/episodes/0/frames/top?count=-5', 400, /count must be an integer/],
      ['/api/nothing', 404, /no such page or API/],
    ];
    for (const [path, status, message] of cases) {
      const r = await get(s, path);
      expect(r.status, path).toBe(status);
      expect(((await r.json()) as { error: { message: string } }).error.message, path).toMatch(message);
    }
  }, 60_000);

  it("reads another tool's LeRobot dataset: no seeds, success and return from the data columns, stats.json as stored", async () => {
    const s = await open(foreign);
    const sum = (await (await get(s, '/api/dataset')).json()) as ViewSummary;
    expect(sum.writtenBy).toBe('other');
    expect(sum.episodes.map((e) => [e.length, e.seed, e.success])).toEqual(episodes.map((e) => [e.length, null, e.success.some((x) => x === 1)]));
    sum.episodes.forEach((row, i) => expect(row.return).toBeCloseTo(episodes[i]!.rewards.reduce((a, b) => a + b, 0), 3));
    expect(sum.cameras.map((c) => [c.name, c.videoKey])).toEqual([['top', 'observation.images.top']]);
    const rgb = episodes[1]!.frames.find((f) => f.channel === 'rgb')!;
    const frames = new Uint8Array(await (await get(s, '/api/episodes/1/frames/top')).arrayBuffer());
    expect(Buffer.from(frames).equals(Buffer.from(rgb.data as Uint8Array))).toBe(true);
  }, 60_000);

  it('computes the stats stats.json lacks from the data columns', async () => {
    const dir = join(root, 'nostats');
    cpSync(foreign, dir, { recursive: true });
    writeFileSync(join(dir, 'meta', 'stats.json'), '{}');
    const s = await open(dir);
    const sum = (await (await get(s, '/api/dataset')).json()) as ViewSummary;
    const reward = sum.stats.find((x) => x.feature === 'next.reward')!;
    const all = episodes.flatMap((e) => Array.from(e.rewards));
    expect(reward.origin).toBe('computed');
    expect(reward.count).toBe(all.length);
    expect(reward.stats.min![0]).toBeCloseTo(Math.min(...all), 5);
    expect(reward.stats.mean![0]).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 5);
  }, 60_000);

  it('refuses a folder that is not a LeRobot dataset before serving, naming what is wrong', async () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await expect(viewDataset({ dir: empty })).rejects.toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringMatching(/is not a dataset trajforge can read: no meta\/info.json \(found an empty folder\)/) });
    const broken = join(root, 'broken');
    cpSync(ours, broken, { recursive: true });
    writeFileSync(join(broken, 'meta', 'info.json'), '{"fps": "fast"}');
    await expect(viewDataset({ dir: broken })).rejects.toMatchObject({ code: 'E_DATASET_INVALID' });
  }, 60_000);

  it('a data file damaged while serving answers an error naming it', async () => {
    const dir = join(root, 'damaged');
    cpSync(ours, dir, { recursive: true });
    const s = await open(dir);
    writeFileSync(join(dir, 'data', 'chunk-000', 'file-000.parquet'), 'PAR1 not really');
    const r = await get(s, '/api/episodes/0');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'E_DATASET_INVALID', message: expect.stringMatching(/file-000\.parquet: cannot be read .*damaged or truncated/) });
  }, 60_000);
});

describe('trajforge view --model', () => {
  it('serves truth | open-loop prediction | error with the per-step MSE trajforge predict computes', async () => {
    await trainWorldModel({ dataset: 'ours', out: 'model', kind: 'linear', latent: 8, cwd: root });
    const s = await viewDataset({ dir: 'ours', model: 'model', cwd: root });
    servers.push(s);
    const sum = (await (await get(s, '/api/dataset')).json()) as ViewSummary;
    expect(sum.model).toMatchObject({ camera: 'top', width: 24, height: 20 });
    const r = await get(s, '/api/episodes/1/predict?start=2&horizon=4');
    expect(r.status).toBe(200);
    const frames = new Uint8Array(await r.arrayBuffer());
    const width = 3 * 24 + 4;
    expect([r.headers.get('x-width'), r.headers.get('x-height'), r.headers.get('x-count'), frames.length]).toEqual([String(width), '20', '5', 5 * width * 20 * 3]);
    const mse = r.headers.get('x-mse')!.split(',').map(Number);
    const p = await predictEpisode({ dataset: 'ours', model: 'model', episode: 1, context: 3, horizon: 4, scale: 1, out: 'pred.mp4', cwd: root });
    expect(mse.length).toBe(4);
    mse.forEach((m, i) => expect(m).toBeCloseTo(p.mse[i]!, 5));
    // The first frame's truth panel is the stored frame 2, and its error panel is blank (the prediction starts there).
    const rgb = episodes[1]!.frames.find((f) => f.channel === 'rgb')!.data as Uint8Array;
    for (let y = 0; y < 20; y++) {
      expect(Buffer.from(frames.subarray(y * width * 3, (y * width + 24) * 3)).equals(Buffer.from(rgb.subarray((2 * 480 + y * 24) * 3, (2 * 480 + (y + 1) * 24) * 3)))).toBe(true);
      expect(Array.from(frames.subarray((y * width + 52) * 3, (y * width + 76) * 3)).every((v) => v === 0)).toBe(true);
    }
    // The last step too: its truth is the observation after it, which trajforge keeps beside the
    // video (as trajforge predict reads it).
    const lastStep = await get(s, '/api/episodes/1/predict?start=11&horizon=1');
    expect(lastStep.status).toBe(200);
    const pLast = await predictEpisode({ dataset: 'ours', model: 'model', episode: 1, context: 12, horizon: 1, scale: 1, out: 'pred-last.mp4', cwd: root });
    expect(Number(lastStep.headers.get('x-mse'))).toBeCloseTo(pLast.mse[0]!, 5);
    const bad = await get(s, '/api/episodes/1/predict?start=12');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/start must be an integer from 0 to 11/);
  }, 120_000);
});

describe('trajforge view (CLI)', () => {
  it('refuses a missing or unreadable DIR and bad options with exit 2 before serving', async () => {
    const none = await cli(['view'], root);
    expect([none.code, none.err]).toEqual([2, expect.stringMatching(/error\[E_USAGE\]: missing DIR/)]);
    const absent = await cli(['view', 'no-such-folder'], root);
    expect([absent.code, absent.err]).toEqual([2, expect.stringMatching(/error\[E_DATASET_INVALID\]: \S*no-such-folder: no such folder/)]);
    const port = await cli(['view', 'ours', '--port', '70000'], root);
    expect([port.code, port.err]).toEqual([2, expect.stringMatching(/--port must be at most 65535/)]);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('serves the page shell and the bundled viewer (no CDN: every script and style from the server)', async () => {
    const s = await open(ours);
    const html = await (await get(s, '/')).text();
    expect(html).toMatch(/<script type="module" src="\/app.js">/);
    expect(html).not.toMatch(/https?:\/\//);
    const js = await (await get(s, '/app.js')).text();
    expect(js).toContain('trajforgeView');
    expect(js).not.toMatch(/from\s*["']https?:/);
    const css = await (await get(s, '/app.css')).text();
    expect(css).toContain('.uplot');
  }, 60_000);
});

describe('ByteLru', () => {
  it('keeps the most recently used values within its byte budget and forgets failed loads', async () => {
    const lru = new ByteLru<Uint8Array>(250, (v) => v.byteLength);
    let loads = 0;
    const load = (n: number) => async () => {
      loads++;
      return new Uint8Array(n);
    };
    await lru.get('a', load(100));
    await lru.get('b', load(100));
    await lru.get('a', load(100)); // a is now the most recent
    await lru.get('c', load(100)); // over budget: b goes
    expect([lru.has('a'), lru.has('b'), lru.has('c'), lru.bytes, loads]).toEqual([true, false, true, 200, 3]);
    await expect(lru.get('d', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await Promise.resolve();
    expect(lru.has('d')).toBe(false);
  });
});
