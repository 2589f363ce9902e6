import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { renderPreview } from '../../src/episode/preview.js';
import { GOLDEN_DIR, GOLDEN_SEED, GOLDEN_STEP, goldenCases } from '../helpers/golden.js';

/**
 * Golden frames of every shipped environment (rgb + false-colour channels), decoded with pngjs —
 * an independent PNG reader. Regenerate deliberately with `npm run goldens` and review the diff.
 */
describe.each(goldenCases().map((c) => [c.file, c] as const))('%s', (_file, c) => {
  it('matches the golden image within a small tolerance', async () => {
    const golden = PNG.sync.read(readFileSync(join(GOLDEN_DIR, c.file)));
    const p = await renderPreview(c.resolved, { seed: GOLDEN_SEED, step: GOLDEN_STEP, camera: c.camera });
    expect([p.strip.width, p.strip.height]).toEqual([golden.width, golden.height]);
    let off = 0;
    let worst = 0;
    const n = golden.width * golden.height;
    for (let i = 0; i < n; i++) {
      let d = 0;
      for (let ch = 0; ch < 3; ch++) d = Math.max(d, Math.abs(golden.data[4 * i + ch]! - p.strip.rgb[3 * i + ch]!));
      worst = Math.max(worst, d);
      if (d > 8) off++;
    }
    // Tolerate a handful of edge pixels (floating-point differences across platforms), nothing more.
    expect(off / n, `${off} pixels differ by more than 8 levels (worst ${worst}); if intended, run npm run goldens`).toBeLessThan(0.005);
  });
});

it('the comparison has teeth: another seed does not match', async () => {
  const c = goldenCases().find((g) => g.resolved.config.id === 'PushCube-v1')!;
  const golden = PNG.sync.read(readFileSync(join(GOLDEN_DIR, c.file)));
  const p = await renderPreview(c.resolved, { seed: GOLDEN_SEED + 1, step: GOLDEN_STEP, camera: c.camera });
  let off = 0;
  for (let i = 0; i < golden.width * golden.height; i++) if (Math.abs(golden.data[4 * i]! - p.strip.rgb[3 * i]!) > 8) off++;
  expect(off / (golden.width * golden.height)).toBeGreaterThan(0.005);
});
