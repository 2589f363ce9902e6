import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { datasetInfo } from '../../../src/pipeline/info.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

let root: string;
beforeAll(async () => {
  root = tmpDir('tf-info-');
  const r = await cli(['generate', 'PushCube-v1', '--episodes', '2', '--workers', '0', '--format', 'lerobot,minari,dreamer,rlds,frames', '--out', 'all'], root);
  if (r.code !== 0) throw new Error(r.err);
}, 120_000);

describe('trajforge info', () => {
  it('reads every format trajforge writes from its own metadata: env, episodes, steps, success', async () => {
    const s = await datasetInfo({ dir: 'all', cwd: root });
    expect(s.formats.map((f) => f.format)).toEqual(['lerobot', 'minari', 'dreamer', 'rlds', 'frames']);
    const lerobot = s.formats[0]!;
    for (const f of s.formats) {
      expect(f.episodes, f.format).toBe(2);
      expect(f.bytes).toBeGreaterThan(0);
      if (f.format !== 'frames') expect([f.format, f.envId, f.configHash]).toEqual([f.format, 'PushCube-v1', lerobot.configHash]);
      if (f.steps !== null) expect(f.steps, f.format).toBe(lerobot.steps);
    }
    expect(lerobot).toMatchObject({ writtenBy: 'trajforge', fps: 20, action: 'Box(2): vx, vy', source: 'simulator', cameras: ['top 64x64 rgb+depth+segmentation'] });
    expect(s.formats.find((f) => f.format === 'dreamer')!.successRate).toBe(lerobot.successRate);
  });

  it('prints one block per format, and a folder of none is E_DATASET_INVALID (exit 2)', async () => {
    const r = await cli(['info', 'all/dreamer'], root);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/dreamer: dreamer\n {2}env {10}PushCube-v1 \(config [0-9a-f]{12}\)\n {2}episodes {5}2, \d+ steps, [\d.]+ % success\n/);
    mkdirSync(join(root, 'empty'));
    const bad = await cli(['info', 'empty'], root);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('error[E_DATASET_INVALID]');
  });
});

describe('trajforge inspect', () => {
  it('shows the success rate of a task, and none for an environment without a success criterion', async () => {
    const root = tmpDir();
    for (const [env, out] of [['PushCube-v1', 'task'], ['FallingObjects-v1', 'passive']] as const) {
      const g = await cli(['generate', env, '--episodes', '2', '--workers', '0', '--channels', 'rgb', '--out', out], root);
      expect(g.code, g.err).toBe(0);
    }
    const task = await cli(['inspect', 'task'], root);
    expect(task.code, task.err).toBe(0);
    expect(task.out).toMatch(/^ {2}success {4}\d+\.\d% \(\d\/2\)$/m);
    const passive = await cli(['inspect', 'passive'], root);
    expect(passive.code, passive.err).toBe(0);
    expect(passive.out).toMatch(/^ {2}frames /m);
    expect(passive.out).not.toMatch(/^ {2}success/m);
  }, 60_000);
});
