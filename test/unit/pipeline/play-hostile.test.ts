/**
 * trajforge play's POST /api/episodes against hostile bodies: each is a 400/413 JSON error naming
 * what was expected, error messages stay short whatever was posted, a body larger than the
 * environment's longest episode is refused before it is parsed, concurrent posts are taken one at a
 * time, and nothing is written (the --record folder is gone again when nothing was recorded).
 */
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playEnvironment, type Playing } from '../../../src/pipeline/play.js';
import { tmpDir } from '../../helpers/dataset.js';

let root: string;
let playing: Playing;
let port: number;

function post(path: string, body: string | Buffer): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
    });
    // The server may answer (413) and close before the whole body is sent.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : fail(e)));
    req.end(body);
  });
}

beforeAll(async () => {
  root = tmpDir('tf-play-hostile-');
  playing = await playEnvironment({ env: 'PushCube-v1', overrides: ['task.timeLimit=12'], record: 'rec', cwd: root });
  port = Number(new URL(playing.url).port);
}, 60_000);

afterAll(async () => {
  await playing?.close();
});

describe('trajforge play: hostile posts', () => {
  it.each([
    ['hello', 400, /request body is not JSON/],
    ['[1,2]', 400, /expected a JSON object \{ seed, actions, obs, rewards, success \}/],
    ['{"seed":"0"}', 400, /has seed "0"; this recording's next episode has seed 0/],
    ['{"seed":0,"rewards":["NaN"],"actions":[0,0],"obs":[],"success":false}', 400, /rewards\[0\]: expected a finite number, found "NaN"/],
    ['{"seed":0,"rewards":[0],"actions":[1e999,0],"obs":[],"success":false}', 400, /actions\[0\]: expected a finite number, found Infinity/],
    ['{"seed":0,"rewards":[0],"actions":[0],"obs":[],"success":false}', 400, /actions: expected 2 values, found 1/],
    ['{"seed":0,"rewards":[0],"actions":[0,0],"obs":[1,2],"success":false}', 400, /obs: expected \d+ values, found 2/],
    ['{"seed":0,"rewards":[0],"actions":[0,0],"obs":[],"success":"yes"}', 400, /obs: expected/],
  ])('%s -> %i', async (body, status, message) => {
    const r = await post('/api/episodes', body);
    expect(r.status).toBe(status);
    expect(r.json.error!.message).toMatch(message);
  });

  it('keeps the message short when a huge nested array is posted', async () => {
    const body = JSON.stringify({ seed: 0, rewards: [new Array(3000).fill(1.5)], actions: [0, 0], obs: [], success: false });
    const r = await post('/api/episodes', body);
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toMatch(/rewards\[0\]: expected a finite number, found \[1\.5,1\.5.*… \(\d+ characters\)/);
    expect(r.json.error!.message.length).toBeLessThan(300);
  });

  it("refuses a body larger than the environment's longest episode can need with 413, before parsing it", async () => {
    const big = Buffer.from(JSON.stringify({ seed: 0, rewards: new Array(200_000).fill(0.123456789), actions: [], obs: [], success: false }));
    expect(big.length).toBeGreaterThan(2 * 2 ** 20);
    const r = await post('/api/episodes', big);
    expect(r.status).toBe(413);
    expect(r.json.error!.message).toMatch(/request body (of \d+ bytes )?is over the limit of \d+/);
    const limit = Number(/limit of (\d+)/.exec(r.json.error!.message)![1]);
    expect(limit).toBeLessThan(2 ** 20);
  });

  it('answers concurrent malformed posts each with its own 400, and writes nothing into --record', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => JSON.stringify({ seed: 0, rewards: [0], actions: new Array(i + 3).fill(0), obs: [], success: false }));
    const answers = await Promise.all(bodies.map((b) => post('/api/episodes', b)));
    answers.forEach((a, i) => {
      expect(a.status).toBe(400);
      expect(a.json.error!.message).toMatch(new RegExp(`actions: expected 2 values, found ${i + 3}`));
    });
    const dir = join(root, 'rec');
    // Nothing but the recording's own bookkeeping; no episode data.
    const files = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : [];
    expect(files.filter((f) => f.endsWith('.parquet') || f.endsWith('.mp4'))).toEqual([]);
    expect(readdirSync(root)).toEqual(existsSync(dir) ? ['rec'] : []);
  });
});
