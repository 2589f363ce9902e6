import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeClip } from '../../../src/video/clip.js';
import { squareFrames, writeCentroidModel } from '../../helpers/analytic-model.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

let root: string;

beforeAll(() => {
  root = tmpDir('tf-cli-label-');
  writeCentroidModel(join(root, 'model'), { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 8, residualScale: 0.05 });
  mkdirSync(join(root, 'videos'));
  for (let e = 0; e < 4; e++) {
    const actions = Float32Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 0.5 * Math.sin(0.5 * i + e) : 0.4 * Math.cos(0.4 * i + e)));
    const { frames, count } = squareFrames(96, 96, 12, [48, 48], actions, 12);
    writeClip(join(root, 'videos', `clip${e}.mp4`), frames, count, { width: 96, height: 96, fps: 20, profile: e % 2 ? 'h264' : 'lossless' });
  }
  writeFileSync(join(root, 'videos', 'notes.mp4'), 'a text file with a video name');
});

describe('trajforge label (CLI)', () => {
  it('labels a folder, skipping and listing the unreadable file; then bc and a dream from video with the learned policy', async () => {
    const r = await cli(['label', 'videos', '--model', 'model', '--out', 'labelled', '--episode-length', '10'], root);
    expect(r.code).toBe(0);
    expect(r.out).toContain('labelled 4 source(s)');
    expect(r.out).toContain('episodes      12 of up to 10 steps, 120 steps');
    expect(r.out).toMatch(/skipped +1 source\(s\):\n +.*notes\.mp4: /);
    expect(r.err).toContain('note: skipped');

    const bc = await cli(['bc', 'labelled', '--input', 'observation.latent', '--out', 'policy', '--steps', '200', '--hidden', '32'], root);
    expect(bc.code, bc.err).toBe(0);
    const dream = await cli(['dream', '--model', 'model', '--env', 'PushCube-v1', '--policy', 'onnx:policy/policy.onnx', '--from-video', 'videos/clip0.mp4', '--episodes', '3', '--horizon', '5', '--out', 'dreamed'], root);
    expect(dream.code, dream.err).toBe(0);
    expect(dream.out).toContain('episodes      3 (policy onnx');
    expect((await cli(['validate', 'dreamed'], root)).code).toBe(0);
    expect((await cli(['validate', 'labelled'], root)).code).toBe(0);
  }, 120_000);

  it('exits 2 with a coded error naming the file, without a stack or output, for bad input', async () => {
    const cases: [string[], string, string][] = [
      [['label', 'videos/notes.mp4', '--model', 'model', '--out', 'o1'], 'E_VIDEO_INVALID', 'notes.mp4'],
      [['label', 'nothing-here.mp4', '--model', 'model', '--out', 'o2'], 'E_USAGE', 'nothing-here.mp4'],
      [['label', 'videos', '--model', 'videos', '--out', 'o3'], 'E_USAGE', 'model.json'],
      [['label', 'videos', '--model', 'model', '--out', 'o4', '--env', 'Reach-v1'], 'E_USAGE', 'Reach-v1'],
      [['label', 'videos', '--model', 'model', '--out', 'o5', '--seeds', '3'], 'E_USAGE', '--seeds applies to label --eval'],
      [['label', 'videos', '--model', 'model', '--out', 'o6', '--fit', 'squash'], 'E_USAGE', 'crop, stretch or pad'],
      [['label', 'videos', '--model', 'model', '--out', 'o7', '--eval', '--fit', 'pad'], 'E_USAGE', '--fit does not apply to label --eval'],
    ];
    for (const [args, code, names] of cases) {
      const r = await cli(args, root);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
      expect(r.err).toContain(`error[${code}]`);
      expect(r.err).toContain(names);
      expect(r.err).not.toMatch(/\n\s+at /);
      expect(existsSync(join(root, args[args.indexOf('--out') + 1]!))).toBe(false);
    }
  });
});
