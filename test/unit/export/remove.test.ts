/** removeOwn: the one way trajforge deletes, refusing what the tool did not write. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOutput } from '../../../src/output/folder.js';
import { holdForRemoval, isStagingName, releaseForRemoval, removeEmptyFolder, removeOwn } from '../../../src/output/remove.js';
import { tmpDir } from '../../helpers/dataset.js';

describe('removeOwn', () => {
  it("refuses a user's file or folder and leaves it in place", () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'thesis.tex'), 'mine');
    mkdirSync(join(dir, 'code'));
    for (const path of [join(dir, 'thesis.tex'), join(dir, 'code'), dir]) {
      expect(() => removeOwn(path)).toThrow(/refusing to delete .*trajforge did not write it/);
    }
    expect(readFileSync(join(dir, 'thesis.tex'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'code'))).toBe(true);
  });

  it('deletes staging and temporary names, and what lies inside a .trajforge folder', () => {
    const dir = tmpDir();
    const paths = ['.trajforge-frames', 'report.json.tmp-123', 'part-00002.tmp', 'main_data.hdf5.tmp.rebuild', 'pred.mp4.tmp-9.mp4', '.trajforge/parts/part-00001'];
    for (const p of paths) mkdirSync(join(dir, p), { recursive: true });
    for (const p of paths) removeOwn(join(dir, p));
    for (const p of paths) expect(existsSync(join(dir, p)), p).toBe(false);
    expect(['notes.tmpl', 'tmp', 'data.tmpfile'].map(isStagingName)).toEqual([false, false, false]);
  });

  it('deletes the declared entries of an output only while this process holds it', () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'meta'));
    writeFileSync(join(dir, 'meta', 'info.json'), '{}');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(() => removeOwn(join(dir, 'meta', 'info.json'))).toThrow(/refusing to delete/);
    holdForRemoval({ dir, owns: (name) => name === 'meta' });
    expect(() => removeOwn(join(dir, 'notes.txt'))).toThrow(/refusing to delete/);
    removeOwn(join(dir, 'meta', 'info.json'));
    expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
    releaseForRemoval(dir);
    expect(() => removeOwn(join(dir, 'meta'))).toThrow(/refusing to delete/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('an output opened and closed holds its declared entries only in between', () => {
    const dir = join(tmpDir(), 'out');
    const out = openOutput(dir, { kind: 'dataset', command: 'generate', mode: 'new', entries: ['meta'] });
    mkdirSync(join(dir, 'meta'));
    removeOwn(join(dir, 'meta'));
    mkdirSync(join(dir, 'meta'));
    out.close();
    expect(() => removeOwn(join(dir, 'meta'))).toThrow(/refusing to delete/);
  });

  it('removeEmptyFolder removes only an empty folder', () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'empty'));
    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'x'), 'x');
    expect(removeEmptyFolder(join(dir, 'empty'))).toBe(true);
    expect(removeEmptyFolder(join(dir, 'full'))).toBe(false);
    expect(existsSync(join(dir, 'full', 'x'))).toBe(true);
  });
});
