/**
 * Written bytes pinned: every file of fixed-seed runs in every format (HDF5 by content, as its
 * headers carry times) equals the digests recorded in test/goldens/datasets/digests.json, on 0 and
 * 2 workers. A refactor or a speed-up that changes a byte fails here; a deliberate format change
 * updates the digests with `npm run goldens` and says why in its commit.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { CASES, DATASET_DIGESTS } from '../../helpers/dataset-cases.js';
import { datasetDigest } from '../../helpers/digest.js';

const golden = JSON.parse(readFileSync(DATASET_DIGESTS, 'utf8')) as Record<string, Record<string, string>>;
const tmp = mkdtempSync(join(tmpdir(), 'tf-golden-ds-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('datasets are byte-identical to the recorded digests', () => {
  for (const c of CASES) {
    for (const workers of [0, 2]) {
      it(`${c.name}, ${workers} workers`, async () => {
        const out = join(tmp, `${c.name}-${workers}`);
        await generateDataset({ ...c.options(out), workers });
        expect(datasetDigest(out)).toEqual(golden[c.name]);
      }, 60_000);
    }
  }
});
