import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { intOption } from '../../../src/cli/args.js';
import { cli } from '../../helpers/dataset.js';

describe('CLI options', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await cli([flag]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`trajforge ${version}\n`);
    }
  });

  it('a mistyped option names the closest one and lists the rest, in the CLI words, exit 2', async () => {
    const r = await cli(['generate', 'PushCube-v1', '--epsiodes', '3', '--out', 'x']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error\[E_USAGE\]: unknown option '--epsiodes'; did you mean '--episodes'\? \(options: .*--episodes.*\)\nusage: trajforge generate/);
    // Nothing close: no guess, the list only.
    const far = await cli(['generate', 'PushCube-v1', '--zzzzzzzz']);
    expect(far.err).toContain("unknown option '--zzzzzzzz' (options: ");
    expect(far.err).not.toContain('did you mean');
  });

  it('integer options take decimal digits only, and no more than JavaScript counts exactly', () => {
    expect(intOption('16', 'episodes', 1, 1)).toBe(16);
    expect(intOption('1e6', 'episodes', 1, 1)).toBe(1_000_000);
    for (const bad of ['0x10', '0b11', ' 3', '3 ', '', '1.5', 'NaN', '1e309', 'Infinity']) expect(() => intOption(bad, 'episodes', 1, 1), bad).toThrow(/--episodes must be an integer >= 1/);
    expect(() => intOption('9007199254740993', 'seed', 0)).toThrow(`--seed must be at most ${Number.MAX_SAFE_INTEGER}, got '9007199254740993'`);
  });

  it('a missing value and a value given to a switch are said plainly', async () => {
    const missing = await cli(['generate', 'PushCube-v1', '--episodes']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('error[E_USAGE]: --episodes needs a value (--episodes VALUE)');
    const sw = await cli(['generate', 'PushCube-v1', '--overwrite=yes', '--out', 'x']);
    expect(sw.err).toContain('error[E_USAGE]: --overwrite is a switch and takes no value');
  });
});

describe('trajforge envs --details', () => {
  it("describes an environment's spaces, rates, cameras and expert; an unknown id is E_ENV_NOT_FOUND with did-you-mean", async () => {
    const r = await cli(['envs', '--details', 'PushCube-v1']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('PushCube-v1  (environments/push-cube.v1.yaml)');
    expect(r.out).toContain('  control       20 Hz (timestep 0.01 s x 5 substeps)');
    expect(r.out).toContain('  observation   Box(12): pusher.x, pusher.y, cube.x');
    expect(r.out).toContain('  action        Box(2): vx [-1, 1], vy [-1, 1]');
    expect(r.out).toContain('  camera        top 64x64: rgb, depth, segmentation');
    expect(r.out).toMatch(/ {2}expert {8}yes \(\d+ rules\)/);
    // The keys trajforge play maps to the action space, documented per environment.
    expect(r.out).toMatch(/^ {2}play keys {5}← → +vx: -1 \/ 1 while held$/m);
    expect(r.out).toMatch(/^ {16}↓ ↑ +vy: -1 \/ 1 while held$/m);
    const all = await cli(['envs', '--details']);
    expect(all.out.match(/^ {2}config hash {3}[0-9a-f]{16}$/gm)!.length).toBe((await cli(['envs'])).out.trim().split('\n').length);
    const bad = await cli(['envs', '--details', 'PushCub-v1']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('error[E_ENV_NOT_FOUND]');
    expect(bad.err).toContain('PushCube-v1');
  });
});
