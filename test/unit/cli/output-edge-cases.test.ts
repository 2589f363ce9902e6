/**
 * Edge cases of output safety found in review: interrupted runs beside user files, look-alike
 * report folders, a model kept when its retraining is refused, resumes with other settings, a
 * checkpoint part removed mid-run, pid reuse after a restart, overlapping inputs and outputs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../../src/pipeline/generate.js';
import { LEROBOT_ENTRIES, LOCK_FILE, MARKER_FILE, PREVIOUS_OUTPUT, openOutput, recogniseOwnFolder, writeOutput, type OutputOptions } from '../../../src/output/folder.js';
import { cli, tmpDir } from '../../helpers/dataset.js';
import { generateOptions, interruptedRun } from '../../helpers/generate.js';

const ENV = 'PushCube-v1';
const SMALL = ['--episodes', '4', '--workers', '0', '--channels', 'rgb'];

let root: string;
let data: string;
let model: string;
beforeAll(async () => {
  root = tmpDir('tf-edge-');
  data = join(root, 'data');
  model = join(root, 'model');
  expect((await cli(['generate', ENV, '--episodes', '6', '--workers', '0', '--channels', 'rgb', '--out', data])).code).toBe(0);
  const t = await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', model]);
  expect(t.code, t.err).toBe(0);
}, 120_000);

describe('what counts as the tool’s own', () => {
  it('an interrupted run declared its entries up front: a user file added later is not replaced', async () => {
    const dir = join(tmpDir(), 'frames');
    await interruptedRun(generateOptions(dir, { format: 'frames' }), 2);
    const marker = JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8'));
    expect(marker.entries).toEqual(['episode_\\d+(\\.tmp)?/([^/]+/)?((rgba|segmentation|normal|forward_flow)_\\d+\\.png|depth_\\d+\\.tiff|(metadata|events|data_ranges)\\.json)']);
    mkdirSync(join(dir, 'mythesis'));
    writeFileSync(join(dir, 'mythesis', 'ch1.tex'), 'x');
    writeFileSync(join(dir, 'notes.txt'), 'y');
    const r = await cli(['generate', ENV, ...SMALL, '--format', 'frames', '--out', dir, '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_OUTPUT_NOT_OURS.*did not write: mythesis, notes\.txt/);
    expect(readFileSync(join(dir, 'mythesis', 'ch1.tex'), 'utf8')).toBe('x');
    // --resume keeps the user's files and finishes the run.
    const resumed = await cli(['generate', ENV, ...SMALL, '--format', 'frames', '--checkpoint', '2', '--out', dir, '--resume']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
  });

  it("--overwrite refuses a user's file saved inside the tool's folders, in every format, and touches nothing", async () => {
    const dir = join(tmpDir(), 'five');
    const formats = ['--format', 'lerobot,minari,dreamer,rlds,frames'];
    expect((await cli(['generate', ENV, ...SMALL, ...formats, '--out', dir])).code).toBe(0);
    const planted = ['lerobot/videos/mine.txt', 'lerobot/data/notes.tmp', 'lerobot/meta/notes.md', 'lerobot/data/mystuff/q', 'minari/analysis.ipynb', 'dreamer/replay/plot.png', 'rlds/README', 'frames/episode_000000/notes.txt'];
    for (const [i, f] of planted.entries()) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), 'mine');
      const r = await cli(['generate', ENV, ...SMALL, ...formats, '--out', dir, '--overwrite']);
      expect(r.code, f).toBe(2);
      expect(r.err).toContain(`did not write: ${f}`);
      expect(readFileSync(join(dir, f), 'utf8')).toBe('mine');
      rmSync(join(dir, f));
      if (i === planted.length - 1) expect((await cli(['generate', ENV, ...SMALL, ...formats, '--out', dir, '--overwrite'])).code).toBe(0);
    }
  });

  it('a marker that declares nothing vouches only for staging entries', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, MARKER_FILE), JSON.stringify({ tool: 'trajforge', kind: 'dataset', command: 'generate', entries: [] }));
    mkdirSync(join(dir, '.trajforge-frames'));
    writeFileSync(join(dir, 'thesis.tex'), '');
    writeFileSync(join(dir, 'draft.tmp'), '');
    expect(recogniseOwnFolder(dir)).toEqual({ ours: true, kind: 'dataset', foreign: ['draft.tmp', 'thesis.tex'], patterns: [] });
  });

  it("eval does not take a user's folder with a report.json and report.md of their own for a report", async () => {
    const notes = join(tmpDir(), 'notes');
    mkdirSync(notes);
    for (const f of ['report.json', 'report.md', 'README.md', 'package.json']) writeFileSync(join(notes, f), '{}');
    const r = await cli(['eval', '--model', model, data, '--out', notes, '--horizon', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_OUTPUT_NOT_OURS/);
    expect(readdirSync(notes).sort()).toEqual(['README.md', 'package.json', 'report.json', 'report.md']);
  });
});

describe('refused commands keep what was there', () => {
  it('train --overwrite with a missing dataset or a bad option keeps the old model', async () => {
    const before = readFileSync(join(model, 'model.json'));
    for (const args of [[join(root, 'typo')], [data, '--camera', 'nope']]) {
      const r = await cli(['train', ...args, '--model', 'linear', '--latent', '4', '--out', model, '--overwrite']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(readFileSync(join(model, 'model.json')).equals(before)).toBe(true);
    }
  });

  it('an output inside an input, or holding one, is refused', async () => {
    const inside = await cli(['train', data, '--model', 'linear', '--out', join(data, 'model')]);
    expect(inside.code).toBe(2);
    expect(inside.err).toMatch(/E_USAGE.*lies inside the input/);
    expect(existsSync(join(data, 'model'))).toBe(false);
    const holding = await cli(['encode', data, '--model', model, '--out', root, '--overwrite']);
    expect(holding.code).toBe(2);
    expect(holding.err).toMatch(/E_USAGE.*holds the input/);
    expect(existsSync(join(data, 'meta', 'info.json'))).toBe(true);
  });

  it('encode writes through the output rules: a user folder is refused, a new one gets the marker', async () => {
    const user = join(tmpDir(), 'mine');
    mkdirSync(user);
    writeFileSync(join(user, 'keep.txt'), 'k');
    const refused = await cli(['encode', data, '--model', model, '--out', user, '--overwrite']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/E_OUTPUT_NOT_OURS/);
    const out = join(tmpDir(), 'encoded');
    const r = await cli(['encode', data, '--model', model, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(join(out, MARKER_FILE), 'utf8'))).toMatchObject({ kind: 'dataset', command: 'encode', entries: LEROBOT_ENTRIES });
    expect(readdirSync(out).some((e) => e.startsWith('.trajforge-encode'))).toBe(false);
  }, 60_000);

  it('--resume of a finished run: a no-op in every format with the same settings, refused with others, a damaged record named', async () => {
    for (const format of ['lerobot', 'rlds']) {
      const dir = join(tmpDir(), `done-${format}`);
      expect((await cli(['generate', ENV, ...SMALL, '--format', format, '--out', dir])).code).toBe(0);
      const again = await cli(['generate', ENV, ...SMALL, '--format', format, '--out', dir, '--resume']);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toMatch(/already complete \(4 episodes/);
      const other = await cli(['generate', ENV, ...SMALL, '--format', format, '--out', dir, '--resume', '--policy', 'random']);
      expect(other.code).toBe(2);
      expect(other.err).toMatch(/finished run with different settings \(these differ: run\.policy\.kind;/);
      writeFileSync(join(dir, '.trajforge-run.json'), '{"config_hash": ');
      const damaged = await cli(['generate', ENV, ...SMALL, '--format', format, '--out', dir, '--resume']);
      expect(damaged.code).toBe(2);
      expect(damaged.err).toMatch(/^error\[E_DATASET_INVALID\]: cannot read .*\.trajforge-run\.json/);
    }
  }, 120_000);
});

describe('resume continues only the run it was started as', () => {
  for (const format of ['dreamer', 'frames', 'lerobot']) {
    it(`${format}: other seed, episodes or policy are refused, naming the settings`, async () => {
      const dir = join(tmpDir(), format);
      await interruptedRun(generateOptions(dir, { format, episodes: 6, checkpoint: 1 }), 3);
      const r = await cli(['generate', ENV, '--episodes', '2', '--seed', '7', '--workers', '0', '--channels', 'rgb', '--checkpoint', '1', '--codec', 'h264', '--format', format, '--out', dir, '--resume']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/E_DATASET_EXISTS.*different settings \(these differ: run\.seed, run\.episodes;/);
      const same = await cli(['generate', ENV, '--episodes', '6', '--workers', '0', '--channels', 'rgb', '--checkpoint', '1', '--codec', 'h264', '--format', format, '--out', dir, '--resume', '--policy', 'expert']);
      expect(same.code, same.err).toBe(0);
      expect(same.out).toMatch(/resumed after 3/);
    });
  }
});

describe('a run whose files vanish under it', () => {
  it('a checkpoint part removed mid-run is E_IO, not a shorter dataset; --resume redoes it', async () => {
    const dir = join(tmpDir(), 'parts');
    const base = generateOptions(dir, { episodes: 6 });
    const vandal = (p: { done: number }) => {
      if (p.done === 5) rmSync(join(dir, '.trajforge', 'parts', 'part-00000'), { recursive: true });
    };
    await expect(generateDataset({ ...base, onProgress: vandal })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/part-00000 of .* vanished while writing/) });
    expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
    const notices: string[] = [];
    const resumed = await generateDataset({ ...base, resume: true, onNotice: (l) => notices.push(l) });
    expect(resumed.episodes).toBe(6);
    expect(notices.join('\n')).toMatch(/part-00000/);
  });
});

describe('a folder moved away mid-run', () => {
  // Writes after the move fail on paths that are gone (a part's rename, meta/ appends); the error
  // names the cause, the folder's loss, not whichever write happened to fail first.
  for (const at of [1, 2, 3]) {
    it(`after episode ${at}: the folder's loss is the error, and nothing lands at the old path`, async () => {
      const dir = join(tmpDir(), `moved-${at}`);
      const mover = (p: { done: number }) => {
        if (p.done === at) renameSync(dir, `${dir}-moved`);
      };
      await expect(generateDataset({ ...generateOptions(dir, { episodes: 6 }), onProgress: mover })).rejects.toMatchObject({
        code: 'E_IO',
        message: expect.stringMatching(/the folder was removed or replaced while writing/),
      });
      expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
    });
  }
});

describe('odd things at the output path', () => {
  it('another trajforge output nested inside is not replaced by --overwrite of the outer one', async () => {
    const outer = join(tmpDir(), 'outer');
    expect((await cli(['generate', ENV, ...SMALL, '--out', outer])).code).toBe(0);
    expect((await cli(['generate', ENV, ...SMALL, '--out', join(outer, 'backup')])).code).toBe(0);
    const r = await cli(['generate', ENV, ...SMALL, '--out', outer, '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_OUTPUT_NOT_OURS.*did not write: backup/);
    expect(existsSync(join(outer, 'backup', 'meta', 'info.json'))).toBe(true);
  });

  it('a lock path that is a folder, and a dangling link as --out, are coded errors without a stack', async () => {
    const dir = join(tmpDir(), 'L');
    mkdirSync(join(dir, LOCK_FILE), { recursive: true });
    const r = await cli(['generate', ENV, ...SMALL, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error\[E_OUTPUT_NOT_OURS\]: .*\.trajforge\.lock is not a lock file trajforge wrote/);
    const link = join(tmpDir(), 'dangling');
    symlinkSync(join(tmpDir(), 'missing-target'), link);
    const d = await cli(['generate', ENV, ...SMALL, '--out', link]);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/E_USAGE.*symbolic link to a folder that does not exist/);
  });
});

describe('interrupted runs of other kinds', () => {
  it("a resume as another format is refused and leaves the first run's marker, so its files stay its own", async () => {
    const dir = join(tmpDir(), 'frames-then-lerobot');
    await interruptedRun(generateOptions(dir, { format: 'frames' }), 2);
    const marker = readFileSync(join(dir, MARKER_FILE), 'utf8');
    const r = await cli(['generate', ENV, ...SMALL, '--format', 'lerobot', '--out', dir, '--resume']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_DATASET_EXISTS.*different settings \(these differ: format,/);
    expect(readFileSync(join(dir, MARKER_FILE), 'utf8')).toBe(marker);
    expect(recogniseOwnFolder(dir).foreign).toEqual([]);
  });

  it('Ctrl-C stops a run whose writer writes synchronously at once (frames), keeping its checkpoints', async () => {
    const dir = join(tmpDir(), 'sigint-frames');
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'test/helpers/cli.ts'), 'generate', ENV, '--episodes', '300', '--workers', '1', '--channels', 'rgb', '--format', 'frames', '--out', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    while (!existsSync(join(dir, 'episode_000001'))) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toMatch(/SIGINT: stopped; finished checkpoints are kept/);
    expect(readdirSync(dir).filter((e) => /^episode_\d+$/.test(e)).length).toBeLessThan(300);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  }, 60_000);

  it("a user's own ONNX file or eval folder in a model folder is not the tool's", async () => {
    const copy = join(tmpDir(), 'model-copy');
    expect((await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', copy])).code).toBe(0);
    writeFileSync(join(copy, 'my_export.onnx'), 'mine');
    const r = await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', copy, '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_OUTPUT_NOT_OURS.*did not write: my_export\.onnx/);
    rmSync(join(copy, 'my_export.onnx'));
    mkdirSync(join(copy, 'eval'));
    writeFileSync(join(copy, 'eval', 'notes.md'), 'mine');
    expect(recogniseOwnFolder(copy).foreign).toEqual(['eval']);
  });
});

describe('single-file outputs', () => {
  it('render, predict and schema replace an existing file only with --overwrite', async () => {
    const dir = tmpDir();
    const thesis = join(dir, 'thesis.tex');
    writeFileSync(thesis, 'mine');
    const cases = [
      ['render', ENV, '--out', thesis],
      ['predict', data, '--model', model, '--episode', '0', '--horizon', '3', '--out', thesis],
      ['schema', '--out', thesis],
    ];
    for (const args of cases) {
      const r = await cli(args);
      expect(r.code, args[0]).toBe(2);
      expect(r.err, args[0]).toMatch(/E_DATASET_EXISTS.*thesis\.tex exists; pass --overwrite/);
      expect(readFileSync(thesis, 'utf8')).toBe('mine');
    }
    const replaced = await cli(['render', ENV, '--out', thesis, '--overwrite']);
    expect(replaced.code, replaced.err).toBe(0);
    expect(readFileSync(thesis).subarray(1, 4).toString()).toBe('PNG');
  }, 60_000);
});

describe('--overwrite keeps the previous output until the new one is complete', () => {
  /** Every file under dir with its bytes, by relative path. */
  const snapshot = (dir: string): Record<string, string> =>
    Object.fromEntries(
      (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
        .filter((d) => d.isFile())
        .map((d) => {
          const path = join(d.parentPath, d.name);
          return [path.slice(dir.length + 1), readFileSync(path).toString('base64')];
        }),
    );

  it('convert, replay, merge and encode failing on a damaged input put the old dataset back, byte for byte', async () => {
    const root = tmpDir();
    const damaged = join(root, 'damaged');
    expect((await cli(['generate', ENV, ...SMALL, '--out', damaged])).code).toBe(0);
    // Videos that do not decode (convert, merge, encode read them) and a data file cut short (replay reads it).
    for (const f of readdirSync(join(damaged, 'videos'), { recursive: true }) as string[]) if (f.endsWith('.mp4')) writeFileSync(join(damaged, 'videos', f), 'not a video');
    const parquet = join(damaged, 'data/chunk-000/file-000.parquet');
    writeFileSync(parquet, readFileSync(parquet).subarray(0, 200));
    const out = join(root, 'out');
    expect((await cli(['generate', ENV, ...SMALL, '--seed', '5', '--out', out])).code).toBe(0);
    const before = snapshot(out);
    for (const args of [
      ['convert', damaged, '--to', 'lerobot', '--out', out, '--overwrite'],
      ['replay', damaged, '--out', out, '--overwrite'],
      ['merge', data, damaged, '--out', out, '--overwrite'],
      ['encode', damaged, '--model', model, '--out', out, '--overwrite'],
    ]) {
      const r = await cli(args);
      expect(r.code, `${args[0]}: ${r.err}`).not.toBe(0);
      expect(snapshot(out), args[0]).toEqual(before);
    }
    // A run that completes replaces it and leaves nothing set aside.
    expect((await cli(['generate', ENV, ...SMALL, '--out', out, '--overwrite'])).code).toBe(0);
    expect(existsSync(join(out, PREVIOUS_OUTPUT))).toBe(false);
    expect(snapshot(out)).not.toEqual(before);
  }, 120_000);

  it('a failure inside the write callback restores the previous entries and marker', async () => {
    const dir = tmpDir();
    const spec: OutputOptions = { kind: 'report', command: 'eval', mode: 'new', entries: ['report\\.json', 'charts'] };
    await writeOutput(dir, spec, async () => {
      writeFileSync(join(dir, 'report.json'), 'old');
      mkdirSync(join(dir, 'charts'));
      writeFileSync(join(dir, 'charts', 'a.png'), 'png');
    });
    const before = snapshot(dir);
    await expect(
      writeOutput(dir, { ...spec, mode: 'overwrite' }, async () => {
        expect(existsSync(join(dir, 'report.json'))).toBe(false);
        writeFileSync(join(dir, 'report.json'), 'new, half written');
        throw new Error('disk full');
      }),
    ).rejects.toThrow();
    expect(snapshot(dir)).toEqual(before);
  });
});

describe('locks after a restart', () => {
  it("a lock carrying this process's pid but not issued by it (a restarted container) is taken over", () => {
    const dir = tmpDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), command: 'generate', started: '2020-01-01T00:00:00Z', id: 'before-restart' }));
    const notices: string[] = [];
    const out = openOutput(dir, { kind: 'dataset', command: 'generate', mode: 'resume', entries: ['data'], onNotice: (l) => notices.push(l) });
    expect(notices).toEqual([expect.stringMatching(new RegExp(`took over the lock of process ${process.pid}`))]);
    out.abandon();
  });

  it('a lock of a killed process not yet reaped (a zombie) is taken over, not reported as held', async () => {
    // sh starts a child that exits at once and then becomes `sleep`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 10'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString()))));
    const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    for (let i = 0; i < 100 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(state()).toBe('Z');
    const dir = tmpDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: 'generate', started: new Date().toISOString(), id: 'killed' }));
    const notices: string[] = [];
    const out = openOutput(dir, { kind: 'dataset', command: 'generate', mode: 'resume', entries: ['data'], onNotice: (l) => notices.push(l) });
    expect(notices).toEqual([expect.stringMatching(new RegExp(`took over the lock of process ${pid}`))]);
    out.abandon();
    parent.kill();
  });
});

describe('a closed stderr', () => {
  it('keeps the exit code of the command', async () => {
    const user = join(tmpDir(), 'F');
    mkdirSync(user);
    writeFileSync(join(user, 'thesis.tex'), 'x');
    const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'test/helpers/cli.ts'), 'generate', ENV, ...SMALL, '--out', user, '--overwrite'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.destroy();
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(readFileSync(join(user, 'thesis.tex'), 'utf8')).toBe('x');
  });
});
