/**
 * Regenerates the golden images on purpose (never run by tests): `npm run goldens`.
 * Review the changed PNGs before committing them.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GOLDEN_DIR, GOLDEN_SEED, GOLDEN_STEP, goldenCases } from '../test/helpers/golden.js';
import { renderPreview } from '../src/episode/preview.js';
import { encodePng } from '../src/render/png.js';
import { lineChart } from '../src/report/plot.js';
import { CASES, DATASET_DIGESTS } from '../test/helpers/dataset-cases.js';
import { datasetDigest } from '../test/helpers/digest.js';
import { generateDataset } from '../src/pipeline/generate.js';
import { goldenLineChartOptions, LINE_CHART_GOLDEN, REPORT_GOLDEN_DIR } from '../test/helpers/report-golden.js';

for (const c of goldenCases()) {
  const p = await renderPreview(c.resolved, { seed: GOLDEN_SEED, step: GOLDEN_STEP, camera: c.camera });
  writeFileSync(join(GOLDEN_DIR, c.file), encodePng(p.strip.width, p.strip.height, p.strip.rgb));
  console.log(`wrote ${c.file}`);
}

const chart = lineChart(goldenLineChartOptions());
mkdirSync(REPORT_GOLDEN_DIR, { recursive: true });
writeFileSync(join(REPORT_GOLDEN_DIR, LINE_CHART_GOLDEN), encodePng(chart.width, chart.height, chart.data));
console.log(`wrote report/${LINE_CHART_GOLDEN}`);

const digests: Record<string, Record<string, string>> = {};
for (const c of CASES) {
  const out = join(mkdtempSync(join(tmpdir(), 'tf-golden-')), 'ds');
  await generateDataset(c.options(out));
  digests[c.name] = datasetDigest(out);
}
writeFileSync(DATASET_DIGESTS, `${JSON.stringify(digests, null, 1)}\n`);
console.log('wrote datasets/digests.json');
