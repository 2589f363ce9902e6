/**
 * trajforge play's server side: the page's session, and the recorder. Episodes produced in Node
 * (as the page produces them: the same env driven by the teleop controller) are posted over
 * HTTP, re-simulated, written as a `teleop` LeRobot dataset that validates and replays to the same
 * states; a tampered state array is refused with nothing written; a killed recording keeps its
 * finished demos and --resume continues it; bad input is refused before anything is written.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import type { ResolvedEnv } from '../../../src/config/parse.js';
import type { EpisodeData } from '../../../src/dataset/episode.js';
import { replayEpisode } from '../../../src/episode/replay.js';
import { simulateEpisode } from '../../../src/episode/simulate.js';
import { datasetMeta, readLeRobotEpisodes } from '../../../src/export/lerobot/episodes.js';
import { playEnvironment, type PlaySession } from '../../../src/pipeline/play.js';
import { TeleopRecorder, type TeleopEpisode } from '../../../src/pipeline/play-recorder.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { TeleopController, keyMapForConfig } from '../../../src/policy/teleop.js';
import { Renderer } from '../../../src/render/renderer.js';
import { createEnv } from '../../../src/sim/env.js';
import { outputNotices } from '../../../src/pipeline/progress.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

/** Short episodes keep the test quick; the page runs the same overrides the server serves. */
const OVERRIDES = ['task.timeLimit=12'];
let root: string;
let env: ResolvedEnv;

/** An episode as the page posts it: the teleop controller holding `keys`, from `seed`. */
async function pageEpisode(seed: number, keys: string[]): Promise<TeleopEpisode> {
  const e = await createEnv(env);
  const c = new TeleopController(keyMapForConfig(env.config));
  for (const k of keys) c.keyDown(k);
  const ep = await simulateEpisode(e, c, new Renderer(), 0, seed, []);
  e.close();
  return { seed, actions: Array.from(ep.actions), obs: [...ep.obs, ...ep.finalObs], rewards: Array.from(ep.rewards), success: ep.success[ep.length - 1] === 1 };
}

async function episodesOf(dir: string): Promise<EpisodeData[]> {
  const out: EpisodeData[] = [];
  for await (const ep of readLeRobotEpisodes(dir, { channels: [] })) out.push(ep);
  return out;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(() => {
  root = tmpDir('tf-play-');
  env = loadEnv('PushCube-v1', { overrides: OVERRIDES });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('trajforge play: the session and the recorder over HTTP', () => {
  it('serves the page and the resolved config; records posted episodes as a teleop dataset that validates and replays identically', async () => {
    const recorded: number[] = [];
    const playing = await playEnvironment({ env: 'PushCube-v1', overrides: OVERRIDES, record: 'demos', seed: 7, size: 128, cwd: root, onEpisode: (e) => recorded.push(e.seed) });
    try {
      expect(playing.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await (await fetch(playing.url)).text();
      expect(page).toContain('<div id="app">');
      const session = (await (await fetch(`${playing.url}api/play`)).json()) as PlaySession;
      expect(session.env.hash).toBe(env.hash);
      expect(session.env.config.task.timeLimit).toBe(12);
      expect([session.size, session.seed, session.recording?.episodes]).toEqual([128, 7, 0]);

      const first = await post(`${playing.url}api/episodes`, await pageEpisode(7, ['ArrowRight']));
      expect(first.status).toBe(200);
      expect(first.json).toMatchObject({ index: 0, seed: 7, length: 12, episodes: 1, nextSeed: 8 });
      // The next episode must carry the next seed: a replayed post of the same one is refused.
      const again = await post(`${playing.url}api/episodes`, await pageEpisode(7, ['ArrowRight']));
      expect(again.status).toBe(400);
      expect((again.json.error as { message: string }).message).toMatch(/next episode has seed 8/);
      expect((await post(`${playing.url}api/episodes`, await pageEpisode(8, ['ArrowUp', 'ArrowLeft']))).status).toBe(200);
      expect(((await (await fetch(`${playing.url}api/play`)).json()) as PlaySession).seed).toBe(9);

      const finished = (await post(`${playing.url}api/finish`, {})).json as { recording: { episodes: number; recorded: number; dir: string } };
      expect(finished.recording).toMatchObject({ episodes: 2, recorded: 2, dir: join(root, 'demos') });
      await expect(playing.finished).resolves.toMatchObject({ envId: 'PushCube-v1' });
    } finally {
      await playing.close();
    }
    expect(recorded).toEqual([7, 8]);

    const dir = join(root, 'demos');
    expect(await validateDataset({ dir })).toMatchObject({ valid: true, problems: [] });
    const meta = datasetMeta(dir);
    expect(meta.source).toEqual({ kind: 'teleop' });
    expect(meta.run).toMatchObject({ seed: 7, episodes: 2, policy: { kind: 'teleop' } });
    const eps = await episodesOf(dir);
    expect(eps.map((e) => [e.seed, e.length])).toEqual([
      [7, 12],
      [8, 12],
    ]);
    // The stored states are the page's, and re-simulating seed + actions reaches them exactly.
    const posted = await pageEpisode(8, ['ArrowUp', 'ArrowLeft']);
    expect(Array.from(eps[1]!.obs)).toEqual(posted.obs.slice(0, 12 * eps[1]!.obsDim).map((v) => Math.fround(v as number)));
    expect(Array.from(eps[1]!.actions.subarray(0, 2))).toEqual([-1, 1]);
    const e = await createEnv(env);
    for (const ep of eps) {
      const r = await replayEpisode(e, new Renderer(), ep, []);
      expect([r.maxDeviation, r.firstDivergence]).toEqual([0, null]);
    }
    e.close();
  }, 120_000);

  it('refuses a tampered state array and a malformed episode, naming what differs; nothing is written', async () => {
    const playing = await playEnvironment({ env: 'PushCube-v1', overrides: OVERRIDES, record: 'tampered', cwd: root });
    try {
      const ep = await pageEpisode(0, ['ArrowDown']);
      const D = ep.obs.length / 13;
      ep.obs[5 * D + 2] = (ep.obs[5 * D + 2] as number) + 1e-3;
      const r = await post(`${playing.url}api/episodes`, ep);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'E_DATASET_INVALID' });
      expect((r.json.error as { message: string }).message).toMatch(/at step 5 observation 2 \(cube\.x\) is .* in Node, .* in the page; nothing was recorded/);
      const short = await post(`${playing.url}api/episodes`, { ...(await pageEpisode(0, [])), actions: [1, 2, 3] });
      expect(short.status).toBe(400);
      expect((short.json.error as { message: string }).message).toMatch(/actions: expected 24 values, found 3/);
      const unfinished = await pageEpisode(0, []);
      const cut = { ...unfinished, rewards: unfinished.rewards.slice(0, 5), actions: unfinished.actions.slice(0, 10), obs: unfinished.obs.slice(0, 6 * D) };
      const r2 = await post(`${playing.url}api/episodes`, cut);
      expect((r2.json.error as { message: string }).message).toMatch(/has 5 steps in the page but does not end there in Node/);
    } finally {
      const s = await playing.close();
      expect(s.recording).toMatchObject({ episodes: 0 });
    }
    // Nothing recorded: the folder the recorder created is gone again.
    expect(existsSync(join(root, 'tampered'))).toBe(false);
  }, 60_000);

  it('keeps the demos of a killed recording and --resume continues it with the next seeds', async () => {
    const dir = join(root, 'killed');
    const posts = join(root, 'posts');
    mkdirSync(posts, { recursive: true });
    writeFileSync(join(posts, 'a.json'), JSON.stringify(await pageEpisode(3, ['ArrowRight', 'ArrowUp'])));
    // A separate process records one episode, says so, and is killed with SIGKILL (no clean-up runs).
    const script = join(root, 'record-and-hang.mts');
    const src = (p: string) => JSON.stringify(new URL(`../../../src/${p}`, import.meta.url).pathname);
    writeFileSync(
      script,
      `import { readFileSync } from 'node:fs';
import { loadEnv } from ${src('config/load.ts')};
import { TeleopRecorder } from ${src('pipeline/play-recorder.ts')};
const rec = await TeleopRecorder.open({ env: loadEnv('PushCube-v1', { overrides: ${JSON.stringify(OVERRIDES)} }), dir: ${JSON.stringify(dir)}, seed: 3 });
await rec.record(JSON.parse(readFileSync(${JSON.stringify(join(posts, 'a.json'))}, 'utf8')));
process.stdout.write('recorded\\n');
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('recorded') && resolve());
      child.on('exit', (code) => reject(new Error(`the recording process ended (${code}) before recording: ${err}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(readdirSync(dir)).toContain('.trajforge');

    // Without --resume the folder is refused, untouched (the dead process's lock is taken over, with a notice).
    const notices: string[] = [];
    await expect(TeleopRecorder.open({ env, dir, seed: 3, onNotice: outputNotices((l) => notices.push(l)) })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
    expect(notices.join('\n')).toMatch(/took over the lock of process \d+/);
    // Another seed is another recording: refused.
    await expect(TeleopRecorder.open({ env, dir, seed: 4, resume: true })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
    const rec = await TeleopRecorder.open({ env, dir, seed: 3, resume: true });
    expect([rec.episodes, rec.nextSeed, rec.resumedFrom]).toEqual([1, 4, 1]);
    await rec.record(await pageEpisode(4, ['ArrowLeft']));
    const s = await rec.close();
    expect(s).toMatchObject({ episodes: 2, recorded: 1, resumedFrom: 1 });
    expect(await validateDataset({ dir })).toMatchObject({ valid: true });
    const eps = await episodesOf(dir);
    expect(eps.map((e) => e.seed)).toEqual([3, 4]);
    expect(Array.from(eps[0]!.actions.subarray(0, 2))).toEqual([1, 1]);
    // A finished recording is not resumed (it would be a second dataset in one folder).
    await expect(TeleopRecorder.open({ env, dir, seed: 3, resume: true })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
  }, 120_000);
});

describe('trajforge play: the CLI', () => {
  it('prints the URL and the key map, records, and on Ctrl-C finalises the recording, prints its summary and exits 0', async () => {
    const script = join(root, 'cli.mts');
    writeFileSync(script, `import { runProcess } from ${JSON.stringify(new URL('../../../src/cli/main.ts', import.meta.url).pathname)};\nprocess.exitCode = await runProcess(process.argv.slice(2));\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'play', 'PushCube-v1', '--set', OVERRIDES[0]!, '--record', join(root, 'cli-demos'), '--seed', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m && out.includes('Ctrl-C')) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`play ended (${code}): ${err}`)));
    });
    expect(out).toMatch(/keys:\n {2}← →\s+vx: -1 \/ 1 while held\n {2}↓ ↑\s+vy: -1 \/ 1 while held/);
    expect((await post(`${url}api/episodes`, await pageEpisode(5, ['ArrowDown']))).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toMatch(/recorded episode 0 \(seed 5, 12 steps/);
    expect(err).toMatch(/SIGINT: finishing/);
    expect(out).toMatch(/recorded 1 episode\(s\) this session \(1 in all, \d+ successful, 12 frames\) -> .*cli-demos/);
    expect(await validateDataset({ dir: join(root, 'cli-demos') })).toMatchObject({ valid: true });
  }, 60_000);
});

describe('trajforge play: bad input', () => {
  it('refuses an unknown environment (E_ENV_NOT_FOUND) and writes nothing', async () => {
    await expect(playEnvironment({ env: 'PushCub-v1', record: 'x', cwd: root })).rejects.toMatchObject({ code: 'E_ENV_NOT_FOUND' });
    expect(existsSync(join(root, 'x'))).toBe(false);
    const r = await cli(['play', 'NoSuchEnv-v9'], root);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[E_ENV_NOT_FOUND\]: unknown environment 'NoSuchEnv-v9'/);
  });

  it('refuses to record into a folder that is not ours, touching nothing', async () => {
    const mine = join(root, 'my-notes');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep me');
    await expect(playEnvironment({ env: 'PushCube-v1', record: 'my-notes', cwd: root })).rejects.toMatchObject({ code: 'E_DATASET_EXISTS' });
    await expect(playEnvironment({ env: 'PushCube-v1', record: 'my-notes', overwrite: true, cwd: root })).rejects.toMatchObject({ code: 'E_OUTPUT_NOT_OURS' });
    await expect(playEnvironment({ env: 'PushCube-v1', record: 'my-notes', resume: true, cwd: root })).rejects.toMatchObject({ code: 'E_OUTPUT_NOT_OURS' });
    expect(readdirSync(mine)).toEqual(['notes.txt']);
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
  });

  it('checks its options before serving: size, seed, port, and --overwrite without --record', async () => {
    await expect(playEnvironment({ env: 'PushCube-v1', size: 4096, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/--size must be at most 1024/) });
    await expect(playEnvironment({ env: 'PushCube-v1', seed: -1, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(playEnvironment({ env: 'PushCube-v1', port: 70000, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(playEnvironment({ env: 'PushCube-v1', overwrite: true, cwd: root })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/give --record/) });
    const r = await cli(['play', 'PushCube-v1', '--record', 'r', '--overwrite', '--resume'], root);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--overwrite and --resume exclude each other/);
    expect(existsSync(join(root, 'r'))).toBe(false);
  });

  it('a session without --record answers a posted episode with a clear error', async () => {
    const playing = await playEnvironment({ env: 'PushCube-v1', cwd: root });
    try {
      const r = await post(`${playing.url}api/episodes`, await pageEpisode(0, []));
      expect(r.status).toBe(400);
      expect((r.json.error as { message: string }).message).toMatch(/does not record; start trajforge play with --record DIR/);
      expect(((await (await fetch(`${playing.url}api/play`)).json()) as PlaySession).recording).toBeNull();
    } finally {
      expect(await playing.close()).toEqual({ envId: 'PushCube-v1', recording: null });
    }
  });
});
