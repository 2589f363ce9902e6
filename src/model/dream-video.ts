/**
 * Dreams with no environment: episodes start from frames of a video (encoded by the model) and
 * run in the model alone, the policy acting on the model's state estimate (or its latent). This
 * is how a model of another tool's dataset, whose environment trajforge does not have, becomes a
 * controllable environment. Everything an episode records comes from the model: the state
 * estimate as the observation, its reward and done heads, its decoded frames; there is no camera
 * or body track. dream.ts is the environment-backed version.
 */
import type { Action, BoxSpace, DiscreteSpace } from '../core/spaces.js';
import { TrajforgeError } from '../core/errors.js';
import { deriveSeed } from '../core/rng.js';
import type { ChannelFrames, EpisodeData, EpisodeProvenance } from '../dataset/episode.js';
import { isPending } from '../policy/policy.js';
import { stateReader } from './card.js';
import { DONE_THRESHOLD, storeAction, type DreamStats } from './dream.js';
import type { WorldModelSession } from './session.js';
import { downsampleInto, unitInto } from './transitions.js';

/** A policy of a dream without an environment: it sees the state estimate, or z with input 'latent'. */
export interface ModelPolicy {
  readonly input?: 'observation' | 'latent';
  reset(seed: number): void;
  act(obs: Float32Array): Action | Promise<Action>;
}

export interface VideoDreamOptions {
  model: WorldModelSession;
  /** Start frames at the model's input size (rgb bytes), each with its predecessor, and where each came from. */
  starts: { frames: Uint8Array; previous: Uint8Array; count: number; provenance: readonly EpisodeProvenance[] };
  /** Episode k starts from frame k mod starts.count. */
  jobs: readonly { episode: number; seed: number }[];
  horizon: number;
  /** Episodes dreamed side by side per model call. */
  batch: number;
  /** The actions the model takes: a box (policies' outputs are clipped to it) or a discrete set (one-hot). */
  space: BoxSpace | DiscreteSpace;
  makePolicy: () => ModelPolicy;
}

/** The episodes in job order, a batch at a time. */
export async function* dreamFromVideo(opts: VideoDreamOptions, stats?: DreamStats): AsyncGenerator<EpisodeData> {
  const { model, starts, space } = opts;
  const card = model.card;
  if (!(Number.isInteger(opts.horizon) && opts.horizon >= 1)) throw new TrajforgeError('E_USAGE', `horizon must be an integer >= 1, got ${opts.horizon}`);
  const L = card.latent;
  const A = card.action.names.length;
  const discrete = space.type === 'discrete';
  const stored = discrete ? 1 : A;
  const S = card.state.names.length;
  const P = card.decoded.width * card.decoded.height * 3;
  const Q = card.input.width * card.input.height * 3;
  const readState = stateReader(card);
  const s: DreamStats = stats ?? { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };
  const batch = Math.max(1, opts.batch);

  for (let first = 0; first < opts.jobs.length; first += batch) {
    const jobs = opts.jobs.slice(first, first + batch);
    const n = jobs.length;
    const t0 = performance.now();
    const context = new Float32Array(n * P);
    const encoderFrames = new Float32Array(n * Q);
    const previousFrames = new Float32Array(n * Q);
    const from = jobs.map((_, k) => (first + k) % starts.count);
    from.forEach((f, k) => {
      const frame = starts.frames.subarray(f * Q, (f + 1) * Q);
      downsampleInto(frame, card.input.width, card.input.height, card.input.downsample, context, k * P);
      unitInto(frame, encoderFrames, k * Q);
      unitInto(starts.previous.subarray(f * Q, (f + 1) * Q), previousFrames, k * Q);
    });
    s.startSeconds += (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const z = await model.encode(encoderFrames, n, previousFrames);
    const d0 = await model.decode(z, n);
    // Residual decoding, as eval and dream decode: frame = start + D(z) − D(z0).
    const offsets = new Float32Array(n * P);
    for (let i = 0; i < n * P; i++) offsets[i] = context[i]! - d0[i]!;
    s.modelSeconds += (performance.now() - t1) / 1000;

    const H = opts.horizon;
    const policies = jobs.map((j) => {
      const p = opts.makePolicy();
      p.reset(deriveSeed(j.seed, 'policy'));
      return p;
    });
    const obs = jobs.map(() => new Float32Array(H * S));
    const actions = jobs.map(() => new Float32Array(H * stored));
    const rewards = jobs.map(() => new Float32Array(H));
    const terminated = jobs.map(() => new Uint8Array(H));
    const finals = jobs.map(() => new Float32Array(S));
    const frames = jobs.map((_, k) => {
      const f = new Uint8Array((H + 1) * P);
      for (let i = 0; i < P; i++) f[i] = Math.round(255 * context[k * P + i]!);
      return f;
    });
    const length = new Int32Array(n);
    // Row r of z, offsets and the model's inputs belongs to episode rows[r]; an episode that ends
    // leaves and the rows after it move up, so every step runs on the first m rows as they are.
    let rows = Array.from({ length: n }, (_, k) => k);
    const modelActions = new Float32Array(n * A);
    const estimate = new Float32Array(S);
    for (let t = 0; t < H && rows.length > 0; t++) {
      const t2 = performance.now();
      const m = rows.length;
      // Every policy is asked before any pending (ONNX) action is awaited.
      const acted = rows.map((k, r) => {
        const zr = z.subarray(r * L, (r + 1) * L);
        readState(zr, estimate);
        obs[k]!.set(estimate, t * S);
        return policies[k]!.act(policies[k]!.input === 'latent' ? zr.slice() : estimate.slice());
      });
      for (const [r, k] of rows.entries()) {
        const pending = acted[r]!;
        storeAction(isPending(pending) ? await pending : pending, space, modelActions, r, actions[k]!, t);
      }
      const { next, reward, done } = await model.step(z.subarray(0, m * L), modelActions.subarray(0, m * A), m);
      const rgb = await model.decodeRgb(next, offsets.subarray(0, m * P), m);
      const still: number[] = [];
      for (const [r, k] of rows.entries()) {
        frames[k]!.set(rgb.subarray(r * P, (r + 1) * P), (t + 1) * P);
        rewards[k]![t] = reward[r]!;
        length[k] = t + 1;
        if (done[r]! > DONE_THRESHOLD) {
          terminated[k]![t] = 1;
          readState(next.subarray(r * L, (r + 1) * L), finals[k]!);
          continue;
        }
        const to = still.length;
        z.set(next.subarray(r * L, (r + 1) * L), to * L);
        if (to !== r) offsets.copyWithin(to * P, r * P, (r + 1) * P);
        still.push(k);
      }
      rows = still;
      s.steps += m;
      s.modelSeconds += (performance.now() - t2) / 1000;
    }
    // Episodes cut at the horizon end in the rows that are left.
    rows.forEach((k, r) => readState(z.subarray(r * L, (r + 1) * L), finals[k]!));

    for (const [k, job] of jobs.entries()) {
      const T = length[k]!;
      const truncated = new Uint8Array(T);
      if (!terminated[k]![T - 1]) truncated[T - 1] = 1;
      const ch = (data: Uint8Array): ChannelFrames => ({ camera: card.camera, channel: 'rgb', width: card.decoded.width, height: card.decoded.height, data });
      s.episodes++;
      yield {
        episode: job.episode,
        seed: job.seed,
        length: T,
        obsDim: S,
        actionDim: stored,
        discrete,
        obs: obs[k]!.slice(0, T * S),
        actions: actions[k]!.slice(0, T * stored),
        rewards: rewards[k]!.slice(0, T),
        terminated: terminated[k]!.slice(0, T),
        truncated,
        success: terminated[k]!.slice(0, T),
        frames: [ch(frames[k]!.subarray(0, T * P))],
        finalObs: finals[k]!,
        finalFrames: [ch(frames[k]!.slice(T * P, (T + 1) * P))],
        cameras: [],
        bodies: [],
        collisions: [],
        provenance: starts.provenance[from[k]!]!,
        simSeconds: 0,
        renderSeconds: 0,
      };
    }
  }
}
