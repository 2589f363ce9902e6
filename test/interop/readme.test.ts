/**
 * Every command in README.md's shell blocks runs as written, on a small scale: the commands are
 * read from the README itself (so a new or changed command is tested without editing this file),
 * run through the CLI in a scratch folder in the order their inputs and outputs need, with episode
 * counts and training steps scaled down. Commands that cannot run here are skipped only for a
 * listed reason (CI runs them itself, or a suite of their own covers them); an unknown one fails.
 * In the interop suite: it runs the README's whole pipeline (train, label --eval, dream) and
 * stands beside the suites its skips point to.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, tmpDir } from '../helpers/dataset.js';

interface ReadmeCommand {
  /** 1-based line in README.md. */
  line: number;
  text: string;
}

/** The commands of README's ```sh blocks: comments removed, `a && b` split. */
function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  const lines = markdown.split('\n');
  let inShell = false;
  lines.forEach((raw, i) => {
    const fence = /^```(\w*)/.exec(raw.trim());
    if (fence) {
      inShell = !inShell && ['sh', 'bash', 'shell'].includes(fence[1]!);
      return;
    }
    if (!inShell) return;
    const text = raw.replace(/\s#.*$/, '').trim();
    if (!text || text.startsWith('#')) return;
    for (const part of text.split('&&')) out.push({ line: i + 1, text: part.trim() });
  });
  return out;
}

/** Commands this test does not run, and why (each reason must still match a README command). */
const SKIPPED: [RegExp, string][] = [
  [/^npm ci$/, 'CI runs it before the tests'],
  [/^npm test$/, 'this is npm test'],
  [/^npm run test:interop$/, 'CI runs it after npm test'],
  [/^npm run bench$/, 'minutes of measurements; npm run bench is its own job'],
  [/\bsbatch\b/, 'needs a Slurm cluster: test/interop/slurm.test.ts starts one and runs these scripts'],
  [/^export \w+=/, 'sets environment variables for the commands after it'],
  [/^ONNXRUNTIME_NODE_INSTALL=cuda\d* node node_modules\/onnxruntime-node\/script\/install$/, 'the GPU opt-in downloads CUDA libraries; no network here (test/interop/install.test.ts installs without it)'],
  [/^(npx )?trajforge (view|play)\b/, 'serves a page until stopped: test/interop/view.test.ts and play.test.ts drive it in Chromium'],
];

/** The small-scale version of a command's arguments. */
function scaled(argv: string[]): string[] {
  const out = [...argv];
  const cap = (flag: string, max: number) => {
    const i = out.indexOf(flag);
    if (i >= 0) out[i + 1] = String(Math.min(Number(out[i + 1]), max));
    return i >= 0;
  };
  cap('--episodes', 5);
  cap('--workers', 2);
  const command = out[0];
  if (command === 'train' && !cap('--steps', 20)) out.push('--steps', '20');
  if (command === 'bc' && !cap('--steps', 30)) out.push('--steps', '30');
  if (command === 'label' && out.includes('--eval')) out.push('--seeds', '2', '--bc-steps', '20', '--no-shifts');
  if (command === 'eval') out.push('--horizon', '3');
  return out;
}

/** `npm run NAME`: the script's trajforge command, or null when the script runs something else. */
function npmScript(name: string): string[] | null {
  const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
  const m = /node bin\/trajforge\.js (.*)$/.exec(scripts[name] ?? '');
  return m ? m[1]!.split(/\s+/) : null;
}

/** The paths a command reads and writes (positionals and the path-valued options). */
function paths(argv: string[]): { reads: string[]; writes: string[] } {
  const reads: string[] = [];
  const writes: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out') writes.push(argv[++i]!);
    else if (a === '--model' || a === '--from-video') reads.push(argv[++i]!);
    else if (a === '--policy') {
      const p = argv[++i]!;
      if (p.startsWith('onnx:')) reads.push(p.slice(5));
    } else if (a.startsWith('--')) {
      if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) i++;
    } else if (i > 1 || !/^[A-Z]\w*-v\d+$/.test(a)) reads.push(a);
  }
  return { reads: reads.filter((p) => p.includes('/') || p.endsWith('.mp4')), writes };
}

const within = (path: string, folder: string) => path === folder || path.replace(/\/$/, '').startsWith(`${folder.replace(/\/$/, '')}/`);

describe('README commands', () => {
  const root = tmpDir('tf-readme-');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('every shell command in README.md runs as written (small scale)', async () => {
    const commands = readmeCommands(readFileSync('README.md', 'utf8'));
    const runs: { line: number; text: string; argv: string[] }[] = [];
    const skipped = new Map<string, number>();
    for (const c of commands) {
      const skip = SKIPPED.find(([re]) => re.test(c.text));
      if (skip) {
        skipped.set(skip[1], (skipped.get(skip[1]) ?? 0) + 1);
        continue;
      }
      const npm = /^npm run (\S+)$/.exec(c.text);
      const words = c.text.split(/\s+/);
      const argv = npm ? npmScript(npm[1]!) : words[0] === 'npx' && words[1] === 'trajforge' ? words.slice(2) : words[0] === 'trajforge' ? words.slice(1) : null;
      expect(argv, `README.md:${c.line}: \`${c.text}\` is neither a trajforge command nor a listed skip`).not.toBeNull();
      runs.push({ line: c.line, text: c.text, argv: scaled(argv!) });
    }
    // Every skip reason is still used: a stale entry would hide nothing, but says something false.
    for (const [, why] of SKIPPED) expect(skipped.has(why), `no README command is skipped because: ${why}`).toBe(true);

    // Run order: a command after every command that writes what it reads (README order otherwise).
    const order: typeof runs = [];
    const pending = [...runs];
    while (pending.length > 0) {
      const i = pending.findIndex((r) => !paths(r.argv).reads.some((p) => pending.some((o) => o !== r && paths(o.argv).writes.some((w) => within(p, w)))));
      expect(i, `README commands wait on each other in a cycle: ${pending.map((r) => r.text).join(' | ')}`).toBeGreaterThanOrEqual(0);
      order.push(...pending.splice(i, 1));
    }

    // Inputs no README command writes are the user's own files: made here, small.
    const written = runs.flatMap((r) => paths(r.argv).writes);
    const fixtures = [...new Set(runs.flatMap((r) => paths(r.argv).reads))].filter((p) => !written.some((w) => within(p, w)));
    const base = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--codec', 'h264', '--workers', '0', '--out', '.fixture-data'], root);
    expect(base.code, base.err).toBe(0);
    const video = join(root, '.fixture-data', 'videos', 'observation.images.top', 'chunk-000', 'file-000.mp4');
    for (const f of fixtures) {
      const at = resolve(root, f);
      mkdirSync(dirname(at), { recursive: true });
      if (f.endsWith('.mp4')) copyFileSync(video, at);
      else if (f.endsWith('/')) {
        mkdirSync(at, { recursive: true });
        copyFileSync(video, join(at, 'clip-0.mp4'));
      } else {
        const g = await cli(['generate', 'PushCube-v1', '--episodes', '3', '--seed', '1000', '--workers', '0', '--out', f], root);
        expect(g.code, g.err).toBe(0);
        // A dataset `label` reads as video (no --eval) stands for another tool's: LeRobot's files
        // only, without trajforge's sidecars, so the foreign reader is what the command runs on.
        if (runs.some((r) => r.argv[0] === 'label' && !r.argv.includes('--eval') && r.argv[1] === f)) {
          for (const own of ['meta/trajforge.json', 'meta/trajforge_episodes.jsonl', 'meta/trajforge_episodes', '.trajforge-output.json', '.trajforge-run.json']) rmSync(join(at, own), { recursive: true, force: true });
        }
      }
    }

    for (const r of order) {
      const res = await cli(r.argv, root);
      expect(res.code, `README.md:${r.line}: \`trajforge ${r.argv.join(' ')}\` exited ${res.code}\n${res.err}`).toBe(0);
      for (const w of paths(r.argv).writes) expect(existsSync(join(root, w)), `README.md:${r.line}: ${w} was not written`).toBe(true);
    }
    console.log(`README: ${order.length} commands run, ${[...skipped.values()].reduce((a, b) => a + b, 0)} skipped (${[...skipped].map(([why, n]) => `${n}: ${why}`).join('; ')}); fixtures ${fixtures.join(', ') || 'none'}`);
    expect(order.length).toBeGreaterThanOrEqual(20);
    expect(readdirSync(root).length).toBeGreaterThan(1);
  }, 600_000);
});
