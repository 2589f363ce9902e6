/**
 * `trajforge view` in a real browser (Debian's Chromium through playwright-core): the page lists
 * the episodes, frame k on the canvas is the decoded frame k byte for byte, the plot cursor
 * follows the player and a click on a plot seeks it, an overlay shows the stored channel in
 * `trajforge render`'s colours, a damaged dataset shows the error panel. Screenshots go to
 * test-artifacts/browser/view-*.png. Also measured: opening a 300-episode dataset and seeking.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/load.js';
import type { EpisodeData } from '../../src/dataset/episode.js';
import { readLeRobotEpisodes } from '../../src/export/lerobot/episodes.js';
import { generateDataset } from '../../src/pipeline/generate.js';
import { trainWorldModel } from '../../src/pipeline/train.js';
import { viewDataset, type ViewServer } from '../../src/pipeline/view.js';
import { depthToRgb } from '../../src/render/colorize.js';
import { tmpDir } from '../helpers/dataset.js';
import { generateOptions } from '../helpers/generate.js';
import { decodeAll, writeForeignDataset } from '../helpers/lerobot-foreign.js';
import { artifactPath, launchBrowser } from './browser.js';

const W = 32;
const H = 24;
let root: string;
let small: string;
let episodes: EpisodeData[];
let browser: Browser;
const servers: ViewServer[] = [];

async function serve(dir: string): Promise<ViewServer> {
  const s = await viewDataset({ dir });
  servers.push(s);
  return s;
}

/** The canvas's pixels as rgb24 (alpha dropped). */
async function canvasRgb(page: Page, testid: string): Promise<Uint8Array> {
  const rgba = await page.evaluate((id) => {
    const c = document.querySelector<HTMLCanvasElement>(`[data-testid="${id}"]`)!;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  }, testid);
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0; i < rgba.length / 4; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = rgba[i * 4 + c]!;
  return out;
}

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  return page;
}

type ViewState = { episode: number; frame: number; cursorFrame: number; overlays: string[] };
const state = (page: Page) => page.evaluate(() => window.trajforgeView.state()) as Promise<ViewState>;

beforeAll(async () => {
  root = tmpDir('tf-view-browser-');
  small = join(root, 'small');
  const env = loadEnv('PushCube-v1', { overrides: ['task.timeLimit=30', `cameras[top].resolution=[${W},${H}]`] });
  await generateDataset(generateOptions(small, { env, episodes: 4, codec: 'lossless', channels: ['rgb', 'depth', 'segmentation'], policy: { kind: 'expert', noise: 0.3, epsilon: 0.1 } }));
  episodes = [];
  for await (const ep of readLeRobotEpisodes(small)) episodes.push(ep);
  browser = await launchBrowser();
}, 300_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  await browser?.close();
});

describe('trajforge view in Chromium', () => {
  it('lists the episodes, shows frame k after a seek, moves the plot cursor, and a plot click seeks', async () => {
    const s = await serve(small);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    const rows = await page.locator('[data-testid^="episode-row-"]').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.index));
    expect(rows).toEqual(['0', '1', '2', '3']);
    const lengths = await page.locator('[data-testid^="episode-row-"] td:nth-child(2)').allTextContents();
    expect(lengths).toEqual(episodes.map((e) => String(e.length)));

    await page.evaluate(() => window.trajforgeView.select(2));
    const ep = episodes[2]!;
    const rgb = ep.frames.find((f) => f.channel === 'rgb')!.data as Uint8Array;
    const bytes = W * H * 3;
    for (const k of [0, 7, ep.length - 1]) {
      await page.evaluate((f) => window.trajforgeView.seek(f), k);
      expect(Buffer.from(await canvasRgb(page, 'canvas-top')).equals(Buffer.from(rgb.subarray(k * bytes, (k + 1) * bytes))), `frame ${k}`).toBe(true);
      expect(await state(page)).toMatchObject({ episode: 2, frame: k, cursorFrame: k });
      expect(await page.getByTestId('frame-counter').textContent()).toContain(`${k} / ${ep.length - 1}`);
    }
    // The legends read the player's frame: the reward legend shows frame 7's reward.
    await page.evaluate(() => window.trajforgeView.seek(7));
    const legend = await page.locator('[data-testid="plot-reward"] .u-legend .u-series').nth(1).locator('.u-value').textContent();
    expect(Number(legend)).toBeCloseTo(ep.rewards[7]!, 3);
    // The keyboard steps the player too.
    await page.evaluate(() => window.trajforgeView.seek(3));
    await page.keyboard.press('ArrowRight');
    expect((await state(page)).frame).toBe(4);

    // A click on the reward plot at 3/4 of its width seeks there.
    const area = page.getByTestId('plot-area-reward');
    const box = (await area.boundingBox())!;
    await area.click({ position: { x: box.width * 0.75, y: box.height / 2 } });
    const after = await state(page);
    expect(after.frame).toBeGreaterThan(Math.floor((ep.length - 1) * 0.6));
    expect(after.frame).toBeLessThan(Math.ceil((ep.length - 1) * 0.9));
    expect(after.cursorFrame).toBe(after.frame);
    expect(Buffer.from(await canvasRgb(page, 'canvas-top')).equals(Buffer.from(rgb.subarray(after.frame * bytes, (after.frame + 1) * bytes)))).toBe(true);
    await page.screenshot({ path: artifactPath('view-episode.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('toggles the depth overlay: blended over rgb, and beside it in the colours of trajforge render', async () => {
    const s = await serve(small);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    const k = 5;
    await page.evaluate((f) => window.trajforgeView.seek(f), k);
    const plain = await canvasRgb(page, 'canvas-top');
    await page.getByTestId('overlay-top-depth').check();
    await expect.poll(async () => (await state(page)).overlays).toEqual(['top.depth']);
    const blended = await canvasRgb(page, 'canvas-top');
    expect(Buffer.from(blended).equals(Buffer.from(plain))).toBe(false);
    await page.getByTestId('overlay-side').check();
    const px = W * H;
    const depth = episodes[0]!.frames.find((f) => f.channel === 'depth')!.data as Float32Array;
    expect(Buffer.from(await canvasRgb(page, 'overlay-canvas-top-depth')).equals(Buffer.from(depthToRgb(depth.subarray(k * px, (k + 1) * px))))).toBe(true);
    expect(Buffer.from(await canvasRgb(page, 'canvas-top')).equals(Buffer.from(plain))).toBe(true);
    await page.screenshot({ path: artifactPath('view-overlay.png'), fullPage: true });
    await page.getByTestId('overlay-top-depth').uncheck();
    await expect.poll(async () => (await state(page)).overlays).toEqual([]);
    await page.close();
  }, 120_000);

  it('sorts and filters the episode table', async () => {
    const s = await serve(small);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    await page.getByTestId('sort-length').click();
    await page.getByTestId('sort-length').click();
    const byLength = await page.locator('[data-testid^="episode-row-"]').evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.index)));
    const expected = episodes.map((e, i) => [e.length, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
    expect(byLength).toEqual(expected);
    await page.getByTestId('filter-success').selectOption('yes');
    const successes = await page.locator('[data-testid^="episode-row-"]').count();
    expect(successes).toBe(episodes.filter((e) => e.success[e.length - 1] === 1).length);
    await page.close();
  }, 120_000);

  it('a dataset damaged after the server started shows the error panel with the reason, not a blank page', async () => {
    const dir = join(root, 'damaged');
    cpSync(small, dir, { recursive: true });
    const s = await serve(dir);
    writeFileSync(join(dir, 'meta', 'stats.json'), '{ truncated');
    const page = await openPage(s.url);
    await page.getByTestId('error').waitFor({ state: 'visible' });
    expect(await page.getByTestId('error-message').textContent()).toMatch(/stats\.json: not valid JSON .*regenerate the dataset or restore the file/);
    await page.screenshot({ path: artifactPath('view-error.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('--model shows truth | open-loop prediction | error at once, and a chosen start frame predicts from there', async () => {
    await trainWorldModel({ dataset: small, out: join(root, 'model'), kind: 'linear', latent: 8 });
    const s = await viewDataset({ dir: small, model: join(root, 'model') });
    servers.push(s);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    const canvas = page.getByTestId('predict-canvas');
    await canvas.waitFor({ state: 'visible' });
    // Three panels side by side at the model's size, and the per-step errors of the rollout.
    const size = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
    expect(size[1]).toBe(H);
    expect(size[0]).toBeGreaterThanOrEqual(3 * W);
    await expect.poll(async () => (await page.getByTestId('predict-mse').textContent()) ?? '').toMatch(/^per-step MSE .*mean [0-9.e-]+; 1: /);
    expect((await canvasRgb(page, 'predict-canvas')).some((v) => v > 0)).toBe(true);
    await page.getByTestId('predict-start').fill('10');
    await page.getByTestId('predict').click();
    await expect.poll(async () => (await state(page)).frame).toBe(10);
    await expect.poll(async () => (await page.getByTestId('predict-mse').textContent()) ?? '').toMatch(/; 11: /);
    await page.screenshot({ path: artifactPath('view-model.png'), fullPage: true });
    await page.close();
  }, 180_000);

  it("another tool's dataset (AV1 and H.264, episodes sharing an mp4) served in windows: every frame on the canvas equals an independent decode", async () => {
    const fx = writeForeignDataset(join(root, 'foreign'), { lengths: [11, 13] });
    const FB = 48 * 32 * 3;
    // Windows of 3 front frames: the page must put each episode together from several answers.
    const s = await viewDataset({ dir: fx.dir, cacheBytes: 12 * FB });
    servers.push(s);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    for (const cam of fx.cameras) {
      const all = decodeAll(join(fx.dir, 'videos', `observation.images.${cam.name}`, 'chunk-000', 'file-000.mp4'));
      const bytes = cam.width * cam.height * 3;
      for (const e of [1, 0]) {
        await page.evaluate((i) => window.trajforgeView.select(i), e);
        const start = e === 0 ? 0 : fx.lengths[0]!;
        for (const k of [0, 4, fx.lengths[e]! - 1]) {
          await page.evaluate((f) => window.trajforgeView.seek(f), k);
          const want = all.subarray((start + k) * bytes, (start + k + 1) * bytes);
          expect(Buffer.from(await canvasRgb(page, `canvas-${cam.name}`)).equals(want), `${cam.name} episode ${e} frame ${k}`).toBe(true);
        }
      }
    }
    // Play at the last frame starts over at once.
    await page.evaluate((f) => window.trajforgeView.seek(f), fx.lengths[0]! - 1);
    await page.getByTestId('play').click();
    expect((await state(page)).frame).toBeLessThanOrEqual(1);
    await page.getByTestId('play').click();
    await page.close();
  }, 120_000);

  it('switching episodes while an older answer is still on its way draws only the episode chosen last', async () => {
    const s = await serve(small);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    // Episode 1's answers arrive late: by then episode 3 is chosen (via 1 and 3 again).
    await page.route(/\/api\/episodes\/1(\/|$)/, async (route) => {
      await new Promise((r) => setTimeout(r, 600));
      await route.continue();
    });
    await page.evaluate(() => {
      void window.trajforgeView.select(3);
      void window.trajforgeView.select(1);
      return window.trajforgeView.select(3);
    });
    await page.waitForTimeout(1200);
    const ep = episodes[3]!;
    const rgb = ep.frames.find((f) => f.channel === 'rgb')!.data as Uint8Array;
    const bytes = W * H * 3;
    expect(await state(page)).toMatchObject({ episode: 3, frame: 0 });
    expect(Buffer.from(await canvasRgb(page, 'canvas-top')).equals(Buffer.from(rgb.subarray(0, bytes)))).toBe(true);
    expect(await page.getByTestId('error').isHidden()).toBe(true);
    await page.evaluate((f) => window.trajforgeView.seek(f), ep.length - 1);
    expect(Buffer.from(await canvasRgb(page, 'canvas-top')).equals(Buffer.from(rgb.subarray((ep.length - 1) * bytes, ep.length * bytes)))).toBe(true);
    expect((await state(page)).cursorFrame).toBe(ep.length - 1);
    await page.close();
  }, 120_000);

  it('opens a 300-episode dataset in under 2 s and seeks within 100 ms', async () => {
    const big = join(root, 'big');
    const env = loadEnv('PushCube-v1', { overrides: ['task.timeLimit=8', 'cameras[top].resolution=[16,16]'] });
    await generateDataset(generateOptions(big, { env, episodes: 300, codec: 'lossless', checkpoint: 50, policy: { kind: 'random', noise: 0, epsilon: 0 } }));
    const t0 = performance.now();
    const s = await serve(big);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    const open = (performance.now() - t0) / 1000;
    expect(await page.locator('[data-testid^="episode-row-"]').count()).toBe(300);
    // A seek inside the episode shown, and a jump to another episode (its frames decoded then).
    const seekMs = await page.evaluate(() => {
      const t = performance.now();
      window.trajforgeView.seek(5);
      return performance.now() - t;
    });
    const switchMs = await page.evaluate(async () => {
      const t = performance.now();
      await window.trajforgeView.select(150);
      window.trajforgeView.seek(3);
      return performance.now() - t;
    });
    console.log(`trajforge view: 300 episodes opened (server + page ready) in ${open.toFixed(2)} s; seek ${seekMs.toFixed(1)} ms; another episode loaded and seeked in ${switchMs.toFixed(0)} ms`);
    await page.screenshot({ path: artifactPath('view-300-episodes.png') });
    expect(open).toBeLessThan(2);
    expect(seekMs).toBeLessThan(100);
    await page.close();
  }, 300_000);

  it('pages a table of more episodes than it shows at once: 500 rows, following the selection, filters over all', async () => {
    const many = join(root, 'many');
    const env = loadEnv('PushCube-v1', { overrides: ['task.timeLimit=2', 'cameras[top].resolution=[8,8]'] });
    await generateDataset(generateOptions(many, { env, episodes: 1100, codec: 'lossless', checkpoint: 200, channels: ['rgb'], policy: { kind: 'random', noise: 0, epsilon: 0 } }));
    const s = await serve(many);
    const page = await openPage(s.url);
    await page.evaluate(() => window.trajforgeView.ready);
    const rows = () => page.locator('[data-testid^="episode-row-"]');
    const count = () => page.getByTestId('episode-count').textContent();
    expect(await rows().count()).toBe(500);
    expect(await count()).toBe('1–500 of 1100');
    await page.getByTestId('rows-forward').click();
    expect(await count()).toBe('501–1000 of 1100');
    expect(await rows().first().getAttribute('data-index')).toBe('500');
    // Selecting an episode on another page brings its page.
    await page.evaluate(() => window.trajforgeView.select(1050));
    expect(await count()).toBe('1001–1100 of 1100');
    expect(await page.getByTestId('episode-row-1050').getAttribute('class')).toContain('selected');
    expect(await page.getByTestId('rows-forward').isDisabled()).toBe(true);
    // The filter searches every episode, not only the page shown.
    await page.getByTestId('filter').fill('107');
    expect(await count()).toMatch(/^\d+ of 1100$/);
    expect(await rows().evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.index))).toEqual(expect.arrayContaining(['107', '1070', '1075']));
    await page.close();
  }, 300_000);
});
