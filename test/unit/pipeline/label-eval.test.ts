import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { evaluateLabelling } from '../../../src/pipeline/label-eval.js';
import { validateDataset } from '../../../src/pipeline/validate.js';
import { writeCentroidModel } from '../../helpers/analytic-model.js';
import { tmpDir } from '../../helpers/dataset.js';
import { generateOptions } from '../../helpers/generate.js';

let root: string;
let data: string;
let model: string;

beforeAll(async () => {
  root = tmpDir('tf-label-eval-');
  data = join(root, 'data');
  model = join(root, 'model');
  await generateDataset(generateOptions(data, { episodes: 3, codec: 'lossless' }));
  writeCentroidModel(model, { env: 'PushCube-v1', camera: 'top', pixelsPerAction: 2, residualScale: 0.05 });
}, 120_000);

describe('trajforge label --eval', () => {
  it('scores every video variant against the withheld actions, replays the episodes exactly, runs the VPT test and writes the report', async () => {
    const out = join(root, 'report');
    const stages: string[] = [];
    const s = await evaluateLabelling({ dataset: data, model, out, seeds: 3, bcSteps: 30, onProgress: (p) => stages.push(`${p.stage} ${p.done}/${p.total}`) });
    expect(s.variants.map((v) => v.name)).toEqual(['stored', '128x128', 'h264-420', 'vp9-webm', 'light']);
    expect(s.episodes).toBe(3);
    // The stored videos hold T frames per episode (T - 1 labelled steps); the re-rendered ones T + 1.
    for (const v of s.variants) expect(v.agreement.rows).toBe(v.name === 'stored' ? s.steps - 3 : s.steps);
    // Seeds and recorded actions reproduce the stored states bit for bit under a new camera or light.
    for (const v of s.variants.slice(1)) expect(v.replayError).toBe(0);
    for (const v of s.variants) {
      expect(v.agreement.r2).toHaveLength(2);
      expect(v.bcSuccess).toBeGreaterThanOrEqual(0);
      expect(v.bcSuccess).toBeLessThanOrEqual(1);
    }
    expect(s.bc).toMatchObject({ seeds: 3 });
    expect(s.bc!.expert).toBe(1);
    expect(s.calibration.bins.reduce((n, b) => n + b.steps, 0)).toBe(s.steps - 3);
    expect(stages).toEqual(['variant 0/5', 'variant 1/5', 'variant 2/5', 'variant 3/5', 'variant 4/5', 'variant 5/5', 'bc 0/7', 'bc 1/7', 'bc 2/7', 'bc 3/7', 'bc 4/7', 'bc 5/7', 'bc 6/7', 'bc 7/7']);

    for (const f of ['label-eval.json', 'label-eval.md', 'actions.png', 'calibration.png', 'shift.png']) expect(existsSync(join(out, f))).toBe(true);
    expect(existsSync(join(out, '.trajforge-label-eval'))).toBe(false);
    const json = JSON.parse(readFileSync(join(out, 'label-eval.json'), 'utf8'));
    expect(json.variants[0].agreement.r2).toEqual(s.variants[0]!.agreement.r2);
    const md = readFileSync(join(out, 'label-eval.md'), 'utf8');
    expect(md).toContain('| inferred actions R2 >= 0.85');
    expect(md).toContain('| vp9-webm: VP9 4:2:0 in WebM');
    const png = PNG.sync.read(readFileSync(join(out, 'shift.png')));
    expect(png.width).toBeGreaterThan(100);
    expect((await validateDataset({ dir: join(out, 'labelled') })).valid).toBe(true);
  }, 300_000);
});
