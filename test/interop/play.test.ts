/**
 * `trajforge play` in a real browser (Debian's Chromium through playwright-core): the page builds
 * PushCube-v1 from the served config, arrow keys move the pusher the way they say, an episode
 * driven in the page is recorded, validates, and re-simulates in Node to the same states, and the
 * 256x256 canvas keeps up with the display. Screenshots go to test-artifacts/browser/play-*.png.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEnvironments, loadEnv } from '../../src/config/load.js';
import { observationNames } from '../../src/config/names.js';
import type { EpisodeData } from '../../src/dataset/episode.js';
import { replayEpisode } from '../../src/episode/replay.js';
import { datasetMeta, readLeRobotEpisodes } from '../../src/export/lerobot/episodes.js';
import { playEnvironment, type Playing } from '../../src/pipeline/play.js';
import { validateDataset } from '../../src/pipeline/validate.js';
import { Renderer } from '../../src/render/renderer.js';
import { createEnv } from '../../src/sim/env.js';
import { tmpDir } from '../helpers/dataset.js';
import type { PlayState } from '../../src/web/play/main.js';
import { artifactPath, launchBrowser } from './browser.js';

// The page's own type (a type-only import: nothing of the page runs in Node).
type State = PlayState;

let root: string;
let browser: Browser;
let playing: Playing;
let page: Page;
const env = loadEnv('PushCube-v1');
const names = observationNames(env.config);
const PX = names.indexOf('pusher.x');
const PY = names.indexOf('pusher.y');

const state = () => page.evaluate(() => window.trajforgePlay!.state()) as Promise<State>;

/** Holds a real key (keyboard events through Chromium) for `ms` and returns the pusher's move. */
async function hold(key: string, ms: number): Promise<[number, number]> {
  const before = await state();
  await page.keyboard.down(key);
  await page.waitForTimeout(ms);
  await page.keyboard.up(key);
  const after = await state();
  expect(after.seed).toBe(before.seed); // still the same episode
  return [after.obs[PX]! - before.obs[PX]!, after.obs[PY]! - before.obs[PY]!];
}

beforeAll(async () => {
  root = tmpDir('tf-play-browser-');
  browser = await launchBrowser();
  playing = await playEnvironment({ env: 'PushCube-v1', record: 'demos', seed: 11, size: 256, cwd: root });
  page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(playing.url);
  await page.evaluate(() => window.trajforgePlay!.ready);
  expect(errors).toEqual([]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await playing?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('trajforge play in Chromium', () => {
  it('shows the environment, its readouts and the key map', async () => {
    expect(await page.locator('h1').textContent()).toBe('PushCube-v1');
    expect(await page.getByTestId('help').textContent()).toMatch(/← →vx: -1 \/ 1 while held/);
    expect(await page.getByTestId('record-status').textContent()).toMatch(/recording into .*demos: 0 episode/);
    const s = await state();
    expect([s.width, s.height, s.seed]).toEqual([256, 256, 11]);
    // The canvas shows the scene, not a blank: many distinct colours.
    const colours = await page.evaluate(() => {
      const c = document.querySelector('canvas')!;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    });
    expect(colours).toBeGreaterThan(50);
    await page.screenshot({ path: artifactPath('play-start.png') });
  });

  it('moves the pusher the way the keys say: → +x, ↑ +y, ← -x', async () => {
    await page.keyboard.press('KeyR'); // a fresh episode: 5 s to go
    await page.waitForTimeout(100);
    const [rx, ry] = await hold('ArrowRight', 400);
    const [ux, uy] = await hold('ArrowUp', 400);
    const [lx, ly] = await hold('ArrowLeft', 400);
    // 0.3 m/s for about 0.4 s, give or take a frame at either end.
    expect(rx).toBeGreaterThan(0.06);
    expect(Math.abs(ry)).toBeLessThan(0.01);
    expect(uy).toBeGreaterThan(0.06);
    expect(Math.abs(ux)).toBeLessThan(0.01);
    expect(lx).toBeLessThan(-0.06);
    expect(Math.abs(ly)).toBeLessThan(0.01);
    // The test hook holds a key through the same controller.
    const before = await state();
    await page.evaluate(() => window.trajforgePlay!.press('ArrowDown', 400));
    expect((await state()).obs[PY]! - before.obs[PY]!).toBeLessThan(-0.06);
    await page.screenshot({ path: artifactPath('play-after-keys.png') });
  }, 30_000);

  it('pauses and resumes with P', async () => {
    await page.keyboard.press('KeyP');
    const a = await state();
    await page.waitForTimeout(300);
    const b = await state();
    expect(b.step).toBe(a.step);
    await page.keyboard.press('KeyP');
    await page.waitForTimeout(300);
    expect((await state()).step).toBeGreaterThan(b.step);
  });

  it('runs at a quarter of the control rate in slow motion (M) and back', async () => {
    await page.keyboard.press('KeyR');
    await page.keyboard.press('KeyM');
    await page.waitForTimeout(2200); // a whole one-second measuring window in slow motion
    const slow = await state();
    await page.keyboard.press('KeyM');
    expect(slow.stepsPerSecond).toBeGreaterThan(3);
    expect(slow.stepsPerSecond).toBeLessThan(7.5);
  }, 15_000);

  it('draws the 256x256 canvas at 30 frames per second or more', async () => {
    await page.waitForTimeout(2500);
    const s = await state();
    console.log(`play PushCube-v1 256x256 in headless Chromium: ${s.fps.toFixed(1)} canvas fps, renderer alone ${s.renderFps.toFixed(0)} fps, ${s.stepsPerSecond.toFixed(1)} steps/s (control rate ${Math.round(1 / (env.config.world.timestep * env.config.world.substeps))})`);
    expect(s.fps).toBeGreaterThanOrEqual(30);
    expect(s.stepsPerSecond).toBeGreaterThan(15);
  }, 15_000);

  it('records an episode driven in the page; it validates and re-simulates in Node to the same states', async () => {
    // Drive for a while; the episode ends at its time limit (100 steps, 5 s) and is saved.
    await page.keyboard.down('ArrowUp');
    await page.waitForTimeout(600);
    await page.keyboard.up('ArrowUp');
    await page.waitForFunction(() => window.trajforgePlay!.state().episodesRecorded >= 1, undefined, { timeout: 30_000 });
    const s = await state();
    expect(s.lastSave).toMatchObject({ ok: true });
    expect(await page.getByTestId('record-status').textContent()).toMatch(/1 episode\(s\) · saved episode 0 \(seed 11/);
    await page.screenshot({ path: artifactPath('play-recorded.png') });
    await page.getByTestId('finish').click();
    await page.waitForFunction(() => document.querySelector('[data-testid="record-status"]')!.textContent!.startsWith('recording finished'), undefined, { timeout: 30_000 });
    await page.screenshot({ path: artifactPath('play-finished.png') });

    const dir = join(root, 'demos');
    expect(await validateDataset({ dir })).toMatchObject({ valid: true, problems: [] });
    expect(datasetMeta(dir).source).toEqual({ kind: 'teleop' });
    const eps: EpisodeData[] = [];
    for await (const ep of readLeRobotEpisodes(dir, { channels: [] })) eps.push(ep);
    expect(eps.length).toBeGreaterThanOrEqual(1);
    expect(eps[0]!.seed).toBe(11);
    // The person's keys are in the actions: some steps drove +y.
    const A = eps[0]!.actionDim;
    expect(Array.from({ length: eps[0]!.length }, (_, t) => eps[0]!.actions[t * A + 1]).some((v) => v === 1)).toBe(true);
    const node = await createEnv(env);
    for (const ep of eps) {
      const r = await replayEpisode(node, new Renderer(), ep, []);
      expect([r.maxDeviation, r.firstDivergence]).toEqual([0, null]);
    }
    node.close();
  }, 60_000);

  it('draws at the size the person picks, keeping the camera aspect ratio', async () => {
    await page.getByTestId('size').selectOption('128');
    await page.waitForFunction(() => window.trajforgePlay!.state().width === 128);
    const s = await state();
    expect([s.width, s.height]).toEqual([128, 128]);
    expect(await page.evaluate(() => [document.querySelector('canvas')!.width, document.querySelector('canvas')!.height])).toEqual([128, 128]);
    await page.screenshot({ path: artifactPath('play-128.png') });
  });

  it('plays every shipped environment: the page loads, draws and steps under its default key map', async () => {
    for (const { id } of listEnvironments()) {
      const other = await playEnvironment({ env: id, cwd: root });
      const p = await browser.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      try {
        await p.goto(other.url);
        await p.evaluate(() => window.trajforgePlay!.ready);
        await p.keyboard.down('ArrowRight');
        await p.waitForTimeout(300);
        const s = (await p.evaluate(() => window.trajforgePlay!.state())) as State & { action: number[] };
        await p.keyboard.up('ArrowRight');
        expect(s.step, id).toBeGreaterThan(0);
        // The first dimension's positive key (an environment without actuators runs on its own).
        if (loadEnv(id).config.actions.actuators.length > 0) expect(s.action[0], id).toBeGreaterThan(0);
        expect(await p.getByTestId('help').textContent(), id).toMatch(/reset/);
        await p.screenshot({ path: artifactPath(`play-env-${id}.png`) });
        expect(errors, id).toEqual([]);
      } finally {
        await p.close();
        await other.close();
      }
    }
  }, 60_000);

  it('shows a clear error panel instead of a blank page when the session cannot load', async () => {
    const other = await browser.newPage();
    await other.route('**/api/play', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ error: { code: 'E_INTERNAL', message: 'the environment could not be built' } }) }));
    await other.goto(playing.url);
    await expect(other.evaluate(() => window.trajforgePlay!.ready)).rejects.toThrow();
    expect(await other.getByTestId('error').textContent()).toBe('E_INTERNAL: the environment could not be built');
    await other.screenshot({ path: artifactPath('play-error.png') });
    await other.close();
  });
});
