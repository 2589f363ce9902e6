import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnv, resolveEnvRef } from '../../../src/api/env-ref.js';
import { generateDataset, type GenerateDatasetOptions } from '../../../src/api/generate.js';
import { encodePng, renderSnapshot } from '../../../src/api/render.js';
import { loadEnv } from '../../../src/config/load.js';
import { Renderer } from '../../../src/render/renderer.js';
import { PhysicsEnv } from '../../../src/sim/env.js';
import { rejection } from '../../helpers/rejection.js';

let dir: string;


describe('the library facades', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tf-facades-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('createEnv takes an id, a config file or a loaded environment; anything else is E_USAGE', async () => {
    const byId = await createEnv('PushCube-v1');
    const byValue = await createEnv(loadEnv('PushCube-v1'));
    const byFile = await createEnv(join(process.cwd(), 'environments', 'push-cube.v1.yaml'));
    for (const env of [byId, byValue, byFile]) {
      expect(env).toBeInstanceOf(PhysicsEnv);
      expect(env.spec.configHash).toBe(byId.spec.configHash);
      env.close();
    }
    expect((await rejection(createEnv('PushCub-v1'))).code).toBe('E_ENV_NOT_FOUND');
    for (const bad of [undefined, null, 3, { id: 'PushCube-v1' }]) {
      const e = await rejection(createEnv(bad as unknown as string));
      expect(e.code).toBe('E_USAGE');
      expect(e.message).toContain("an environment id (e.g. 'PushCube-v1')");
    }
    expect((await resolveEnvRef('push-cube.v1.yaml', join(process.cwd(), 'environments'))).config.id).toBe('PushCube-v1');
  });

  it('generateDataset checks its options before anything is simulated or written', async () => {
    const base: GenerateDatasetOptions = { env: 'PushCube-v1', out: join(dir, 'never') };
    const cases: [Partial<GenerateDatasetOptions>, string, RegExp][] = [
      [{ episodes: 0 }, 'E_USAGE', /episodes must be an integer >= 1, got 0/],
      [{ episodes: 1.5 }, 'E_USAGE', /episodes must be an integer/],
      [{ workers: -1 }, 'E_USAGE', /workers must be an integer >= 0/],
      [{ policy: { noise: -1 } }, 'E_USAGE', /policy.noise must be a finite number >= 0/],
      [{ policy: 'replay' }, 'E_USAGE', /policy must be 'expert', 'random', 'noise' or \{ kind: 'onnx', file \}, got 'replay'/],
      [{ policy: { kind: 'onnx' } as GenerateDatasetOptions['policy'] }, 'E_USAGE', /policy \{ kind: 'onnx' \} needs `file`/],
      [{ codec: 'mpeg2' as 'h264' }, 'E_USAGE', /unknown codec 'mpeg2'/],
      [{ resume: true, overwrite: true }, 'E_USAGE', /resume and overwrite exclude each other/],
      [{ out: '' }, 'E_USAGE', /`out` \(the output folder\) is required/],
      [{ env: 'NoSuchEnv-v1' }, 'E_ENV_NOT_FOUND', /unknown environment 'NoSuchEnv-v1'/],
      [{ format: 'parquet' }, 'E_USAGE', /unknown --format 'parquet'/],
    ];
    for (const [override, code, message] of cases) {
      const e = await rejection(generateDataset({ ...base, ...override }));
      expect(e.code, JSON.stringify(override)).toBe(code);
      expect(e.message).toMatch(message);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('generateDataset fills the CLI defaults (the expert when there is one) and passes the rest through', async () => {
    const progress: number[] = [];
    const r = await generateDataset({ env: 'Reach-v1', out: 'reach', cwd: dir, episodes: 2, workers: 0, channels: ['rgb'], onProgress: (p) => progress.push(p.done) });
    expect(r).toMatchObject({ dir: join(dir, 'reach'), episodes: 2, resumedFrom: 0 });
    expect(progress).toEqual([1, 2]);
    const again = await generateDataset({ env: 'Reach-v1', out: join(dir, 'reach'), episodes: 2, workers: 0, channels: ['rgb'], resume: true });
    expect(again.resumedFrom).toBe(2);
    const policyOf = (out: string) => (JSON.parse(readFileSync(join(dir, out, '.trajforge-run.json'), 'utf8')) as { run: { policy: unknown } }).run.policy;
    expect(policyOf('reach')).toEqual({ kind: 'expert', noise: 0, epsilon: 0 });
    await generateDataset({ env: 'FallingObjects-v1', out: 'falling', cwd: dir, episodes: 1, workers: 0, channels: ['rgb'] });
    expect(policyOf('falling')).toEqual({ kind: 'noise', noise: 0, epsilon: 0 });
  });

  it('renderSnapshot renders every camera with its declared channels, as copies the next render leaves alone', async () => {
    const env = await createEnv('PushCube-v1');
    env.reset({ seed: 1 });
    const renderer = new Renderer();
    const scene = env.snapshot();
    const frames = renderSnapshot(scene, { renderer });
    expect(Object.keys(frames)).toEqual(['top']);
    const top = frames.top!;
    expect([top.width, top.height, top.rgb!.length, top.depth!.length, top.segmentation!.length]).toEqual([64, 64, 12288, 4096, 4096]);
    const view = renderer.render(scene, 'top', ['rgb']);
    expect(top.rgb).toEqual(view.rgb);
    const kept = top.rgb!.slice();
    for (let i = 0; i < 5; i++) env.step([1, 1]);
    renderer.render(env.snapshot(), 'top', ['rgb']);
    expect(top.rgb).toEqual(kept);
    expect(renderSnapshot(scene, { channels: ['normals'] }).top).toEqual({ width: 64, height: 64, normals: expect.any(Float32Array) });
    expect(() => renderSnapshot(scene, { cameras: ['side'] })).toThrow(/no camera 'side' \(cameras: top\)/);
    env.close();
  });

  it('encodePng writes a PNG of the given size; a length mismatch is E_USAGE', async () => {
    const rgb = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 10);
    const png = PNG.sync.read(Buffer.from(await encodePng(2, 3, rgb)));
    expect([png.width, png.height]).toEqual([2, 3]);
    expect(png.data[4]).toBe(30);
    expect((await rejection(encodePng(2, 3, new Uint8Array(17)))).message).toMatch(/2x3x3 needs 18 values, got 17/);
  });
});
