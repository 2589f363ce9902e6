import { describe, expect, it } from 'vitest';
import { printStageProgress, type CliIO } from '../../../src/cli/io.js';

function capture(isTTY: boolean): { io: CliIO; err: () => string } {
  let err = '';
  return { io: { out: () => undefined, err: (t) => (err += t), isTTY, cwd: '/' }, err: () => err };
}

describe('printStageProgress', () => {
  it('prints a plain line every 5 s and at the end of each stage when stderr is not a terminal', () => {
    const { io, err } = capture(false);
    const p = printStageProgress(io, (s) => (s === 'label' ? 'sources' : 'runs'));
    p({ stage: 'label', done: 0, total: 4, elapsed: 0 });
    p({ stage: 'label', done: 1, total: 4, elapsed: 2 });
    p({ stage: 'label', done: 2, total: 4, elapsed: 6 });
    p({ stage: 'label', done: 4, total: 4, elapsed: 8 });
    p({ stage: 'bc', done: 1, total: 2, elapsed: 9 });
    expect(err()).toBe('label 0/4 sources, 0 s\nlabel 2/4 sources, 6 s ETA 6 s\nlabel 4/4 sources, 8 s\nbc 1/2 runs, 9 s ETA 1 s\n');
  });

  it('draws one bar per stage on a terminal, with the count and an ETA', () => {
    const { io, err } = capture(true);
    const p = printStageProgress(io, () => 'episodes');
    p({ stage: 'encode', done: 1, total: 3, elapsed: 1 });
    p({ stage: 'encode', done: 3, total: 3, elapsed: 3 });
    expect(err()).toBe(`\r[${'#'.repeat(10)}${'.'.repeat(20)}] encode 1/3 episodes, 1 s ETA 2 s   \r[${'#'.repeat(30)}] encode 3/3 episodes, 3 s   \n`);
  });
});
