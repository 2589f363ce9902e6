/**
 * Nothing lost, whatever happens: --overwrite touches only what trajforge wrote, protected folders
 * are never outputs, one writer per folder, a full or read-only disk ends fast with E_IO and
 * --resume then completes identically, invalid options write nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LEROBOT_ENTRIES, LOCK_FILE, MARKER_FILE, openOutput, recogniseOwnFolder } from '../../../src/output/folder.js';
import { cli, tmpDir } from '../../helpers/dataset.js';

const ENV = 'PushCube-v1';
const SMALL = ['--episodes', '2', '--workers', '0', '--channels', 'rgb'];
const RUN = ['--episodes', '8', '--checkpoint', '2', '--codec', 'lossless', '--channels', 'rgb'];
const CLI = join(process.cwd(), 'test/helpers/cli.ts');

function files(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), base) : [relative(base, join(dir, e.name))]))
    .sort();
}

function expectSameTree(actual: string, expected: string): void {
  expect(files(actual)).toEqual(files(expected));
  for (const f of files(expected)) expect(readFileSync(join(actual, f)).equals(readFileSync(join(expected, f))), f).toBe(true);
}

function userFolder(): string {
  const dir = join(tmpDir('tf-user-'), 'F');
  mkdirSync(join(dir, 'code'), { recursive: true });
  writeFileSync(join(dir, 'thesis.tex'), '\\documentclass{article}');
  writeFileSync(join(dir, 'code', 'main.py'), 'print(1)');
  return dir;
}

/** A pid that belongs to no process: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('--overwrite replaces only what trajforge wrote', () => {
  it("refuses a user's folder and leaves every file in place", async () => {
    const dir = userFolder();
    const r = await cli(['generate', ENV, ...SMALL, '--out', dir, '--overwrite']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error\[E_OUTPUT_NOT_OURS\]: .*F is not a dataset this tool wrote/);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
    expect(files(dir)).toEqual(['code/main.py', 'thesis.tex']);
  });

  it('never writes into the root, the home folder, the working directory or its parents', async () => {
    const cwd = join(tmpDir('tf-cwd-'), 'work', 'project');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, 'notes.md'), 'mine');
    for (const out of ['.', '..', '../..', '/', homedir(), cwd]) {
      const r = await cli(['generate', ENV, ...SMALL, '--out', out, '--overwrite'], cwd);
      expect(r.code, out).toBe(2);
      expect(r.err, out).toMatch(/^error\[E_OUTPUT_NOT_OURS\]: .*never writes into or replaces it/);
    }
    expect(readdirSync(cwd)).toEqual(['notes.md']);
  });

  it('replaces its own dataset, but not once a user file sits in it', async () => {
    const dir = join(tmpDir(), 'ds');
    expect((await cli(['generate', ENV, ...SMALL, '--out', dir])).code).toBe(0);
    const marker = JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8'));
    expect(marker).toEqual({ tool: 'trajforge', kind: 'dataset', command: 'generate', entries: LEROBOT_ENTRIES });
    const again = await cli(['generate', ENV, ...SMALL, '--seed', '1', '--out', dir, '--overwrite']);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'meta', 'trajforge.json'), 'utf8')).run.seed).toBe(1);
    writeFileSync(join(dir, 'analysis.ipynb'), '{}');
    const refused = await cli(['generate', ENV, ...SMALL, '--out', dir, '--overwrite']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/E_OUTPUT_NOT_OURS.*entries trajforge did not write: analysis\.ipynb/);
    expect(existsSync(join(dir, 'analysis.ipynb'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'meta', 'trajforge.json'), 'utf8')).run.seed).toBe(1);
  });

  it('recognises datasets written before the marker by their metadata', () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'meta'));
    writeFileSync(join(dir, 'meta', 'trajforge.json'), '{"config_hash": "0123"}');
    mkdirSync(join(dir, 'data'));
    expect(recogniseOwnFolder(dir)).toEqual({ ours: true, kind: 'dataset', foreign: [], patterns: LEROBOT_ENTRIES });
    writeFileSync(join(dir, 'thesis.tex'), '');
    expect(recogniseOwnFolder(dir).foreign).toEqual(['thesis.tex']);
  });

  it('train refuses an existing model folder without --overwrite, and a foreign one with it', async () => {
    const root = tmpDir();
    const data = join(root, 'data');
    expect((await cli(['generate', ENV, '--episodes', '6', '--workers', '0', '--channels', 'rgb', '--out', data])).code).toBe(0);
    const model = join(root, 'model');
    const first = await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', model]);
    expect(first.code, first.err).toBe(0);
    const card = readFileSync(join(model, 'model.json'));
    const again = await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', model]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/E_DATASET_EXISTS.*--overwrite/);
    expect(readFileSync(join(model, 'model.json')).equals(card)).toBe(true);
    // eval writes its report folder inside the model; a second eval replaces it; a user folder is refused before evaluating.
    for (let i = 0; i < 2; i++) {
      const ev = await cli(['eval', '--model', model, data, '--horizon', '3']);
      expect(ev.code, ev.err).toBe(0);
    }
    expect(JSON.parse(readFileSync(join(model, 'eval', MARKER_FILE), 'utf8')).kind).toBe('report');
    const userReport = userFolder();
    const evRefused = await cli(['eval', '--model', model, data, '--out', userReport]);
    expect(evRefused.code).toBe(2);
    expect(evRefused.err).toMatch(/E_OUTPUT_NOT_OURS/);
    expect(evRefused.err).not.toMatch(/evaluating/);
    expect(files(userReport)).toEqual(['code/main.py', 'thesis.tex']);
    // The model folder with its eval report inside is still recognised as the tool's own.
    const replaced = await cli(['train', data, '--model', 'linear', '--latent', '4', '--out', model, '--overwrite']);
    expect(replaced.code, replaced.err).toBe(0);
    const foreign = userFolder();
    const refused = await cli(['train', data, '--model', 'linear', '--out', foreign, '--overwrite']);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/E_OUTPUT_NOT_OURS/);
    expect(files(foreign)).toEqual(['code/main.py', 'thesis.tex']);
    // A dataset that cannot be read leaves no model folder behind.
    const missing = join(root, 'never');
    const bad = await cli(['train', join(root, 'nope'), '--out', missing]);
    expect(bad.code).not.toBe(0);
    expect(existsSync(missing)).toBe(false);
  }, 120_000);
});

describe('invalid options write nothing', () => {
  it('--epsilon 1.5 is exit 2 before the folder exists; the corrected command then runs', async () => {
    const dir = join(tmpDir(), 'eps');
    const r = await cli(['generate', ENV, ...SMALL, '--epsilon', '1.5', '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error\[E_POLICY_INVALID\]: .*epsilon 1\.5/);
    expect(existsSync(dir)).toBe(false);
    expect((await cli(['generate', ENV, ...SMALL, '--epsilon', '0.5', '--out', dir])).code).toBe(0);
  });

  it('--out naming a file is a usage error that does not advise --resume', async () => {
    const file = join(tmpDir(), 'notes.txt');
    writeFileSync(file, 'x');
    const r = await cli(['generate', ENV, ...SMALL, '--out', file]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_USAGE.*notes\.txt is a file, not a folder/);
    expect(r.err).not.toMatch(/--resume/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('--out under a file is a usage error too (it was ENOTDIR, exit 1)', async () => {
    const file = join(tmpDir(), 'notes.txt');
    writeFileSync(file, 'x');
    const r = await cli(['generate', ENV, ...SMALL, '--out', join(file, 'run1')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_USAGE.*run1 lies under .*notes\.txt, which is a file, not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('--overwrite with --resume is refused', async () => {
    const r = await cli(['generate', ENV, ...SMALL, '--out', join(tmpDir(), 'x'), '--overwrite', '--resume']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_USAGE.*exclude each other/);
  });
});

describe('one writer per output folder', () => {
  it('a live holder refuses a second writer, which writes nothing', async () => {
    const dir = join(tmpDir(), 'locked');
    mkdirSync(dir);
    // The test runner's parent process stands for a live writer on this host.
    const holder = { pid: process.ppid, host: hostname(), command: 'generate', started: '2026-01-01T00:00:00Z' };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(holder));
    const r = await cli(['generate', ENV, ...SMALL, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^error\\[E_OUTPUT_LOCKED\\]: .*process ${process.ppid} on ${hostname()} \\(generate`));
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('a lock whose process is gone is taken over with a notice', async () => {
    const dir = join(tmpDir(), 'stale');
    mkdirSync(dir);
    const pid = deadPid();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), command: 'generate', started: '2026-01-01T00:00:00Z' }));
    const r = await cli(['generate', ENV, ...SMALL, '--out', dir]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`notice: took over the lock of process ${pid} .* which is gone`));
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('a holder on another host counts while it refreshes its lock, and is taken over once it stopped', () => {
    const dir = tmpDir();
    const lock = join(dir, LOCK_FILE);
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'some-other-node', command: 'train', started: 'x' }));
    expect(() => openOutput(dir, { kind: 'dataset', command: 'generate', mode: 'new', entries: ['data'] })).toThrow(/process 1 on some-other-node \(train/);
    const eleventhMinute = new Date(Date.now() - 11 * 60_000);
    utimesSync(lock, eleventhMinute, eleventhMinute);
    const notices: string[] = [];
    const taken = openOutput(dir, { kind: 'dataset', command: 'generate', mode: 'new', entries: ['data'], onNotice: (l) => notices.push(l) });
    expect(notices).toEqual([expect.stringMatching(/took over the lock of process 1 on some-other-node \(train\), which is gone/)]);
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    taken.abandon();
  });

  it('releases the lock when done and on failure, so the next command runs', () => {
    const dir = join(tmpDir(), 'o');
    const a = openOutput(dir, { kind: 'model', command: 'train', mode: 'new', entries: ['model\\.json'] });
    expect(() => openOutput(dir, { kind: 'model', command: 'train', mode: 'new', entries: ['model\\.json'] })).toThrow(/is being written by process/);
    a.abandon();
    expect(existsSync(dir)).toBe(false); // created, nothing written: gone
    const b = openOutput(dir, { kind: 'model', command: 'train', mode: 'new', entries: ['model\\.json'] });
    writeFileSync(join(dir, 'model.json'), '{}');
    b.close();
    expect(readdirSync(dir).sort()).toEqual([MARKER_FILE, 'model.json']);
  });
});

/** Runs the CLI in a child process (a second writer, a killed run). */
function spawnCli(args: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; err: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve({ code, err }))) };
}

describe('concurrency, a full disk and a read-only folder', () => {
  let reference: string;
  beforeAll(async () => {
    reference = join(tmpDir(), 'reference');
    const r = await cli(['generate', ENV, ...RUN, '--workers', '1', '--out', reference]);
    expect(r.code, r.err).toBe(0);
  }, 120_000);

  it('two generates on one folder: one clean refusal, one dataset equal to an uninterrupted run', async () => {
    const dir = join(tmpDir(), 'both');
    const { child, exited: first } = spawnCli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir]);
    // The second starts while the first holds the folder, as a rescheduled task would; the first
    // is paused meanwhile so that it cannot finish before the second arrives.
    // Paused once the lock is written (not merely created), as a live holder looks.
    const lockWritten = () => {
      try {
        return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid > 0;
      } catch {
        return false;
      }
    };
    while (!lockWritten()) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGSTOP');
    const second = await spawnCli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir, '--resume']).exited;
    child.kill('SIGCONT');
    expect(second.code).toBe(1);
    expect(second.err).toMatch(/^error\[E_OUTPUT_LOCKED\]: .* is being written by process \d+/);
    expect(second.err).not.toMatch(/\n\s+at /);
    const a = await first;
    expect(a.code, a.err).toBe(0);
    expectSameTree(dir, reference);
    const again = await cli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir, '--resume']);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/already complete/);
  }, 120_000);

  it('SIGTERM stops a run at once, releases the lock and its ffmpeg children; --resume completes it identically', async () => {
    const dir = join(tmpDir(), 'terminated');
    const { child, exited } = spawnCli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir]);
    const parts = join(dir, '.trajforge', 'parts');
    while (!(existsSync(parts) && readdirSync(parts).some((p) => /^part-\d+$/.test(p)))) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGTERM');
    const { code, err } = await exited;
    expect(code).toBe(143);
    expect(err).toMatch(/SIGTERM: stopped; finished checkpoints are kept, rerun with --resume/);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(spawnSync('pgrep', ['-f', `[f]fmpeg.*${dir}`]).stdout.toString()).toBe('');
    const resumed = await cli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir, '--resume']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/resumed after [1-9]/);
    expectSameTree(dir, reference);
  }, 120_000);

  it('a folder removed while writing ends the run with E_IO instead of a partial dataset in a recreated folder', async () => {
    const dir = join(tmpDir(), 'vanishing');
    const { exited } = spawnCli(['generate', ENV, ...RUN, '--workers', '1', '--out', dir]);
    while (!existsSync(join(dir, '.trajforge', 'parts'))) await new Promise((r) => setTimeout(r, 10));
    // Moved away in one step (a recursive delete could race with the writer's new files).
    renameSync(dir, `${dir}-moved`);
    const { code, err } = await exited;
    expect(code).toBe(1);
    expect(err).toMatch(new RegExp(`^error\\[E_IO\\]: writing ${dir} failed: the folder was removed or replaced while writing`, 'm'));
    expect(existsSync(join(dir, 'meta', 'info.json'))).toBe(false);
  }, 60_000);

  /**
   * A small tmpfs in a private mount namespace (unshare: CI runs as root; elsewhere a user
   * namespace maps the caller to root), so no mount outlives the test.
   */
  function inMountNamespace(script: string): { status: number | null; stdout: string; stderr: string } {
    const asRoot = process.getuid?.() === 0;
    const r = spawnSync('unshare', [asRoot ? '--mount' : '--map-root-user', ...(asRoot ? [] : ['--mount']), 'bash', '-c', script], { encoding: 'utf8', timeout: 110_000 });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('a full disk ends within seconds with E_IO naming the file; --resume after freeing space equals an uninterrupted run', () => {
    const root = tmpDir('tf-full-');
    const mnt = join(root, 'disk');
    const kept = join(root, 'kept');
    const tf = `"${process.execPath}" --import tsx "${CLI}" generate ${ENV} ${RUN.join(' ')} --workers 1 --out "${mnt}/ds"`;
    const r = inMountNamespace(`
      set -u
      mkdir -p "${mnt}" && mount -t tmpfs -o size=400k tmpfs "${mnt}" || exit 90
      start=$(date +%s%N)
      ${tf} > /dev/null 2> "${root}/full.err"; echo "full=$?"
      echo "ms=$(( ($(date +%s%N) - start) / 1000000 ))"
      echo "encoders=$(pgrep -c -f '[f]fmpeg.*${mnt}' || true)"
      mount -o remount,size=64m "${mnt}" || exit 91
      ${tf} --resume > "${root}/resume.out" 2> "${root}/resume.err"; echo "resume=$?"
      cp -a "${mnt}/ds" "${kept}"
    `);
    expect(r.status, r.stderr).toBe(0);
    const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
    const fullErr = readFileSync(join(root, 'full.err'), 'utf8');
    expect(out.full, fullErr).toBe('1');
    expect(fullErr).toMatch(new RegExp(`^error\\[E_IO\\]: writing ${mnt}/ds\\S* failed: the disk is full`, 'm'));
    expect(fullErr).not.toMatch(/internal error|\n\s+at /);
    expect(Number(out.ms)).toBeLessThan(30_000);
    expect(out.encoders).toBe('0'); // no ffmpeg child outlives the failure
    expect(out.resume, readFileSync(join(root, 'resume.err'), 'utf8')).toBe('0');
    expectSameTree(kept, reference);
  }, 120_000);

  // Minari's HDF5 is written by WASM (h5wasm), which reports failed writes only through status codes.
  // Each disk holds about half of what the format writes for this run.
  for (const [format, disk, totalFile] of [
    ['minari', '300k', 'trajforge/pushcube-v1/data/metadata.json'],
    ['dreamer', '64k', 'dreamer.json'],
    ['rlds', '120k', 'push_cube/1.0.0/dataset_info.json'],
    ['frames', '300k', 'episode_000007/metadata.json'],
  ] as const) {
    it(`${format} on a full disk: E_IO naming the file, no library diagnostics; --resume completes`, () => {
      const root = tmpDir('tf-full-');
      const mnt = join(root, 'disk');
      const tf = `"${process.execPath}" --import tsx "${CLI}" generate ${ENV} ${RUN.join(' ')} --workers 1 --format ${format} --out "${mnt}/ds"`;
      const r = inMountNamespace(`
        mkdir -p "${mnt}" && mount -t tmpfs -o size=${disk} tmpfs "${mnt}" || exit 90
        ${tf} > /dev/null 2> "${root}/full.err"; echo "full=$?"
        mount -o remount,size=64m "${mnt}" || exit 91
        ${tf} --resume > /dev/null 2> "${root}/resume.err"; echo "resume=$?"
        test -f "${mnt}/ds/${totalFile}" && echo complete
      `);
      expect(r.status, r.stderr).toBe(0);
      const fullErr = readFileSync(join(root, 'full.err'), 'utf8');
      expect(r.stdout, fullErr + readFileSync(join(root, 'resume.err'), 'utf8')).toBe('full=1\nresume=0\ncomplete\n');
      expect(fullErr).toMatch(new RegExp(`^error\\[E_IO\\]: writing ${mnt}/ds/\\S+ failed: the disk is full`, 'm'));
      expect(fullErr).not.toMatch(/HDF5-DIAG|internal error|\n\s+at /);
    }, 120_000);
  }

  it('a read-only folder is E_IO naming it, exit 1, no stack', () => {
    const root = tmpDir('tf-ro-');
    const mnt = join(root, 'ro');
    const r = inMountNamespace(`
      mkdir -p "${mnt}" && mount -t tmpfs -o size=1m,ro tmpfs "${mnt}" || exit 90
      "${process.execPath}" --import tsx "${CLI}" generate ${ENV} ${SMALL.join(' ')} --out "${mnt}/new"; echo "sub=$?"
      "${process.execPath}" --import tsx "${CLI}" generate ${ENV} ${SMALL.join(' ')} --out "${mnt}"; echo "root=$?"
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sub=1\nroot=1/);
    expect(r.stderr).toMatch(new RegExp(`error\\[E_IO\\]: writing ${mnt}/new failed: the file system is read-only \\(EROFS\\)`));
    expect(r.stderr).toMatch(new RegExp(`error\\[E_IO\\]: writing ${mnt}/${LOCK_FILE.replace('.', '\\.')} failed: the file system is read-only`));
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});

describe('file outputs are atomic', () => {
  it('a failed atomic write leaves neither the file nor its temporary', async () => {
    const { writeFileAtomic } = await import('../../../src/output/atomic.js');
    const dir = tmpDir();
    mkdirSync(join(dir, 'target.json')); // a folder where the file should go: rename fails
    expect(() => writeFileAtomic(join(dir, 'target.json'), 'x')).toThrow(/E_IO|target\.json/);
    expect(readdirSync(dir)).toEqual(['target.json']);
    expect(statSync(join(dir, 'target.json')).isDirectory()).toBe(true);
  });
});

