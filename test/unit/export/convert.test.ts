import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MARKER_FILE } from '../../../src/output/folder.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { H5, values } from '../../helpers/readers.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('convert: LeRobot -> other formats keeps every value', () => {
  let root: string;
  const run = ['PushCube-v1', '--episodes', '3', '--codec', 'lossless', '--workers', '2'];
  beforeAll(async () => {
    root = tmpDir();
    expect((await cli(['generate', ...run, '--out', join(root, 'lerobot')])).code).toBe(0);
    // The same run written directly in every other format: the reference for the conversion.
    const direct = await cli(['generate', ...run, '--out', join(root, 'direct'), '--format', 'dreamer,rlds,frames,minari']);
    expect(direct.code, direct.err).toBe(0);
  }, 120_000);

  for (const format of ['dreamer', 'rlds', 'frames']) {
    it(`${format}: byte-identical to writing it during generation`, async () => {
      const out = join(root, `conv-${format}`);
      const r = await cli(['convert', join(root, 'lerobot'), '--to', format, '--out', out]);
      expect(r.code, r.err).toBe(0);
      // dreamer.json records its source; the ownership marker records the command that wrote it.
      const compared = (f: string) => !f.endsWith('dreamer.json') && f !== MARKER_FILE;
      const want = files(join(root, 'direct', format)).filter(compared);
      expect(files(out).filter(compared)).toEqual(want);
      for (const f of want) expect(readFileSync(join(out, f)).equals(readFileSync(join(root, 'direct', format, f))), f).toBe(true);
    }, 60_000);
  }

  it('minari: the same arrays (jsfive; HDF5 files carry their own timestamps)', async () => {
    const out = join(root, 'conv-minari');
    expect((await cli(['convert', join(root, 'lerobot'), '--to', 'minari', '--out', out])).code).toBe(0);
    const rel = 'trajforge/pushcube-v1/data/main_data.hdf5';
    const a = new H5(join(out, rel));
    const b = new H5(join(root, 'direct', 'minari', rel));
    const paths = b.datasets();
    expect(paths).toContain('episode_2/observations/image_top');
    expect(a.datasets()).toEqual(paths);
    for (const p of paths) {
      const [x, y] = [a.data(p), b.data(p)];
      expect([x.dtype, x.shape], p).toEqual([y.dtype, y.shape]);
      expect(Buffer.from(Float64Array.from(values(x.value)).buffer).equals(Buffer.from(Float64Array.from(values(y.value)).buffer)), p).toBe(true);
    }
  }, 60_000);
});
