import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/load.js';
import type { TrajforgeError } from '../../../src/core/errors.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

const failure = (f: () => unknown): TrajforgeError => {
  try {
    f();
  } catch (e) {
    return e as TrajforgeError;
  }
  throw new Error('expected an error');
};

describe('--set overrides', () => {
  it('give the config (and hash) the same value written in a file would', () => {
    const dir = tmpDir('tf-set-');
    writeFileSync(join(dir, 'fast.yaml'), 'extends: PushCube-v1\nworld:\n  timestep: 0.005\ncameras:\n  - name: top\n    resolution: [128, 96]\n');
    const file = loadEnv(join(dir, 'fast.yaml'));
    const set = loadEnv('PushCube-v1', { overrides: ['world.timestep=0.005', 'cameras[top].resolution=[128, 96]'] });
    expect(set.config.world.timestep).toBe(0.005);
    expect(set.config.cameras.find((c) => c.name === 'top')!.resolution).toEqual([128, 96]);
    expect(set.hash).toBe(file.hash);
    expect(set.hash).not.toBe(loadEnv('PushCube-v1').hash);
    // Index selectors and nested keys the document leaves to defaults.
    const byIndex = loadEnv('PushCube-v1', { overrides: ['cameras[0].resolution=[32,32]', 'light.intensity=0.5'] });
    expect(byIndex.config.cameras[0]!.resolution).toEqual([32, 32]);
    expect(byIndex.config.light.intensity).toBe(0.5);
  });

  it('are checked like the file: an unknown key, element or value is E_CONFIG_INVALID naming the path, with did-you-mean', () => {
    const key = failure(() => loadEnv('PushCube-v1', { overrides: ['world.timestepp=0.1'] }));
    expect(key.code).toBe('E_CONFIG_INVALID');
    expect(JSON.stringify(key.details.issues)).toContain('timestepp');
    expect(JSON.stringify(key.details.issues)).toContain("did you mean 'timestep'");
    expect(key.message).toContain('with --set world.timestepp=0.1');

    const element = failure(() => loadEnv('PushCube-v1', { overrides: ['cameras[topp].resolution=[1,1]'] }));
    expect([element.code, element.message]).toEqual(['E_CONFIG_INVALID', expect.stringContaining("cameras[topp]: expected an element named one of top, found 'topp' (did you mean 'top'?)")]);

    const value = failure(() => loadEnv('PushCube-v1', { overrides: ['world.timestep=-1'] }));
    expect(value.code).toBe('E_CONFIG_INVALID');
    expect(value.details.issues![0]!.path).toBe('world.timestep');

    expect(failure(() => loadEnv('PushCube-v1', { overrides: ['world.timestep'] })).code).toBe('E_CONFIG_INVALID');
    expect(failure(() => loadEnv('PushCube-v1', { overrides: ['cameras[5].resolution=[8,8]'] })).message).toContain('expected an index below 1');
  });

  it('reach the commands: generate writes the overridden camera; a bad override exits 2 with nothing written', async () => {
    const root = tmpDir('tf-set-cli-');
    const ok = await cli(['generate', 'PushCube-v1', '--episodes', '1', '--workers', '0', '--set', 'cameras[top].resolution=[32,32]', '--set', 'task.timeLimit=10', '--out', 'ds'], root);
    expect(ok.code, ok.err).toBe(0);
    const side = JSON.parse((await import('node:fs')).readFileSync(join(root, 'ds', 'meta', 'trajforge.json'), 'utf8'));
    expect(side.cameras[0]).toMatchObject({ name: 'top', width: 32, height: 32 });
    expect(side.config.task.timeLimit).toBe(10);
    const bad = await cli(['generate', 'PushCube-v1', '--episodes', '1', '--set', 'world.gravty=[0,0,-1]', '--out', 'bad'], root);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('error[E_CONFIG_INVALID]');
    expect(bad.err).toContain('gravity');
    expect((await import('node:fs')).existsSync(join(root, 'bad'))).toBe(false);
  });
});
