/**
 * trajforge view against hostile or careless requests and a big episode: every bad parameter is a
 * 400 naming what was expected, a frames request never holds more than one window of frames, the
 * decoded-frame cache stays within its budget, and a dataset whose metadata lacks a video's start
 * time is refused rather than shown with another episode's frames.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { viewDataset, type ViewServer } from '../../../src/pipeline/view.js';
import { ViewData, Limiter } from '../../../src/pipeline/view-data.js';
import { tmpDir } from '../../helpers/dataset.js';
import { decodeAll, writeForeignDataset, type ForeignFixture } from '../../helpers/lerobot-foreign.js';

let fx: ForeignFixture;
let server: ViewServer;
const FRONT = 48 * 32 * 3;

/** A raw request (fetch normalises some paths), answered as status and body. */
function raw(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host: `127.0.0.1:${server.port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

beforeAll(async () => {
  fx = writeForeignDataset(join(tmpDir('tf-view-hostile-'), 'ds'), { lengths: [11, 9] });
  // A cache of 12 front frames: windows of 3 frames (a quarter of it).
  server = await viewDataset({ dir: fx.dir, cacheBytes: 12 * FRONT });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('trajforge view: hostile parameters', () => {
  it.each([
    ['/api/episodes/-0', /episode must be a non-negative integer, got '-0'/],
    ['/api/episodes/1e309', /episode must be a non-negative integer, got '1e309'/],
    ['/api/episodes/0x10', /episode must be a non-negative integer, got '0x10'/],
    ['/api/episodes/%201', /episode must be a non-negative integer, got ' 1'/],
    ['/api/episodes/1.0', /episode must be a non-negative integer, got '1.0'/],
    ['/api/episodes/2', /episode 2 is out of range: the dataset has 2 episode\(s\) \(0..1\)/],
    ['/api/episodes/0/frames/front?from=-0', /from must be an integer from 0 to 10, got '-0'/],
    ['/api/episodes/0/frames/front?from=%2B1', /from must be an integer from 0 to 10, got '\+1'/],
    ['/api/episodes/0/frames/front?from=%201', /from must be an integer from 0 to 10, got ' 1'/],
    ['/api/episodes/0/frames/front?from=0x1', /from must be an integer from 0 to 10, got '0x1'/],
    ['/api/episodes/0/frames/front?from=1e1', /from must be an integer from 0 to 10, got '1e1'/],
    ['/api/episodes/0/frames/front?from=11', /from must be an integer from 0 to 10, got '11'/],
    ['/api/episodes/0/frames/front?count=0', /count must be an integer from 1 to 11, got '0'/],
    ['/api/episodes/0/frames/front?count=1e309', /count must be an integer from 1 to 11, got '1e309'/],
    ['/api/episodes/0/frames/front?count=2.5', /count must be an integer from 1 to 11, got '2.5'/],
    ['/api/episodes/0/frames/%3Cimg%20src%3Dx%3E', /no camera '<img src=x>' in the dataset \(cameras: front, wrist\)/],
    ['/api/episodes/0/frames/__proto__', /no camera '__proto__'/],
    ['/api/episodes/0/overlay/front/__proto__', /camera 'front' stores no __proto__ channel \(stored overlays: none\)/],
    ['/api/episodes/0/overlay/front/%00', /camera 'front' stores no \\u0000 channel/],
    ['/api/episodes/0/overlay/front/toString?from=-1', /camera 'front' stores no toString channel/],
  ])('%s is a 400 naming what is expected', async (path, message) => {
    const r = await raw(path);
    expect(r.status).toBe(400);
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
    const body = JSON.parse(r.body.toString()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('E_USAGE');
    expect(body.error.message).toMatch(message);
  });

  it('names an unknown camera briefly however long it is, and keeps an encoded slash inside its segment', async () => {
    const long = await raw(`/api/episodes/0/frames/${'x'.repeat(5000)}`);
    expect(long.status).toBe(400);
    expect(long.body.length).toBeLessThan(300);
    const slash = await raw('/api/episodes/0/frames/front%2F..%2F..');
    expect(slash.status).toBe(400);
    expect(JSON.parse(slash.body.toString()).error.message).toMatch(/no camera 'front\/..\/..'/);
    const badEscape = await raw('/api/episodes/0/frames/%E0%A4%A');
    expect(badEscape.status).toBe(400);
    expect(JSON.parse(badEscape.body.toString()).error.message).toMatch(/malformed URL path .*not UTF-8/);
  });
});

describe('trajforge view: memory', () => {
  it('answers a request for every frame with one window (x-count), and the parts put together equal an independent decode', async () => {
    const file = join(fx.dir, 'videos', 'observation.images.front', 'chunk-000', 'file-000.mp4');
    const all = decodeAll(file);
    for (const e of [1, 0]) {
      const start = e === 0 ? 0 : fx.lengths[0]!;
      const whole = await raw(`/api/episodes/${e}/frames/front`);
      expect(whole.status).toBe(200);
      expect([whole.headers['x-from'], whole.headers['x-count'], whole.headers['x-max-count'], whole.headers['x-length']]).toEqual(['0', '3', '3', String(fx.lengths[e])]);
      expect(whole.body.length).toBe(3 * FRONT);
      // The page's way: ask for the rest, advance by what came; a request across two windows is answered whole.
      const parts: Buffer[] = [];
      let from = 0;
      let asked = 0;
      while (from < fx.lengths[e]!) {
        const r = await raw(`/api/episodes/${e}/frames/front?from=${from}&count=${fx.lengths[e]! - from}`);
        expect(r.status).toBe(200);
        expect(Number(r.headers['x-from'])).toBe(from);
        parts.push(r.body);
        from += Number(r.headers['x-count']);
        asked++;
      }
      expect(asked).toBe(Math.ceil(fx.lengths[e]! / 3));
      expect(Buffer.compare(Buffer.concat(parts), all.subarray(start * FRONT, (start + fx.lengths[e]!) * FRONT))).toBe(0);
      const across = await raw(`/api/episodes/${e}/frames/front?from=2&count=3`);
      expect(across.headers['x-count']).toBe('3');
      expect(Buffer.compare(across.body, all.subarray((start + 2) * FRONT, (start + 5) * FRONT))).toBe(0);
    }
  }, 60_000);

  it('keeps the decoded frames within the cache budget while every window of both episodes is read', async () => {
    const data = await ViewData.open(fx.dir, { cacheBytes: 12 * FRONT });
    expect(data.framesPerWindow('front')).toBe(3);
    let peak = 0;
    for (let round = 0; round < 2; round++) {
      for (const e of [0, 1]) {
        for (let from = 0; from < fx.lengths[e]!; from += 3) {
          const r = await data.frames(e, 'front', from, 100);
          expect(r.count).toBe(Math.min(3, fx.lengths[e]! - from));
          peak = Math.max(peak, data.cachedBytes);
        }
      }
    }
    // At most the budget, plus the window just loaded (never evicted while it is being answered).
    expect(peak).toBeLessThanOrEqual(12 * FRONT + 3 * FRONT);
    expect(peak).toBeGreaterThan(0);
  }, 60_000);

  it('runs at most the given number of tasks at once', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const task = async (v: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return v;
    };
    expect(await Promise.all([1, 2, 3, 4, 5].map((v) => limiter.run(() => task(v))))).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    await expect(limiter.run(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await limiter.run(() => task(6))).toBe(6);
  });
});

describe('trajforge view: metadata a video cannot be placed by', () => {
  it("refuses frames of an episode whose meta/episodes lacks the video's from_timestamp, instead of showing the file's first frames", async () => {
    const bad = writeForeignDataset(join(tmpDir('tf-view-nots-'), 'ds'), { cameras: [{ name: 'front', width: 48, height: 32, codec: 'h264' }], omitEpisodeColumns: ['videos/observation.images.front/from_timestamp'] });
    const s = await viewDataset({ dir: bad.dir });
    try {
      const r = await fetch(new URL('/api/episodes/1/frames/front', s.url));
      expect(r.status).toBe(400);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('E_DATASET_INVALID');
      expect(body.error.message).toMatch(/episode 1 has videos\/observation\.images\.front\/from_timestamp null; expected the episode's start time in its video/);
    } finally {
      await s.close();
    }
  }, 60_000);
});
