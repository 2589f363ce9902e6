/**
 * `npm run bench`: prints throughput figures (not a test: numbers depend on the machine).
 * Physics: environment steps/s and physics substeps/s per shipped environment, single thread,
 * random actions, resets excluded from the timing.
 */
import { availableParallelism } from 'node:os';
import { listEnvironments, loadEnv } from '../src/config/load.js';
import { mergeConfig, validateEnvConfig, type ResolvedEnv } from '../src/config/parse.js';
import { Rng } from '../src/core/rng.js';
import { sampleSpace } from '../src/core/spaces.js';
import { createEnv } from '../src/sim/env.js';
import { loadRapier } from '../src/sim/rapier.js';
import { Renderer, type Channel } from '../src/render/renderer.js';
import type { SceneSnapshot } from '../src/core/scene.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

async function physics(name: string, resolved: ResolvedEnv): Promise<void> {
  const env = await createEnv(resolved);
  const rng = new Rng(1);
  let steps = 0;
  let busy = 0;
  let episode = 0;
  // Warm up the JIT before timing.
  const run = (budgetMs: number, count: boolean) => {
    const end = performance.now() + budgetMs;
    while (performance.now() < end) {
      env.reset({ seed: episode++ });
      const t0 = performance.now();
      let n = 0;
      for (;;) {
        const r = env.step(sampleSpace(env.actionSpace, rng));
        n++;
        if (r.terminated || r.truncated) break;
      }
      if (count) {
        busy += performance.now() - t0;
        steps += n;
      }
    }
  };
  run(500, false);
  run(SECONDS * 1000, true);
  const perSec = steps / (busy / 1000);
  const sub = resolved.config.world.substeps;
  const bodies = env.spec.bodyNames.length;
  console.log(`${name.padEnd(30)} ${String(Math.round(perSec)).padStart(8)} env steps/s  ${String(Math.round(perSec * sub)).padStart(9)} physics steps/s  (${sub} substeps, ${bodies} bodies)`);
  env.close();
}

/** The reference scene of the MuJoCo / Rapier comparison: a plane and 20 free boxes and spheres, kept awake. */
async function referenceScene(): Promise<void> {
  const R = await loadRapier();
  const world = new R.World({ x: 0, y: 0, z: -9.81 });
  world.timestep = 1 / 240;
  world.createCollider(R.ColliderDesc.cuboid(10, 10, 0.5).setTranslation(0, 0, -0.5));
  for (let i = 0; i < 20; i++) {
    const b = world.createRigidBody(R.RigidBodyDesc.dynamic().setCanSleep(false).setTranslation((i % 5) * 0.5 - 1, (i % 3) * 0.4, 0.5 + Math.floor(i / 5) * 0.6));
    world.createCollider(i % 2 ? R.ColliderDesc.cuboid(0.1, 0.1, 0.1) : R.ColliderDesc.ball(0.1), b);
  }
  for (let i = 0; i < 2000; i++) world.step();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    for (let k = 0; k < 200; k++) world.step();
    n += 200;
  }
  console.log(`${'reference: plane + 20 free'.padEnd(30)} ${String(Math.round(n / ((performance.now() - t0) / 1000))).padStart(8)} physics steps/s  (raw Rapier, awake bodies; MuJoCo 2.2.2 ~14,600 on this machine class)`);
  world.free();
}

/**
 * Each section runs in a fresh process (`bench.ts <section>`), so one section's JIT and GC state
 * cannot slow the next.
 */
const SECTION = process.argv[2];
if (SECTION === undefined) {
  const { spawnSync } = await import('node:child_process');
  console.log(`trajforge bench — node ${process.version}, Rapier ${(await loadRapier()).version()}, ${SECONDS} s per figure`);
  for (const section of ['physics', 'render', 'generate', 'formats', 'model']) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, section], { stdio: 'inherit', env: process.env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}
if (SECTION === 'physics') {
  console.log('\nPhysics (single thread, random actions):');
  for (const e of listEnvironments()) await physics(e.id, loadEnv(e.file));
}
// falling-objects with 20 bodies: 20 thrown objects + table + ground is 22 primitives.
const falling = loadEnv('FallingObjects-v1');
const twenty = mergeConfig(structuredClone(falling.config), {
  id: 'FallingObjects20-v1',
  bodies: [{ name: 'obj', repeat: 20 }],
  randomize: falling.config.randomize.map((r) => (r.term === 'count' ? { ...r, min: 20, max: 20 } : r)),
});
if (SECTION === 'physics') {
  await physics('FallingObjects-v1 (20 objects)', validateEnvConfig(twenty, 'bench'));
  await referenceScene();
}

/** Rendering: single thread, the 20-object scene (+ table + ground), hard shadows on. */
async function renderBench(): Promise<void> {
  // Consecutive steps of the objects falling and tumbling, rendered in turn (with the next one for
  // flow): a renderer keeps what does not move between frames, so one frame drawn over and over
  // would measure only that.
  const env = await createEnv(validateEnvConfig(twenty, 'bench'));
  env.reset({ seed: 3 });
  for (let t = 0; t < 10; t++) env.step(new Float32Array(0));
  const steps: SceneSnapshot[] = [];
  for (let t = 0; t < 25; t++) {
    steps.push(env.snapshot());
    env.step(new Float32Array(0));
  }
  env.close();
  const at = (s: SceneSnapshot, size: number): SceneSnapshot => ({ ...s, cameras: s.cameras.map((c) => ({ ...c, width: size, height: size })) });
  const fps = (r: Renderer, a: SceneSnapshot[], b: SceneSnapshot[], channels: Channel[]) => {
    for (let i = 0; i < 600; i++) r.render(a[i % a.length]!, 'main', channels, b[i % b.length]);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 500) {
      r.render(a[n % a.length]!, 'main', channels, b[n % b.length]);
      n++;
    }
    return n / ((performance.now() - t0) / 1000);
  };
  console.log(`\nRendering (single thread, ${steps[0]!.primitives.length} primitives incl. ground and table, shadows on, ${steps.length - 1} consecutive steps in turn):`);
  for (const size of [64, 128, 256]) {
    const a = steps.slice(0, -1).map((s) => at(s, size));
    const b = steps.slice(1).map((s) => at(s, size));
    const base = fps(new Renderer(), a, b, ['rgb', 'depth', 'segmentation']);
    const rgbOnly = fps(new Renderer(), a, b, ['rgb']);
    const withFlow = fps(new Renderer(), a, b, ['rgb', 'depth', 'segmentation', 'flow']);
    const all = fps(new Renderer(), a, b, ['rgb', 'depth', 'segmentation', 'flow', 'normals']);
    const aa = fps(new Renderer({ supersample: 2 }), a, b, ['rgb']);
    console.log(
      `${`${size}x${size}`.padEnd(9)} rgb ${Math.round(rgbOnly)}  rgb+depth+seg ${Math.round(base)}  +flow ${Math.round(withFlow)} (+${Math.round((100 * base) / withFlow - 100)}% time)  all five ${Math.round(all)}  rgb 2x2 supersampled ${Math.round(aa)} frames/s`,
    );
  }
}
if (SECTION === 'render') await renderBench();

/** Runs the CLI in a child process: wall seconds, its summary's steps/s and peak RSS (its own, with its worker threads). */
async function timedCli(args: string[]): Promise<{ seconds: number; stdout: string; rssMb: number }> {
  const { spawnSync } = await import('node:child_process');
  const t0 = performance.now();
  const res = spawnSync('/bin/sh', ['-c', `/usr/bin/time -f '%M' ${process.execPath} bin/trajforge.js ${args.map((a) => `'${a}'`).join(' ')}`], { encoding: 'utf8', cwd: process.cwd(), maxBuffer: 1 << 26 });
  if (res.status !== 0) throw new Error(res.stderr);
  return { seconds: (performance.now() - t0) / 1000, stdout: res.stdout, rssMb: Number(res.stderr.trim().split('\n').pop()) / 1024 };
}

/**
 * End to end, in a child process each (so its peak RSS is its own): the README's main job
 * (`npm run generate`: 300 episodes, lossless rgb + depth + segmentation), then push-cube with one
 * 64x64 rgb camera, expert, 2 workers, LeRobot + H.264, at N and 10 N episodes (peak RSS must stay
 * flat from one to the other).
 */
async function generateBench(): Promise<void> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const tmp = mkdtempSync(join(tmpdir(), 'tf-bench-'));
  const steps = (stdout: string) => Number(/(\d+) steps simulated/.exec(stdout)?.[1]);
  console.log('\nGenerate, end to end (wall clock of the whole command, 2 workers):');
  const main = await timedCli(['generate', 'PushCube-v1', '--episodes', '300', '--noise', '0.3', '--epsilon', '0.1', '--codec', 'lossless', '--out', join(tmp, 'main')]);
  const inProcess = /throughput\s+(\d+) steps\/s/.exec(main.stdout)?.[1];
  console.log(`README main job (300 episodes, lossless rgb+depth+seg)  ${Math.round(steps(main.stdout) / main.seconds)} steps/s  (target >= 3,000; ${inProcess} steps/s as the command reports it, start-up excluded)  peak RSS ${main.rssMb.toFixed(0)} MB`);
  const base = Number(process.env.BENCH_EPISODES ?? 1000);
  const rss: number[] = [];
  for (const episodes of [base, base * 10]) {
    const out = join(tmp, `h264-${episodes}`);
    const r = await timedCli(['generate', 'PushCube-v1', '--episodes', String(episodes), '--policy', 'expert', '--codec', 'h264', '--channels', 'rgb', '--workers', '2', '--out', out]);
    rss.push(r.rssMb);
    console.log(`h264 rgb-only ${String(episodes).padStart(6)} episodes  ${String(steps(r.stdout)).padStart(7)} steps  ${Math.round(steps(r.stdout) / r.seconds)} steps/s  (target >= 4,500)  peak RSS ${r.rssMb.toFixed(0)} MB`);
    rmSync(out, { recursive: true, force: true });
  }
  console.log(`peak RSS ${base} -> ${base * 10} episodes: ${(100 * (rss[1]! / rss[0]! - 1)).toFixed(1)}% (target: within 10 %, <= 1 GB)`);
  rmSync(tmp, { recursive: true, force: true });
}

/** `import('trajforge')`: time to import the package entry and whether it loads a native addon or WASM. */
async function importBench(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const entry = new URL('../dist/index.js', import.meta.url).href;
  const probe = `const t0 = performance.now(); await import(${JSON.stringify(entry)}); const ms = performance.now() - t0;
    const addons = process.report.getReport().sharedObjects.filter((s) => s.endsWith('.node'));
    console.log(JSON.stringify({ ms, addons }));`;
  const runs = Array.from({ length: 5 }, () => JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' }).stdout) as { ms: number; addons: string[] });
  const ms = Math.min(...runs.map((r) => r.ms));
  const addons = runs[0]!.addons;
  const t0 = performance.now();
  spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`]);
  console.log(`\nImport: import('trajforge') ${ms.toFixed(0)} ms (best of 5; target < 150), whole process ${(performance.now() - t0).toFixed(0)} ms, native addons loaded: ${addons.length ? addons.join(', ') : 'none'}`);
}
if (SECTION === 'generate') await importBench();
if (SECTION === 'generate' && Number(process.env.BENCH_EPISODES ?? 1) > 0) await generateBench();

/** Steps/s of PushCube (64x64 rgb, expert, 2 workers) per output format and all together. */
async function formatsBench(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const episodes = Number(process.env.BENCH_FORMAT_EPISODES ?? 300);
  console.log(`\nFormats (PushCube-v1, ${episodes} episodes, 64x64 rgb, expert, --workers 2, steps/s end to end; all five: target >= 1,500):`);
  for (const format of ['lerobot', 'dreamer', 'minari', 'rlds', 'frames', 'lerobot,dreamer,minari,rlds,frames']) {
    const out = join(mkdtempSync(join(tmpdir(), 'tf-fmt-')), 'ds');
    const script = `
      import { loadEnv } from './config/load.js';
      import { generateDataset } from './pipeline/generate.js';
      const r = await generateDataset({ env: loadEnv('PushCube-v1'), out: ${JSON.stringify(out)}, episodes: ${episodes}, seed: 0, workers: 2, format: ${JSON.stringify(format)},
        policy: { kind: 'expert', noise: 0, epsilon: 0 }, shard: { index: 0, count: 1 }, resume: false, overwrite: false, codec: 'h264', gop: 2, checkpoint: 32, channels: ['rgb'] });
      console.log(JSON.stringify({ steps: r.steps, seconds: r.seconds, bytes: r.bytes }));`;
    const file = join(process.cwd(), 'dist', 'bench-formats.mjs');
    writeFileSync(file, script);
    const res = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: process.cwd() });
    rmSync(file);
    if (res.status !== 0) throw new Error(res.stderr);
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as { steps: number; seconds: number; bytes: number };
    console.log(`${format.padEnd(36)} ${String(Math.round(r.steps / r.seconds)).padStart(6)} steps/s  ${(r.bytes / 1e6).toFixed(1).padStart(7)} MB`);
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
}
if (SECTION === 'formats') await formatsBench();

/**
 * World model (PushCube-v1 default dataset): train wall time and peak memory, ONNX inference
 * throughput per part (onnxruntime-node, 1 thread, batches of 256 rows; the decoder's of 64), dream vs simulate+render, and the
 * eval headline numbers. Uses data/PushCube-v1 when present (npm run generate), else makes it.
 */
async function modelBench(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const { existsSync, mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const cli = (args: string[]) => {
    const t0 = performance.now();
    const res = spawnSync('/bin/sh', ['-c', `/usr/bin/time -f '%M' ${process.execPath} bin/trajforge.js ${args.map((a) => `'${a}'`).join(' ')}`], { encoding: 'utf8', cwd: process.cwd(), maxBuffer: 1 << 26 });
    if (res.status !== 0) throw new Error(res.stderr);
    const rssKb = Number(res.stderr.trim().split('\n').pop());
    return { seconds: (performance.now() - t0) / 1000, stdout: res.stdout, rssMb: rssKb / 1024 };
  };
  const tmp = mkdtempSync(join(tmpdir(), 'tf-model-'));
  let dataset = 'data/PushCube-v1';
  if (!existsSync(join(dataset, 'meta', 'trajforge.json'))) {
    dataset = join(tmp, 'ds');
    cli(['generate', 'PushCube-v1', '--episodes', '300', '--noise', '0.3', '--epsilon', '0.1', '--codec', 'lossless', '--out', dataset]);
  }
  const modelDir = join(tmp, 'model');
  console.log(`\nWorld model (${dataset}, default options):`);
  const train = cli(['train', dataset, '--out', modelDir]);
  const card = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8')) as { latent: number; input: { width: number; height: number }; action: { names: string[] }; training: { seconds: number } };
  console.log(`train          ${train.seconds.toFixed(1)} s wall (target <= 600 s), peak RSS ${train.rssMb.toFixed(0)} MB`);
  await trainingEngineBench();

  const { WorldModelSession } = await import('../src/model/session.js');
  const { readModelParts } = await import('../src/model/store.js');
  const session = await WorldModelSession.load(card as never, readModelParts(modelDir, card as never));
  const n = 4096;
  const rng = new Rng(1);
  const frames = Float32Array.from({ length: n * card.input.width * card.input.height * 3 }, () => rng.next());
  const actions = Float32Array.from({ length: n * card.action.names.length }, () => rng.uniform(-1, 1));
  const time = async (label: string, unit: string, target: string, f: () => Promise<unknown>) => {
    await f();
    let runs = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      await f();
      runs++;
    }
    const rate = (runs * n) / ((performance.now() - t0) / 1000);
    console.log(`${label.padEnd(14)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} ${unit}/s  (${target})`);
  };
  const z = await session.encode(frames, n);
  // encode and label feed episodes as sequences (each frame also its successor's predecessor);
  // a lone (frame, predecessor) pair costs two frames' work.
  const lengths = Array.from({ length: n / 64 }, () => 64);
  await time('encoder', 'frames', 'target >= 3,000; sequences of 64', () => session.encodeSequences(frames, lengths));
  await time('encoder pairs', 'frames', 'each with its own predecessor frame', () => session.encode(frames, n, frames));
  // What label runs: the encoder in one-thread worker sessions, one per core, fed rgb bytes.
  const { modelWorkers } = await import('../src/parallel/session-pool.js');
  const workers = Math.min(8, availableParallelism());
  const pooled = await WorldModelSession.load(card as never, readModelParts(modelDir, card as never), modelWorkers(workers));
  const rgb = Uint8Array.from(frames, (v) => Math.round(v * 255));
  await time('encoder pool', 'frames', `sequences of 64 as rgb bytes, ${workers} one-thread workers`, () => pooled.encodeSequences(rgb, lengths));
  await pooled.release();
  await time('decoder', 'frames', 'residual decoding needs one per step', () => session.decode(z, n));
  await time('dynamics', 'states', 'target >= 200,000', () => session.step(z, actions, n));
  await time('inverse', 'pairs', '', () => session.inverse(z, z, n));
  await session.release();

  const dream = cli(['dream', '--model', modelDir, '--env', 'PushCube-v1', '--episodes', '1000', '--noise', '0.3', '--epsilon', '0.1', '--out', join(tmp, 'dream'), '--compare']);
  for (const line of dream.stdout.split('\n').filter((l) => /steps\/s|speed|faster/i.test(l))) console.log(`dream          ${line.trim()}`);
  // label's throughput (its quality is label --eval's, on episodes the model did not train on).
  const label = cli(['label', dataset, '--model', modelDir, '--out', join(tmp, 'labelled')]);
  for (const line of label.stdout.split('\n').filter((l) => /throughput/.test(l))) console.log(`label          ${line.replace('throughput', '').trim()} (target >= 2,000 frames/s on 2 cores)`);
  const ev = cli(['eval', '--model', modelDir, dataset, '--out', join(tmp, 'eval')]);
  for (const line of ev.stdout.split('\n').slice(1).filter(Boolean)) console.log(`eval          ${line}`);
  console.log(`eval           ${ev.seconds.toFixed(1)} s wall`);
  rmSync(tmp, { recursive: true, force: true });
}
/**
 * The conv model's training step (forward, backward, Adam) at the default size, on random data:
 * milliseconds a step and frames through the encoder a second. The engine `train` uses on 1 and 2
 * threads (on 2, the batch's two halves in two worker threads: see src/model/conv/shards.ts), and
 * for comparison the one-graph step on 2 threads.
 */
async function trainingEngineBench(): Promise<void> {
  const { DEFAULT_LOSS_WEIGHTS } = await import('../src/model/conv/train-graph.js');
  const { DEFAULT_CONV_OPTIONS: o, initialState, stepEngine } = await import('../src/model/conv/train.js');
  const { startGradientShards } = await import('../src/parallel/gradient-shards.js');
  const shape = { width: 64, height: 64, depth: o.depth, latent: o.latent, hidden: o.hidden, actions: 2, states: 12, coords: o.coords > 0, keypoints: o.keypoints, context: o.context, decoderMaps: o.decoderMaps > 0 };
  const B = o.batch;
  const K = o.rollout;
  const rng = new Rng(2);
  const batch = {
    frames: Float32Array.from({ length: B * (K + shape.context) * 3 * 64 * 64 }, () => rng.next()),
    actions: new Float32Array(B * K * 2),
    rewards: new Float32Array(B * K),
    dones: new Float32Array(B * K),
    states: new Float32Array(B * (K + 1) * 12),
  };
  const engines: [string, number, number | undefined][] = [
    ['1 thread', 1, undefined],
    ['2 threads, 2 shards: the default', 2, undefined],
    ['2 threads, one graph', 2, 1],
  ];
  for (const [label, threads, shards] of engines) {
    const engine = await stepEngine({ shape, rollout: K }, B, DEFAULT_LOSS_WEIGHTS, { threads }, { start: startGradientShards, count: shards });
    const state = initialState(shape, 0);
    await engine.run(batch, state, 1e-4);
    let steps = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      await engine.run(batch, state, 1e-4);
      steps++;
    }
    const ms = (performance.now() - t0) / steps;
    console.log(`train step     ${ms.toFixed(0)} ms (${label}; batch ${B} x ${K + shape.context} frames: ${Math.round((1000 * B * (K + shape.context)) / ms)} encoded + ${Math.round((1000 * B * (K + 1)) / ms)} decoded frames/s, forward + backward + Adam)`);
    await engine.close();
  }
}
if (SECTION === 'model') await modelBench();
// The conv model's training step alone (seconds, not a whole training run): `bench.ts train-step`.
if (SECTION === 'train-step') await trainingEngineBench();
