/**
 * The README's Slurm recipe on a real scheduler. A single-node Slurm cluster (Debian's slurm-wlm
 * and munge, started here on loopback) runs scripts/slurm/generate.sbatch as an array, one shard
 * per task; one task is requeued while it writes (Slurm stops it with SIGTERM) and its second
 * attempt resumes the shard; scripts/slurm/merge.sbatch, submitted with afterok on the array, joins
 * the shards; and the merged dataset is the one a single-machine run writes: every data and
 * metadata file byte-identical, the episode index equal but for where the videos are, and every
 * episode's decoded frames identical (lossless video).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlurmCluster } from './slurm/cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 3;
/**
 * 20 episodes a shard with a checkpoint per episode, so a task is reliably stopped between
 * checkpoints (merged stats equal a single run's at any checkpoint size; test/unit/export/
 * lerobot-merge.test.ts checks the default one).
 */
const SETTINGS = { TRAJFORGE_ENV: 'PushCube-v1', TRAJFORGE_EPISODES: '60', TRAJFORGE_SEED: '7', TRAJFORGE_ARGS: '--codec lossless --checkpoint 1' };
const REQUEUED = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, seconds: number, probe: () => T | undefined, detail: () => string): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const v = probe();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`${what}: not within ${seconds} s\n${detail()}`);
}

/** `scontrol -o show job` as one record per job (array tasks are separate records). */
function jobs(cluster: SlurmCluster, id: string): Record<string, string>[] {
  return cluster
    .run('scontrol', ['-o', 'show', 'job', id])
    .trim()
    .split('\n')
    .map((line) => Object.fromEntries(line.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])));
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

interface SlurmRun {
  out: string;
  single: string;
  merged: string;
  array: string;
  merge: string;
  /** The requeued task's state right after its first attempt ended. */
  stopped: { parts: number; finished: boolean; restarts: string };
  tasks: Record<string, string>[];
  mergeJob: Record<string, string>;
  logs: string[];
  mergeLog: string;
}

const cluster = new SlurmCluster();
let run: Promise<SlurmRun>;

async function slurmRun(): Promise<SlurmRun> {
  // The jobs run the built CLI (bin/trajforge.js -> dist/), as users do: build it from these sources.
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    throw new Error(`building dist/ (tsc -p tsconfig.build.json) failed:\n${String((e as { stdout?: Buffer }).stdout ?? e)}`);
  }
  await cluster.start(2);
  const out = join(cluster.dir, 'push');
  mkdirSync(out);
  const trajforge = `${process.execPath} ${join(ROOT, 'bin/trajforge.js')}`;
  expect(trajforge, 'TRAJFORGE is split on spaces by the job script').not.toMatch(/ .* .* /);
  // The settings travel as the submitting environment; the workers default to --cpus-per-task.
  const env = cluster.env({ ...SETTINGS, TRAJFORGE: trajforge, TRAJFORGE_OUT: out });
  const sbatch = (...args: string[]) => cluster.run('sbatch', ['--parsable', `--chdir=${out}`, ...args], env).trim().split(';')[0]!;
  const array = sbatch(`--array=0-${SHARDS - 1}`, '--cpus-per-task=1', join(ROOT, 'scripts/slurm/generate.sbatch'));
  const merge = sbatch(`--dependency=afterok:${array}`, join(ROOT, 'scripts/slurm/merge.sbatch'));
  const log = (k: number) => join(out, `trajforge-generate-${array}_${k}.out`);
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '(no log)');
  const detail = () => `${cluster.run('squeue', [])}\n${[0, 1, 2].map((k) => read(log(k))).join('\n')}\n${cluster.logs()}`;

  // Requeue the task once its shard has a finished checkpoint (part) but is not complete.
  const shard = join(out, `shard-${REQUEUED}`);
  const parts = () => (existsSync(join(shard, '.trajforge/parts')) ? readdirSync(join(shard, '.trajforge/parts')).filter((p) => /^part-\d+$/.test(p)).length : 0);
  await until(`a checkpoint of shard ${REQUEUED}`, 120, () => (parts() > 0 ? true : undefined), detail);
  cluster.run('scontrol', ['requeue', `${array}_${REQUEUED}`]);
  // Back to PENDING means the first attempt's processes are gone: what it left is what it wrote.
  const task = await until(`task ${REQUEUED} pending again`, 60, () => jobs(cluster, `${array}_${REQUEUED}`).find((j) => j.JobState === 'PENDING'), detail);
  const stopped = { parts: parts(), finished: existsSync(join(shard, 'meta/info.json')), restarts: task.Restarts! };
  // Slurm holds a requeued job back for about two minutes (Reason=BeginTime); let it start now.
  cluster.run('scontrol', ['update', `JobId=${array}_${REQUEUED}`, 'StartTime=now']);

  await until('the array and the merge job to end', 180, () => (cluster.run('squeue', ['-h', '-j', `${array},${merge}`]).trim() === '' ? true : undefined), detail);
  const tasks = jobs(cluster, array).sort((a, b) => Number(a.ArrayTaskId) - Number(b.ArrayTaskId));
  const mergeJob = jobs(cluster, merge)[0]!;

  // The same run on one machine, with more workers (the dataset does not depend on them).
  const single = join(cluster.dir, 'single');
  const args = ['generate', SETTINGS.TRAJFORGE_ENV, '--episodes', SETTINGS.TRAJFORGE_EPISODES, '--seed', SETTINGS.TRAJFORGE_SEED, ...SETTINGS.TRAJFORGE_ARGS.split(' '), '--out', single, '--workers', '2'];
  execFileSync(process.execPath, [join(ROOT, 'bin/trajforge.js'), ...args], { cwd: cluster.dir, stdio: 'pipe' });
  return {
    out,
    single,
    merged: join(out, 'merged'),
    array,
    merge,
    stopped,
    tasks,
    mergeJob,
    logs: [0, 1, 2].map((k) => read(log(k))),
    mergeLog: read(join(out, `trajforge-merge-${merge}.out`)),
  };
}

beforeAll(() => {
  run = slurmRun();
  // Each test awaits the run and fails with its error; this only keeps it from being unhandled.
  run.catch(() => undefined);
});
afterAll(async () => {
  await run.catch(() => undefined);
  await cluster.stop();
}, 120_000);

describe('Slurm: scripts/slurm/generate.sbatch as an array, a task requeued mid-run, merge.sbatch after it', () => {
  it('every task succeeds; the requeued one was stopped between checkpoints and its second attempt resumed', async () => {
    const r = await run;
    expect(r.tasks.map((t) => [t.ArrayTaskId, t.JobState, t.ExitCode]), r.logs.join('\n')).toEqual([0, 1, 2].map((k) => [String(k), 'COMPLETED', '0:0']));
    expect(r.tasks.map((t) => t.Restarts)).toEqual(['0', '1', '0']);
    // When the first attempt had ended, the shard had finished checkpoints but was not complete.
    expect(r.stopped.restarts).toBe('1');
    expect(r.stopped.finished, 'the shard was complete before the requeue reached the task').toBe(false);
    expect(r.stopped.parts).toBeGreaterThan(0);
    // The task's log (append mode) holds both attempts.
    const log = r.logs[REQUEUED]!;
    expect(log).toContain(`trajforge shard ${REQUEUED}/${SHARDS} of job ${r.array}: attempt 1`);
    expect(log).toMatch(/CANCELLED AT .* DUE TO JOB REQUEUE/);
    expect(log).toContain('SIGTERM: stopped; finished checkpoints are kept');
    expect(log).toContain(`trajforge shard ${REQUEUED}/${SHARDS} of job ${r.array}: attempt 2`);
    const resumed = /episodes +20 \(resumed after (\d+)\)/.exec(log);
    expect(resumed, log).not.toBeNull();
    expect(Number(resumed![1])).toBe(r.stopped.parts);
    for (const k of [0, 2]) {
      expect(r.logs[k]).toContain(`trajforge shard ${k}/${SHARDS} of job ${r.array}: attempt 1`);
      expect(r.logs[k]).not.toContain('attempt 2');
      expect(r.logs[k]).toMatch(/episodes +20\n/);
    }
    expect([r.mergeJob.JobState, r.mergeJob.ExitCode], r.mergeLog).toEqual(['COMPLETED', '0:0']);
    expect(r.mergeLog).toContain(`merged ${SHARDS} dataset(s) into ${r.merged}: 60 episodes`);
  });

  it('the merged shards are the dataset of a single-machine run', async () => {
    const { single, merged } = await run;
    // Where the videos are differs (merge copies each shard's video files as they are); all else is the same bytes.
    const placed = (f: string) => f.startsWith('videos/') || f.startsWith('meta/episodes/');
    const own = ['.trajforge-output.json', '.trajforge-run.json'];
    const same = files(single).filter((f) => !placed(f) && !own.includes(f));
    expect(same).toEqual(expect.arrayContaining(['data/chunk-000/file-000.parquet', 'meta/info.json', 'meta/stats.json', 'meta/tasks.parquet', 'meta/trajforge_episodes.jsonl']));
    expect(files(merged).filter((f) => !placed(f) && f !== '.trajforge-output.json')).toEqual(same);
    for (const f of same) expect(readFileSync(join(merged, f)).equals(readFileSync(join(single, f))), f).toBe(true);
    const marker = (d: string) => JSON.parse(readFileSync(join(d, '.trajforge-output.json'), 'utf8'));
    expect(marker(merged)).toEqual({ ...marker(single), command: 'merge' });

    // The episode index: every column equal except the video addresses.
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const episodes = async (d: string) =>
      (await db.runAndReadAll(`SELECT * FROM '${join(d, 'meta/episodes/*/*.parquet')}' ORDER BY episode_index`)).getRowObjectsJson();
    const [a, b] = [await episodes(single), await episodes(merged)];
    const located = (rows: Record<string, unknown>[]) => rows.map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => !k.startsWith('videos/'))));
    expect(b).toHaveLength(60);
    expect(located(b)).toEqual(located(a));

    // Every episode's frames, decoded from wherever each dataset put them, are identical.
    const info = JSON.parse(readFileSync(join(single, 'meta/info.json'), 'utf8')) as { fps: number; features: Record<string, { dtype: string; shape: number[] }> };
    const videoKeys = Object.keys(info.features).filter((k) => info.features[k]!.dtype === 'video');
    expect(videoKeys).toEqual(['observation.images.top']);
    const ffmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    const decoded = new Map<string, Buffer>();
    const decode = (file: string) => {
      if (!decoded.has(file)) decoded.set(file, execFileSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-vsync', 'passthrough', 'pipe:1'], { maxBuffer: 1 << 29 }));
      return decoded.get(file)!;
    };
    for (const key of videoKeys) {
      const frameBytes = info.features[key]!.shape.reduce((x, y) => x * y, 1);
      const frames = (d: string, row: Record<string, unknown>) => {
        const file = join(d, 'videos', key, `chunk-${String(row[`videos/${key}/chunk_index`]).padStart(3, '0')}`, `file-${String(row[`videos/${key}/file_index`]).padStart(3, '0')}.mp4`);
        const start = Math.round(Number(row[`videos/${key}/from_timestamp`]) * info.fps) * frameBytes;
        const rgb = decode(file);
        const end = start + Number(row.length) * frameBytes;
        expect(end, `${file} holds episode ${String(row.episode_index)}`).toBeLessThanOrEqual(rgb.length);
        return rgb.subarray(start, end);
      };
      // The merged dataset keeps one video file per shard.
      expect(new Set(b.map((row) => row[`videos/${key}/file_index`])).size).toBe(SHARDS);
      a.forEach((row, i) => expect(frames(merged, b[i]!).equals(frames(single, row)), `${key}, episode ${i}`).toBe(true));
    }
  });
});
