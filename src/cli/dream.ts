import { resolve } from 'node:path';
import { loadEnv } from '../config/load.js';
import { TrajforgeError } from '../core/errors.js';
import { episodeSeed } from '../episode/rollout.js';
import { simulateEpisode } from '../episode/simulate.js';
import { DEFAULT_LAYOUT } from '../export/lerobot/format.js';
import { writeOutput } from '../output/folder.js';
import { sinkFor } from '../export/registry.js';
import { writeEpisodes } from '../dataset/sink.js';
import { datasetMeta } from '../dataset/meta.js';
import { checkModelForEnv, dreamEpisodes, type DreamStats } from '../model/dream.js';
import { WorldModelSession } from '../model/session.js';
import { readModelCard, readModelParts } from '../model/store.js';
import { makePolicy, POLICY_KINDS, type PolicyKind } from '../policy/index.js';
import { Renderer } from '../render/renderer.js';
import { createEnv } from '../sim/env.js';
import { CODECS, type VideoCodec } from '../video/ffmpeg.js';
import { intOption, numberOption, parse } from './args.js';
import { outputOptions, type Command } from './io.js';

export const dreamCommand: Command = {
  name: 'dream',
  summary: 'roll out synthetic episodes inside a world model (real reset frames, learned dynamics) and write a dataset',
  usage:
    'trajforge dream --model MODEL_DIR --env <env id or file> --out DIR [--episodes 50] [--policy expert|random|noise] [--noise 0] [--epsilon 0] ' +
    '[--seed 0] [--horizon T (default: the env time limit)] [--batch 256] [--format lerobot] ' +
    `[--codec ${Object.keys(CODECS).join('|')}] [--gop 2] [--overwrite] [--compare]`,
  async run(args, io) {
    const { values } = parse(
      args,
      {
        model: { type: 'string' },
        env: { type: 'string' },
        out: { type: 'string' },
        episodes: { type: 'string' },
        policy: { type: 'string' },
        noise: { type: 'string' },
        epsilon: { type: 'string' },
        seed: { type: 'string' },
        horizon: { type: 'string' },
        batch: { type: 'string' },
        format: { type: 'string' },
        codec: { type: 'string' },
        gop: { type: 'string' },
        overwrite: { type: 'boolean' },
        compare: { type: 'boolean' },
      },
      this.usage,
    );
    if (!values.model) throw new TrajforgeError('E_USAGE', `missing --model MODEL_DIR\nusage: ${this.usage}`);
    if (!values.env) throw new TrajforgeError('E_USAGE', `missing --env\nusage: ${this.usage}`);
    if (!values.out) throw new TrajforgeError('E_USAGE', `missing --out DIR\nusage: ${this.usage}`);
    const format = values.format ?? 'lerobot';
    const sink = sinkFor(format);
    const codec = (values.codec ?? 'h264') as VideoCodec;
    if (!(codec in CODECS)) throw new TrajforgeError('E_USAGE', `unknown --codec '${codec}' (known: ${Object.keys(CODECS).join(', ')})`);
    const gop = intOption(values.gop, 'gop', 2, 1);
    const episodes = intOption(values.episodes, 'episodes', 50, 1);
    const seed = intOption(values.seed, 'seed', 0);
    const batch = intOption(values.batch, 'batch', 256, 1);
    const noise = numberOption(values.noise, 'noise', 0);
    const epsilon = numberOption(values.epsilon, 'epsilon', 0);
    if (noise < 0) throw new TrajforgeError('E_USAGE', `--noise must be >= 0, got ${noise}`);
    if (epsilon < 0 || epsilon > 1) throw new TrajforgeError('E_USAGE', `--epsilon must be in [0, 1], got ${epsilon}`);
    const compare = (values.compare as unknown) === true;

    const resolved = loadEnv(values.env, { baseDir: io.cwd });
    const cfg = resolved.config;
    const kind = (values.policy ?? (cfg.expert ? 'expert' : 'noise')) as PolicyKind;
    if (!POLICY_KINDS.includes(kind) || kind === 'replay') throw new TrajforgeError('E_USAGE', `--policy must be one of expert, random, noise; got '${kind}'`);
    if (kind === 'expert' && !cfg.expert) throw new TrajforgeError('E_USAGE', `${cfg.id} declares no expert; use --policy random or noise`);
    const horizon = intOption(values.horizon, 'horizon', cfg.task.timeLimit, 1);

    const modelDir = resolve(io.cwd, values.model);
    const card = readModelCard(modelDir);
    if (card.dataset.env_id !== cfg.id) throw new TrajforgeError('E_USAGE', `the model was trained on ${card.dataset.env_id}, not ${cfg.id}`);
    const env = await createEnv(resolved);
    try {
      checkModelForEnv(card, env);
      if (card.dataset.config_hash !== resolved.hash) io.err(`note: ${cfg.id}'s config differs from the one the model was trained on (hash ${card.dataset.config_hash.slice(0, 12)})\n`);
      const out = resolve(io.cwd, values.out);

      const policyOpts = { noise, epsilon };
      const meta = datasetMeta(resolved, {
        cameras: [{ name: card.camera, width: card.decoded.width, height: card.decoded.height, channels: ['rgb'] }],
        source: { kind: 'world-model', modelId: card.id, model: modelDir },
        run: { seed, episodes, shard: { index: 0, count: 1 }, policy: { kind, noise, epsilon }, codec, gop, checkpoint: 32, layout: DEFAULT_LAYOUT },
      });
      const jobs = Array.from({ length: episodes }, (_, k) => ({ episode: k, seed: episodeSeed(seed, k) }));
      const session = await WorldModelSession.load(card, readModelParts(modelDir, card));
      const dream = (stats: DreamStats) => dreamEpisodes({ model: session, env, renderer: new Renderer(), makePolicy: () => makePolicy(kind, env, policyOpts), jobs, horizon, batch }, stats);
      const rate = (n: number, s: number) => (s > 0 ? Math.round(n / s) : 0);
      try {
        const spec = outputOptions(io, { kind: 'dataset', command: 'dream', mode: (values.overwrite as unknown) === true ? 'overwrite' : 'new', entries: sink.entries(meta), accepts: ['overwrite'], inputs: [modelDir] });
        const stats: DreamStats = { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };
        let successes = 0;
        let frames = 0;
        const started = performance.now();
        await writeOutput(out, spec, (folder) =>
          writeEpisodes(sink, folder, meta, dream(stats), (ep) => {
            successes += ep.success[ep.length - 1] ? 1 : 0;
            frames += ep.length;
          }),
        );
        const total = (performance.now() - started) / 1000;
        const dreamSeconds = stats.modelSeconds + stats.startSeconds;
        io.out(`dreamed ${cfg.id} with model ${card.id} -> ${values.out} (${format})\n`);
        io.out(`  episodes      ${episodes} (policy ${kind}, horizon ${horizon})\n`);
        io.out(`  frames        ${frames} at ${card.decoded.width}x${card.decoded.height} (camera ${card.camera})\n`);
        io.out(`  terminated    ${successes} (${((100 * successes) / episodes).toFixed(1)}%, done head > 0.5)\n`);
        io.out(
          `  throughput    ${rate(stats.steps, dreamSeconds)} steps/s, ${rate(frames, dreamSeconds)} frames/s ` +
            `(${stats.steps} steps in ${dreamSeconds.toFixed(2)} s: model ${stats.modelSeconds.toFixed(2)} s, resets + start frames ${stats.startSeconds.toFixed(2)} s; ${total.toFixed(1)} s with writing)\n`,
        );
        if (compare) {
          // Like for like: the simulator pass below writes nothing, so the dream is timed again
          // without the writer too (its ffmpeg encoders otherwise share the machine with the model).
          const alone: DreamStats = { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };
          let replayed = 0;
          for await (const ep of dream(alone)) replayed += ep.length;
          const renderer = new Renderer();
          const policy = makePolicy(kind, env, policyOpts);
          let simSteps = 0;
          const t0 = performance.now();
          for (const j of jobs) simSteps += simulateEpisode(env, policy, renderer, j.episode, j.seed, [{ name: card.camera, channels: ['rgb'] }]).length;
          const simSeconds = (performance.now() - t0) / 1000;
          const simRate = simSteps / simSeconds;
          const dreamRate = alone.steps / (alone.modelSeconds + alone.startSeconds);
          io.out(`  dream alone   ${Math.round(dreamRate)} steps/s (the same ${replayed} steps dreamed again, nothing written)\n`);
          io.out(`  simulator     ${Math.round(simRate)} steps/s (${simSteps} steps simulated + rendered rgb at ${card.input.width}x${card.input.height} in ${simSeconds.toFixed(2)} s, same seeds and policy, nothing written, one thread)\n`);
          io.out(`  speedup       ${(dreamRate / simRate).toFixed(2)}x\n`);
        }
      } finally {
        await session.release();
      }
    } finally {
      env.close();
    }
    return 0;
  },
};
