/** The input bugs users reported (issue 12), each pinned by the case that showed it. */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/load.js';
import { TrajforgeError } from '../../src/core/errors.js';
import { cli } from '../helpers/dataset.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

/** Runs the CLI as a process whose stdout reader goes away after the first chunk, as `| head -1` does. */
function runIntoClosedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const script = join(tmp('tf-pipe-'), 'run.mts');
  writeFileSync(script, `import { runProcess } from ${JSON.stringify(join(ROOT, 'src/cli/main.ts'))};\nprocess.exitCode = await runProcess(process.argv.slice(2));\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('reported: closed stdout pipe', () => {
  it('`trajforge schema | head` ends quietly with exit 0, no EPIPE stack', async () => {
    const r = await runIntoClosedPipe(['schema']);
    expect(r.stderr).not.toMatch(/EPIPE|\n {4}at |internal error/);
    expect(r.code).toBe(0);
  });
});

describe('reported: environment search path and extends', () => {
  const saved = process.env.TRAJFORGE_ENV_PATH;
  afterEach(() => {
    if (saved === undefined) delete process.env.TRAJFORGE_ENV_PATH;
    else process.env.TRAJFORGE_ENV_PATH = saved;
  });

  it('an extends naming an unknown environment names the file holding the extends and the field', () => {
    const dir = tmp('tf-ext-');
    writeFileSync(join(dir, 'child.yaml'), 'id: Child-v1\nextends: NoSuchParent-v1\n');
    let err: unknown;
    try {
      loadEnv(join(dir, 'child.yaml'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrajforgeError);
    expect((err as TrajforgeError).code).toBe('E_ENV_NOT_FOUND');
    expect((err as TrajforgeError).message).toMatch(new RegExp(`^${join(dir, 'child.yaml')}: extends: unknown environment 'NoSuchParent-v1'`));
    expect((err as TrajforgeError).exitCode).toBe(2);
  });

  it("extends naming the file's own id says so; extending a shipped environment of the same id works", () => {
    const dir = tmp('tf-self-');
    writeFileSync(join(dir, 'self.yaml'), 'id: ExtSelf-v1\nextends: ExtSelf-v1\n');
    expect(() => loadEnv(join(dir, 'self.yaml'))).toThrow(/self\.yaml: extends: 'ExtSelf-v1' is this file's own id, and no other environment has it \(an environment cannot extend itself\)/);
    writeFileSync(join(dir, 'reach.yaml'), 'id: Reach-v1\nextends: Reach-v1\ndescription: tweaked\n');
    expect(loadEnv(join(dir, 'reach.yaml')).config.description).toBe('tweaked');
  });

  it('one broken file on TRAJFORGE_ENV_PATH: envs lists the others and names it on stderr; good ids still load', async () => {
    const dir = tmp('tf-path-');
    writeFileSync(join(dir, 'broken.yaml'), 'id: Broken-v1\nbodies: [unclosed\n');
    writeFileSync(join(dir, 'noid.yaml'), 'description: no id here\n');
    writeFileSync(join(dir, 'mine.yaml'), 'id: Mine-v1\nextends: Reach-v1\ndescription: my reach\n');
    process.env.TRAJFORGE_ENV_PATH = dir;
    const r = await cli(['envs']);
    expect(r.out).toMatch(/^Mine-v1 +my reach/m);
    expect(r.out).toMatch(/^PushCube-v1 /m);
    expect(r.err).toMatch(/^warning: skipped .*broken\.yaml: .*broken\.yaml:\d+:\d+: cannot parse/m);
    expect(r.err).toMatch(/^warning: skipped .*noid\.yaml: .*no string `id`/m);
    expect(r.code).toBe(1);
    expect(loadEnv('Mine-v1').config.id).toBe('Mine-v1');
    expect(loadEnv('PushCube-v1').config.id).toBe('PushCube-v1');
  });

  it('envs --details describes every valid environment and names an invalid one on stderr (exit 1), not stopping at it', async () => {
    const dir = tmp('tf-details-');
    writeFileSync(join(dir, 'bad.yaml'), 'id: Bad-v1\nbodies: []\nworld: { timestep: -1 }\n');
    process.env.TRAJFORGE_ENV_PATH = dir;
    const r = await cli(['envs', '--details']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^PushCube-v1/m);
    expect(r.out).toMatch(/^StackCube-v1/m);
    expect(r.err).toMatch(/^warning: skipped .*bad\.yaml: /m);
    expect(r.err).not.toMatch(/internal error|\n {4}at /);
  });

  it("a file on TRAJFORGE_ENV_PATH with a shipped environment's id replaces it, and envs says which file it hides", async () => {
    const dir = tmp('tf-shadow-');
    writeFileSync(join(dir, 'reach.yaml'), 'id: Reach-v1\nextends: PushCube-v1\ndescription: my own reach\n');
    process.env.TRAJFORGE_ENV_PATH = dir;
    const r = await cli(['envs']);
    expect(r.out).toMatch(/^Reach-v1 +my own reach +\(.*reach\.yaml; hides .*environments\/reach\.v1\.yaml\)$/m);
    expect(loadEnv('Reach-v1').config.description).toBe('my own reach');
  });
});

describe('reported: damaged datasets and mismatched models', () => {
  let root: string;
  beforeAll(async () => {
    root = tmp('tf-reported-');
    for (const [env, out] of [['PushCube-v1', 'push'], ['Reach-v1', 'reach']] as const) {
      const r = await cli(['generate', env, '--episodes', '3', '--out', out, '--workers', '0', '--channels', 'rgb'], root);
      expect(r.code, r.err).toBe(0);
    }
    const r = await cli(['train', 'push', '--out', 'model', '--model', 'linear', '--latent', '8'], root);
    expect(r.code, r.err).toBe(0);
  });

  it('a truncated parquet: validate and train name the file with E_DATASET_INVALID, no stack', async () => {
    const ds = join(root, 'truncated');
    cpSync(join(root, 'push'), ds, { recursive: true });
    const file = join(ds, 'data/chunk-000/file-000.parquet');
    truncateSync(file, Math.floor(statSync(file).size / 2));
    for (const args of [['validate', 'truncated'], ['train', 'truncated', '--out', 'm2', '--model', 'linear']]) {
      const r = await cli(args, root);
      expect(r.code, args[0]).not.toBe(0);
      expect(r.err).toMatch(/^error\[E_DATASET_INVALID\]: /m);
      expect(r.err).toContain('data/chunk-000/file-000.parquet');
      expect(r.err).not.toMatch(/internal error|\n {4}at /);
    }
    expect(existsSync(join(root, 'm2'))).toBe(false);
  });

  it('a video missing or not decoding: convert and train name it with E_DATASET_INVALID (exit 2), not an ffmpeg failure', async () => {
    for (const [name, damage] of [['novideo', (f: string) => rmSync(f)], ['textvideo', (f: string) => writeFileSync(f, 'hello')]] as const) {
      const ds = join(root, name);
      cpSync(join(root, 'push'), ds, { recursive: true });
      const video = join(ds, 'videos/observation.images.top/chunk-000/file-000.mp4');
      damage(video);
      for (const args of [['convert', name, '--to', 'minari', '--out', `${name}-out`], ['train', name, '--out', `${name}-m`, '--model', 'linear']]) {
        const r = await cli(args, root);
        expect(r.code, `${name} ${args[0]}: ${r.err}`).toBe(2);
        expect(r.err).toMatch(/^error\[E_DATASET_INVALID\]: /m);
        expect(r.err).toContain(video);
        expect(r.err).not.toMatch(/internal error|\n {4}at /);
        expect(existsSync(join(root, args.at(-1)!))).toBe(false);
      }
      rmSync(ds, { recursive: true });
    }
  });

  it('an unknown codebase_version and an emptied episodes index are refused by the commands that read them, nothing written', async () => {
    const v9 = join(root, 'v9');
    cpSync(join(root, 'push'), v9, { recursive: true });
    const info = JSON.parse(readFileSync(join(v9, 'meta/info.json'), 'utf8'));
    writeFileSync(join(v9, 'meta/info.json'), JSON.stringify({ ...info, codebase_version: 'v9.9' }));
    const noep = join(root, 'noep');
    cpSync(join(root, 'push'), noep, { recursive: true });
    rmSync(join(noep, 'meta/episodes'), { recursive: true });
    for (const [name, message] of [['v9', 'codebase_version: expected a LeRobot version trajforge reads'], ['noep', 'holds no episodes, but meta/info.json counts 3']] as const) {
      for (const args of [['convert', name, '--to', 'minari', '--out', `${name}-c`], ['replay', name, '--out', `${name}-r`], ['bc', name, '--out', `${name}-bc`]]) {
        const r = await cli(args, root);
        expect(r.code, `${name} ${args[0]}: ${r.err}`).toBe(2);
        expect(r.err).toContain(message);
        expect(existsSync(join(root, args.at(-1)!))).toBe(false);
      }
    }
    rmSync(v9, { recursive: true });
    rmSync(noep, { recursive: true });
  });

  it('a feature shape no row could hold (a billion values) is refused by every reader, naming the field, nothing written', async () => {
    const huge = join(root, 'huge');
    cpSync(join(root, 'push'), huge, { recursive: true });
    const info = JSON.parse(readFileSync(join(huge, 'meta/info.json'), 'utf8'));
    info.features['observation.state'].shape = [1e9];
    writeFileSync(join(huge, 'meta/info.json'), JSON.stringify(info));
    for (const args of [['validate', 'huge'], ['inspect', 'huge'], ['convert', 'huge', '--to', 'minari', '--out', 'huge-c'], ['train', 'huge', '--out', 'huge-m', '--model', 'linear']]) {
      const r = await cli(args, root);
      expect(r.code, `${args[0]}: ${r.err}`).toBe(2);
      expect(r.err).toContain('features.observation.state.shape: expected at most');
      expect(r.err).not.toMatch(/internal error|\n {4}at /);
      if (args.includes('--out')) expect(existsSync(join(root, args.at(-1)!))).toBe(false);
    }
    rmSync(huge, { recursive: true });
  });

  it("validate checks trajforge's sidecars too: a cut trajforge.json, a missing episode line, damaged or missing sidecar arrays", async () => {
    // A copy of the good dataset, damaged in one file, then validated: exit 2, no internal error.
    const validateDamaged = async (name: string, file: string, damage: (path: string) => void) => {
      const dir = join(root, name);
      cpSync(join(root, 'push'), dir, { recursive: true });
      damage(join(dir, file));
      const r = await cli(['validate', name], root);
      rmSync(dir, { recursive: true });
      expect(r.code, `${name}: ${r.out}`).toBe(2);
      expect(r.err).not.toMatch(/internal error|\n {4}at /);
      return r.out;
    };
    const cut = await validateDamaged('cutside', 'meta/trajforge.json', (f) => writeFileSync(f, readFileSync(f, 'utf8').slice(0, 100)));
    expect(cut).toContain('meta/trajforge.json');
    const short = await validateDamaged('shortlines', 'meta/trajforge_episodes.jsonl', (f) => writeFileSync(f, readFileSync(f, 'utf8').split('\n').slice(1).join('\n')));
    expect(short).toContain('trajforge_episodes.jsonl: 2 line(s), but meta/info.json counts 3 episodes');
    // The sidecar arrays: a byte flipped inside a compressed member, and the file gone.
    const NPZ = 'meta/trajforge_episodes/chunk-000/file-000.npz';
    const flipped = await validateDamaged('flipped', NPZ, (f) => {
      const bytes = readFileSync(f);
      const at = Math.floor(bytes.length / 3);
      bytes[at] = bytes[at]! ^ 0xff;
      writeFileSync(f, bytes);
    });
    expect(flipped).toMatch(/file-000\.npz: (episode \d's array '[^']+' is damaged|not a readable npz archive)/);
    const gone = await validateDamaged('gone', NPZ, (f) => rmSync(f));
    expect(gone.match(/file-000\.npz is missing/g)).toHaveLength(1);
    expect((await cli(['validate', 'push'], root)).code).toBe(0);
  });

  it('a stats.json of null: validate names it (exit 2), inspect shows no stats; no internal error', async () => {
    const ds = join(root, 'nullstats');
    cpSync(join(root, 'push'), ds, { recursive: true });
    writeFileSync(join(ds, 'meta/stats.json'), 'null');
    const v = await cli(['validate', 'nullstats'], root);
    expect(v.code).toBe(2);
    expect(v.out).toContain('meta/stats.json: expected an object of per-feature stats, found null');
    const i = await cli(['inspect', 'nullstats'], root);
    expect(i.code, i.err).toBe(0);
    for (const r of [v, i]) expect(r.err).not.toMatch(/internal error|\n {4}at /);
    rmSync(ds, { recursive: true });
  });

  it('sizes past any machine (--hidden 1e9, --threads 1e9) are refused up front, nothing written', async () => {
    for (const [flag, most] of [['--hidden', 16384], ['--latent', 4096], ['--threads', Math.max(64, 4 * availableParallelism())]] as const) {
      const r = await cli(['train', 'push', '--out', 'm-huge', flag, '1000000000'], root);
      expect(r.code, flag).toBe(2);
      expect(r.err).toMatch(new RegExp(`^error\\[E_USAGE\\]: ${flag} must be at most ${most}`));
    }
    expect(existsSync(join(root, 'm-huge'))).toBe(false);
  });

  it('`trajforge inspect DIR | head -1` ends quietly with exit 0, no EPIPE stack', async () => {
    const r = await runIntoClosedPipe(['inspect', join(root, 'push')]);
    expect(r.stderr).not.toMatch(/EPIPE|\n {4}at |internal error/);
    expect(r.code).toBe(0);
  });

  it('eval, encode and predict refuse a PushCube-v1 model on a Reach-v1 dataset before writing anything', async () => {
    const before = readFileSync(join(root, 'model/model.json'), 'utf8');
    const cases = [
      ['eval', '--model', 'model', 'reach', '--out', 'eval-out'],
      ['encode', 'reach', '--model', 'model', '--out', 'encode-out'],
      ['predict', 'reach', '--model', 'model', '--episode', '0', '--out', 'predict-out.mp4'],
      ['eval', '--model', 'model', 'reach'],
    ];
    for (const args of cases) {
      const r = await cli(args, root);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(/^error\[E_USAGE\]: reach is Reach-v1, but the model was trained on PushCube-v1/);
    }
    for (const out of ['eval-out', 'encode-out', 'predict-out.mp4', 'model/eval']) expect(existsSync(join(root, out)), out).toBe(false);
    expect(readFileSync(join(root, 'model/model.json'), 'utf8')).toBe(before);
  });

  it('the same check refuses a model whose action width does not fit the dataset', async () => {
    const ds = join(root, 'actions');
    cpSync(join(root, 'push'), ds, { recursive: true });
    const side = JSON.parse(readFileSync(join(ds, 'meta/trajforge.json'), 'utf8'));
    side.action_names = [...side.action_names, 'extra'];
    writeFileSync(join(ds, 'meta/trajforge.json'), JSON.stringify(side));
    const r = await cli(['eval', '--model', 'model', 'actions', '--out', 'eval-actions'], root);
    expect(r.err).toMatch(/^error\[E_MODEL_SHAPE\]: actions has 3 action dims; the model takes 2/);
    expect(existsSync(join(root, 'eval-actions'))).toBe(false);
    rmSync(ds, { recursive: true });
  });
});
