import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrajforgeError } from '../../../src/core/errors.js';
import { isVideoFileName, listVideoInputs, splitPattern } from '../../../src/video/inputs.js';
import { tmpDir } from '../../helpers/dataset.js';

let root: string;

/** root/clips: videos at several depths, hidden ones, other files, a LeRobot dataset beside it. */
beforeAll(() => {
  root = tmpDir('tf-inputs-');
  const files = [
    'clips/b.mp4',
    'clips/a.MKV',
    'clips/A.webm',
    'clips/notes.txt',
    'clips/day2/x1.mov',
    'clips/day2/x2.mp4',
    'clips/day2/x10.mp4',
    'clips/day1/z.avi',
    'clips/day1/cam[1].mp4',
    'clips/.cache/thumb.mp4',
    'clips/.hidden.mp4',
    'clips/day1/.trash/old.mp4',
    'other/readme.md',
    'ds/meta/info.json',
    'ds/videos/observation.images.top/chunk-000/file-000.mp4',
  ];
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), 'x');
  }
  symlinkSync(join(root, 'clips', 'day2'), join(root, 'clips', 'loop'));
  symlinkSync(join(root, 'clips', 'b.mp4'), join(root, 'clips', 'day1', 'b-link.mp4'));
});

function files(spec: string, cwd = root): string[] {
  const r = listVideoInputs(spec, cwd);
  if (r.kind !== 'videos') throw new Error(`expected videos, got ${r.kind}`);
  return r.files.map((f) => f.slice(root.length + 1).split(sep).join('/'));
}

function usage(spec: string, cwd = root): string {
  try {
    listVideoInputs(spec, cwd);
  } catch (e) {
    expect(e).toBeInstanceOf(TrajforgeError);
    expect((e as TrajforgeError).code).toBe('E_USAGE');
    return (e as TrajforgeError).message;
  }
  throw new Error(`${spec} was accepted`);
}

describe('listVideoInputs', () => {
  it('a folder: its videos at any depth, sorted by relative path, hidden ones and links to folders skipped', () => {
    expect(files('clips')).toEqual(['clips/A.webm', 'clips/a.MKV', 'clips/b.mp4', 'clips/day1/b-link.mp4', 'clips/day1/cam[1].mp4', 'clips/day1/z.avi', 'clips/day2/x1.mov', 'clips/day2/x10.mp4', 'clips/day2/x2.mp4']);
    expect(files(join(root, 'clips', 'day2') + '/')).toEqual(['clips/day2/x1.mov', 'clips/day2/x10.mp4', 'clips/day2/x2.mp4']);
  });

  it('a file is taken as it is, whatever its extension', () => {
    expect(files('clips/notes.txt')).toEqual(['clips/notes.txt']);
    expect(files('clips/day1/cam[1].mp4')).toEqual(['clips/day1/cam[1].mp4']);
    expect(files('b.mp4', join(root, 'clips'))).toEqual(['clips/b.mp4']);
  });

  it('a LeRobot dataset is handed back as one', () => {
    expect(listVideoInputs('ds', root)).toEqual({ kind: 'lerobot', dir: join(root, 'ds') });
  });

  it('glob patterns: *, **, ?, [...], {a,b}; relative to cwd, through .., or absolute', () => {
    expect(files('clips/*')).toEqual(['clips/A.webm', 'clips/a.MKV', 'clips/b.mp4']);
    expect(files('clips/**/*.mp4')).toEqual(['clips/b.mp4', 'clips/day1/b-link.mp4', 'clips/day1/cam[1].mp4', 'clips/day2/x10.mp4', 'clips/day2/x2.mp4']);
    expect(files('clips/day2/x?.*')).toEqual(['clips/day2/x1.mov', 'clips/day2/x2.mp4']);
    expect(files('clips/day[12]/[a-y]*')).toEqual(['clips/day1/b-link.mp4', 'clips/day1/cam[1].mp4', 'clips/day2/x1.mov', 'clips/day2/x10.mp4', 'clips/day2/x2.mp4']);
    expect(files('clips/*.{mkv,MKV,webm}')).toEqual(['clips/A.webm', 'clips/a.MKV']);
    expect(files('../clips/day2/*.mp4', join(root, 'other'))).toEqual(['clips/day2/x10.mp4', 'clips/day2/x2.mp4']);
    expect(files(`${root}/clips/*/z.*`, '/')).toEqual(['clips/day1/z.avi']);
  });

  it('nothing to read is E_USAGE naming the spec', () => {
    expect(usage('nope.mp4')).toBe('nope.mp4: no such file or folder');
    expect(usage('clips/*.mpg')).toBe('clips/*.mpg matches no video files');
    expect(usage('clips/*.txt')).toMatch(/^clips\/\*\.txt matches no video files; it matches 1 file, none with a video extension \(\.mp4 /);
    expect(usage('other')).toMatch(/^other: the folder holds no video files/);
    expect(usage('missing/*.mp4')).toBe(`missing/*.mp4 matches nothing: folder ${join(root, 'missing')} does not exist`);
    expect(usage('')).toMatch(/no video input given/);
  });

  it('helpers', () => {
    expect(isVideoFileName('a/B.M2TS')).toBe(true);
    expect(isVideoFileName('a.txt')).toBe(false);
    expect(isVideoFileName('mp4')).toBe(false);
    expect(splitPattern('../a/b*/c.mp4', '/x/y')).toEqual({ base: '/x/a', pattern: 'b*/c.mp4' });
    expect(splitPattern('/v/**', '/x')).toEqual({ base: '/v', pattern: '**' });
    expect(splitPattern('*.mp4', '/x')).toEqual({ base: '/x', pattern: '*.mp4' });
  });
});
