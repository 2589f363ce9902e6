import { mkdirSync, writeFileSync } from 'node:fs';
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

describe('trajforge info of a user environment', () => {
  it('names a discrete action space as Discrete(n) in every format, and lists every camera of a frames dataset', async () => {
    const dir = tmpDir('tf-info-user-');
    // CartPole with three named choices and a second, smaller camera.
    writeFileSync(
      join(dir, 'choices.yaml'),
      [
        'id: CartChoices-v1',
        'extends: CartPole-v1',
        'expert: null', // the parent's expert drives a continuous force
        'actions:',
        '  actuators:',
        '    - { name: force, type: force, body: cart, axis: [1, 0, 0], scale: 10 }',
        '  discrete:',
        '    - { name: left, value: [-1] }',
        '    - { name: stay, value: [0] }',
        '    - { name: right, value: [1] }',
        'cameras:',
        '  - { name: side, resolution: [48, 48], position: [0, -2.6, 0.9], lookAt: [0, 0, 0.55], fovY: 50, channels: [rgb] }',
        '  - { name: above, resolution: [32, 24], position: [0, -0.5, 3], lookAt: [0, 0, 0.5], fovY: 60, channels: [rgb] }',
      ].join('\n'),
    );
    const g = await cli(['generate', 'choices.yaml', '--episodes', '2', '--workers', '0', '--format', 'lerobot,dreamer,frames', '--out', 'ds'], dir);
    expect(g.code, g.err).toBe(0);
    const s = await datasetInfo({ dir: 'ds', cwd: dir });
    const of = (format: string) => s.formats.find((f) => f.format === format)!;
    expect(of('lerobot').action).toBe('Discrete(3): left, stay, right');
    expect(of('dreamer').action).toBe('Discrete(3): left, stay, right');
    expect(of('frames').cameras).toEqual(['48x48 per-frame images', 'above: 32x24 per-frame images']);
  }, 60_000);
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
