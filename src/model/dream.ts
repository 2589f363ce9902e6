/**
 * Dreaming: episodes rolled out inside a learned world model instead of the simulator. Each episode
 * starts from a real reset (the environment's initial state and its rendered frame, so starts are
 * as diverse as the simulator's), then the latent is stepped by the dynamics under a policy's
 * actions; rewards and termination come from the model's heads, frames from its decoder. All
 * live episodes advance together, so every ONNX call covers the whole batch.
 *
 * Pure logic (no files, no process): the model, environment, renderer and policies come in.
 */
import type { Vec3, Quat } from '../core/math.js';
import { deriveSeed } from '../core/rng.js';
import { TrajforgeError } from '../core/errors.js';
import type { CameraTrack, ChannelFrames, EpisodeData, EpisodeProvenance } from '../dataset/episode.js';
import type { Action, BoxSpace, DiscreteSpace } from '../core/spaces.js';
import { isPending, type AnyPolicy } from '../policy/policy.js';
import { calibration } from '../render/camera.js';
import type { Renderer } from '../render/renderer.js';
import type { PhysicsEnv } from '../sim/env.js';
import type { WorldView } from '../sim/view.js';
import { actionTarget, checkModelTarget, stateReader, type ModelCard } from './card.js';
import { downsampleInto, unitInto } from './transitions.js';

/** What dreaming needs from a model: WorldModelSession satisfies it. */
export interface DreamModel {
  readonly card: ModelCard;
  /** See WorldModelSession.encode: `previous` holds each frame's predecessor for a model with context 2. */
  encode(frames: Float32Array, n: number, previous?: Float32Array): Promise<Float32Array>;
  decode(z: Float32Array, n: number): Promise<Float32Array>;
  /** rgb bytes of round(255 · (decode(z) + offset)) saturated, as WorldModelSession.decodeRgb. */
  decodeRgb(z: Float32Array, offset: Float32Array, n: number): Promise<Uint8Array>;
  step(z: Float32Array, action: Float32Array, n: number): Promise<{ next: Float32Array; reward: Float32Array; done: Float32Array }>;
}

export interface DreamOptions {
  model: DreamModel;
  /** The real environment: only reset (initial states and frames) and names; never stepped. */
  env: PhysicsEnv;
  renderer: Renderer;
  /**
   * A fresh policy for the environment; one is made per episode of a batch. A latent policy
   * (`input: 'latent'`) acts on the model's latent z_t instead of the estimated observation.
   */
  makePolicy: () => AnyPolicy;
  /** Episode numbers and their seeds, in output order. */
  jobs: readonly { episode: number; seed: number }[];
  /** Maximum steps per episode (truncated there). */
  horizon: number;
  /** Episodes advanced together (bounds memory: ~0.3 MB of frames per episode at 32x32); default 256, which amortises onnxruntime's per-call cost. */
  batch?: number;
  /**
   * Start frames from a video instead of the environment's rendered resets (dream --from-video):
   * episode k starts from frame k mod count. The environment is still reset from the episode's
   * seed: its state fills what the model does not estimate, for policies that read it.
   */
  starts?: StartFrames;
}

/** Frames of a video at the encoder's input size (count × H × W × 3 rgb), and where each came from. */
export interface StartFrames {
  frames: Uint8Array;
  /** The frame before each (the frame itself where it is the video's first): what gives a start its motion. */
  previous: Uint8Array;
  count: number;
  /** Per frame: its source and index there (recorded as the episode's provenance). */
  provenance: readonly EpisodeProvenance[];
}

export interface DreamStats {
  steps: number;
  episodes: number;
  /** Seconds spent in the model (encode, step, decode) and in policies/bookkeeping. */
  modelSeconds: number;
  /** Seconds spent resetting the real environment and rendering the start frames. */
  startSeconds: number;
}

/** Terminated when the done head's probability exceeds this. */
export const DONE_THRESHOLD = 0.5;

type Setter = (v: EstimatedView, value: number) => void;

/**
 * A WorldView over a state estimate: the reset state of every body and joint, with whatever the
 * estimate knows (positions, orientations, velocities, joint angles named in the observation)
 * written over it. Scripted experts read the world through this, so they act on the dream.
 */
export class EstimatedView implements WorldView {
  stepIndex = 0;
  success = false;
  obs: Float32Array;
  readonly action: Float32Array;
  readonly timestep: number;
  private readonly pos: Float64Array;
  private readonly rot: Float64Array;
  private readonly lin: Float64Array;
  private readonly ang: Float64Array;
  private readonly presentAt: Uint8Array;
  private readonly jAngle: Float64Array;
  private readonly jVel: Float64Array;
  private readonly jAxis: Vec3[];
  private readonly jAnchor: Vec3[];
  private readonly attachedAt: Uint8Array;
  /** sin/cos pairs waiting for their partner within one apply(). */
  private readonly pendingSin = new Map<number, number>();
  private readonly pendingCos = new Map<number, number>();

  /** Captures the environment's current state (call right after reset). */
  constructor(private readonly env: PhysicsEnv) {
    const bodies = env.spec.bodyNames.length;
    const joints = env.config.joints.length;
    this.obs = env.obs.slice();
    this.action = new Float32Array(env.action.length);
    this.timestep = env.timestep;
    this.pos = new Float64Array(bodies * 3);
    this.rot = new Float64Array(bodies * 4);
    this.lin = new Float64Array(bodies * 3);
    this.ang = new Float64Array(bodies * 3);
    this.presentAt = new Uint8Array(bodies);
    for (let i = 0; i < bodies; i++) {
      this.pos.set(env.position(i), i * 3);
      this.rot.set(env.quaternion(i), i * 4);
      this.lin.set(env.linearVelocity(i), i * 3);
      this.ang.set(env.angularVelocity(i), i * 3);
      this.presentAt[i] = env.present(i) ? 1 : 0;
    }
    this.jAngle = Float64Array.from({ length: joints }, (_, j) => env.jointAngle(j));
    this.jVel = Float64Array.from({ length: joints }, (_, j) => env.jointVelocity(j));
    this.jAxis = Array.from({ length: joints }, (_, j) => env.jointAxisWorld(j));
    this.jAnchor = Array.from({ length: joints }, (_, j) => env.jointAnchorWorld(j));
    const acts = env.config.actions.actuators.length;
    this.attachedAt = Uint8Array.from({ length: acts }, (_, a) => (env.attached(a) ? 1 : 0));
  }

  /** Writes estimated features (by observation index) over the view, and sets the policy's observation. */
  apply(obs: Float32Array, setters: readonly (Setter | null)[], known: readonly number[], action: Float32Array | null, step: number): void {
    this.obs = obs;
    this.stepIndex = step;
    if (action) this.action.set(action);
    for (const i of known) setters[i]?.(this, obs[i]!);
    for (const [j, s] of this.pendingSin) {
      const c = this.pendingCos.get(j);
      if (c !== undefined) this.jAngle[j] = Math.atan2(s, c);
    }
    this.pendingSin.clear();
    this.pendingCos.clear();
    for (let b = 0; b < this.presentAt.length; b++) {
      const o = b * 4;
      const n = Math.sqrt(this.rot[o]! ** 2 + this.rot[o + 1]! ** 2 + this.rot[o + 2]! ** 2 + this.rot[o + 3]! ** 2);
      if (n > 1e-9 && Math.abs(n - 1) > 1e-6) for (let k = 0; k < 4; k++) this.rot[o + k]! /= n;
    }
  }

  /**
   * One setter per observation dimension the view can take from an estimate (null where the
   * name does not say which body or joint quantity it is, e.g. relative positions).
   */
  static setters(env: PhysicsEnv, names: readonly string[]): (Setter | null)[] {
    const AX: Record<string, number> = { x: 0, y: 1, z: 2 };
    const Q: Record<string, number> = { qw: 0, qx: 1, qy: 2, qz: 3 };
    const goal = env.config.task.goal;
    return names.map((name) => {
      const dot = name.lastIndexOf('.');
      if (dot <= 0) return null;
      const head = name.slice(0, dot);
      const tail = name.slice(dot + 1);
      const body = env.bodyIndex(head) >= 0 ? env.bodyIndex(head) : head === 'goal' && goal ? env.bodyIndex(goal) : -1;
      if (body >= 0) {
        if (tail in AX) return (v, x) => void (v.pos[body * 3 + AX[tail]!] = x);
        if (tail in Q) return (v, x) => void (v.rot[body * 4 + Q[tail]!] = x);
        if (tail.length === 2 && tail[0] === 'v' && tail[1]! in AX) return (v, x) => void (v.lin[body * 3 + AX[tail[1]!]!] = x);
        if (tail.length === 2 && tail[0] === 'w' && tail[1]! in AX) return (v, x) => void (v.ang[body * 3 + AX[tail[1]!]!] = x);
        return null;
      }
      const joint = env.jointIndex(head);
      if (joint >= 0) {
        if (tail === 'angle') return (v, x) => void (v.jAngle[joint] = x);
        if (tail === 'velocity') return (v, x) => void (v.jVel[joint] = x);
        if (tail === 'sin') return (v, x) => void v.pendingSin.set(joint, x);
        if (tail === 'cos') return (v, x) => void v.pendingCos.set(joint, x);
        return null;
      }
      const act = env.actuatorIndex(head);
      if (act >= 0 && tail === 'attached') return (v, x) => void (v.attachedAt[act] = x > 0.5 ? 1 : 0);
      return null;
    });
  }

  bodyIndex(name: string): number {
    return this.env.bodyIndex(name);
  }
  jointIndex(name: string): number {
    return this.env.jointIndex(name);
  }
  actuatorIndex(name: string): number {
    return this.env.actuatorIndex(name);
  }
  obsIndex(name: string): number {
    return this.env.obsIndex(name);
  }
  jointChain(body: number): number[] {
    return this.env.jointChain(body);
  }
  jointIsPrismatic(j: number): boolean {
    return this.env.jointIsPrismatic(j);
  }
  present(i: number): boolean {
    return this.presentAt[i] === 1;
  }
  position(i: number): Vec3 {
    return [this.pos[i * 3]!, this.pos[i * 3 + 1]!, this.pos[i * 3 + 2]!];
  }
  quaternion(i: number): Quat {
    return [this.rot[i * 4]!, this.rot[i * 4 + 1]!, this.rot[i * 4 + 2]!, this.rot[i * 4 + 3]!];
  }
  linearVelocity(i: number): Vec3 {
    return [this.lin[i * 3]!, this.lin[i * 3 + 1]!, this.lin[i * 3 + 2]!];
  }
  angularVelocity(i: number): Vec3 {
    return [this.ang[i * 3]!, this.ang[i * 3 + 1]!, this.ang[i * 3 + 2]!];
  }
  jointAngle(j: number): number {
    return this.jAngle[j]!;
  }
  jointVelocity(j: number): number {
    return this.jVel[j]!;
  }
  jointAxisWorld(j: number): Vec3 {
    return this.jAxis[j]!;
  }
  jointAnchorWorld(j: number): Vec3 {
    return this.jAnchor[j]!;
  }
  attached(actuator: number): boolean {
    return this.attachedAt[actuator] === 1;
  }
}

/** Checks that a model fits an environment (camera, resolution, action size); returns the camera's full resolution. */
export function checkModelForEnv(card: ModelCard, env: PhysicsEnv): { width: number; height: number } {
  checkModelTarget(card, {
    where: env.spec.id,
    envId: env.spec.id,
    configHash: env.spec.configHash,
    cameras: env.config.cameras.map((c) => ({ name: c.name, width: c.resolution[0], height: c.resolution[1] })),
    ...actionTarget(env.config.actions),
  });
  return { width: card.input.width, height: card.input.height };
}

interface Live {
  /** Position in opts.jobs: episodes are yielded in this order. */
  order: number;
  job: { episode: number; seed: number };
  policy: AnyPolicy;
  view: EstimatedView;
  /** Last real observation (the reset one): fills the features the model does not estimate. */
  realObs: Float32Array;
  z: Float32Array;
  /** Steps taken; the arrays below hold `horizon` steps. */
  t: number;
  obs: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** The policy's observation this step (the view keeps a reference). */
  current: Float32Array;
  /** (horizon + 1) frames, filled up to the episode's length + 1: one allocation per episode. */
  frames: Uint8Array;
  track: CameraTrack;
  /** This episode's share of the model time (each step's time over the rows it advanced). */
  seconds: number;
  /** The video frame the episode started from (dream --from-video). */
  provenance?: EpisodeProvenance;
}

/**
 * Dreams the given episodes, `batch` at a time with continuous batching: when a quarter of the
 * rows have ended, new episodes start in them, so every ONNX call stays near full size instead of
 * trailing off with the batch's longest episodes. Yields in job order; `stats` (if given) is
 * updated as it goes. An episode's trajectory does not depend on the batching.
 */
export async function* dreamEpisodes(opts: DreamOptions, stats?: DreamStats): AsyncGenerator<EpisodeData> {
  const { model, env, renderer } = opts;
  const card = model.card;
  if (!(Number.isInteger(opts.horizon) && opts.horizon >= 1)) throw new TrajforgeError('E_USAGE', `horizon must be an integer >= 1, got ${opts.horizon}`);
  const full = checkModelForEnv(card, env);
  const L = card.latent;
  // Dreamed frames are decoder-sized (P values); the encoder sees the camera's frames (Q values).
  const P = card.decoded.width * card.decoded.height * 3;
  const Q = full.width * full.height * 3;
  if (opts.starts && !(opts.starts.count >= 1 && opts.starts.frames.length >= opts.starts.count * Q && opts.starts.provenance.length >= opts.starts.count)) {
    throw new TrajforgeError('E_INTERNAL', `dream: ${opts.starts.count} start frame(s) of ${full.width}x${full.height} need ${opts.starts.count * Q} bytes and as many provenance entries; got ${opts.starts.frames.length} and ${opts.starts.provenance.length}`);
  }
  const A = card.action.names.length;
  // A discrete set: policies pick a choice, the episode stores its index, the model takes it one-hot.
  const choices = env.config.actions.discrete;
  const stored = choices ? 1 : A;
  const names = env.observationSpace.names;
  const obsDim = env.observationSpace.shape[0];
  // Observation index of each estimated state feature (-1: not an observation of this env).
  const estIndex = card.state.names.map((n) => names.indexOf(n));
  const known = estIndex.filter((i) => i >= 0);
  const setters = EstimatedView.setters(env, names);
  const space: BoxSpace | DiscreteSpace = choices ? { type: 'discrete', n: choices.length, names: choices.map((c) => c.name) } : env.actuatorSpace;
  const batch = Math.max(1, opts.batch ?? 256);
  const refillAt = Math.max(1, Math.floor(batch / 4));
  const s: DreamStats = stats ?? { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };

  // The card's state read-out (ModelCard.state), written over the last real observation.
  const readState = stateReader(card);
  const estimate = new Float32Array(card.state.names.length);
  const observe = (e: Live, o: Float32Array): Float32Array => {
    o.set(e.realObs);
    readState(e.z, estimate);
    for (let k = 0; k < estIndex.length; k++) {
      const i = estIndex[k]!;
      if (i >= 0) o[i] = estimate[k]!;
    }
    return o;
  };
  // What the policy's view sees as the last action: the actuator values (a choice's vector).
  const lastAction = new Float32Array(env.config.actions.actuators.length);

  // Row r of every batch buffer belongs to episode rows[r]; ended episodes leave by swap-remove.
  const rows: Live[] = [];
  const zBuf = new Float32Array(batch * L);
  const aBuf = new Float32Array(batch * A);
  // Residual decoding, frame = context + D(z) − D(z0), as bytes: each row's constant offset is context − D(z0).
  const offsets = new Float32Array(batch * P);
  let nextJob = 0;

  /** Starts up to `count` episodes in rows [rows.length, ...): real resets and start frames, one encode and decode. */
  const start = async (count: number): Promise<void> => {
    const t0 = performance.now();
    const first = rows.length;
    const context = new Float32Array(count * P);
    const encoderFrames = new Float32Array(count * Q);
    // Resets start at rest (each frame is its own predecessor); video starts move as the video did.
    const previousFrames = opts.starts ? new Float32Array(count * Q) : undefined;
    for (let k = 0; k < count; k++) {
      const order = nextJob++;
      const job = opts.jobs[order]!;
      const obs0 = env.reset({ seed: job.seed }).obs;
      const policy = opts.makePolicy();
      policy.reset(deriveSeed(job.seed, 'policy'));
      const scene = env.snapshot();
      const from = opts.starts ? order % opts.starts.count : -1;
      const frame = opts.starts ? opts.starts.frames.subarray(from * Q, (from + 1) * Q) : renderer.render(scene, card.camera, ['rgb']).rgb!;
      downsampleInto(frame, full.width, full.height, card.input.downsample, context, k * P);
      unitInto(frame, encoderFrames, k * Q);
      if (previousFrames) unitInto(opts.starts!.previous.subarray(from * Q, (from + 1) * Q), previousFrames, k * Q);
      const snap = scene.cameras.find((c) => c.name === card.camera)!;
      const cal = calibration(snap);
      const e: Live = {
        order,
        job,
        policy,
        view: new EstimatedView(env),
        realObs: obs0,
        z: new Float32Array(L),
        t: 0,
        obs: new Float32Array(opts.horizon * obsDim),
        actions: new Float32Array(opts.horizon * stored),
        rewards: new Float32Array(opts.horizon),
        terminated: new Uint8Array(opts.horizon),
        truncated: new Uint8Array(opts.horizon),
        current: new Float32Array(obsDim),
        frames: new Uint8Array((opts.horizon + 1) * P),
        track: { name: card.camera, K: cal.K, worldToCamera: cal.worldToCamera, positions: [...snap.position], quaternions: [...snap.quaternion] },
        seconds: 0,
        ...(opts.starts ? { provenance: opts.starts.provenance[from]! } : {}),
      };
      for (let i = 0; i < P; i++) e.frames[i] = Math.round(255 * context[k * P + i]!);
      rows.push(e);
    }
    const t1 = performance.now();
    s.startSeconds += (t1 - t0) / 1000;
    const z0 = await model.encode(encoderFrames, count, previousFrames);
    const d0 = await model.decode(z0, count);
    for (let k = 0; k < count; k++) rows[first + k]!.z.set(z0.subarray(k * L, (k + 1) * L));
    for (let i = 0; i < count * P; i++) offsets[first * P + i] = context[i]! - d0[i]!;
    s.modelSeconds += (performance.now() - t1) / 1000;
  };

  /** One model step for every row; returns the episodes that ended. */
  const step = async (): Promise<Live[]> => {
    const t0 = performance.now();
    const m = rows.length;
    // Every row's policy is asked before any pending action (an ONNX policy's) is awaited, so
    // their onnxruntime calls run in one turn of the event loop.
    const acted: (Action | Promise<Action>)[] = [];
    rows.forEach((e, r) => {
      const t = e.t;
      const o = e.current;
      if (t === 0) o.set(e.realObs);
      else observe(e, o);
      if (t > 0) lastAction.set(choices ? choices[e.actions[t - 1]!]!.value : e.actions.subarray((t - 1) * A, t * A));
      e.view.apply(o, setters, t === 0 ? [] : known, t === 0 ? null : lastAction, t);
      acted.push(e.policy.act(e.policy.input === 'latent' ? e.z : o, e.view));
      e.obs.set(o, t * obsDim);
      zBuf.set(e.z, r * L);
    });
    for (let r = 0; r < m; r++) {
      const e = rows[r]!;
      const t = e.t;
      const pending = acted[r]!;
      const a = isPending(pending) ? await pending : pending;
      storeAction(a, space, aBuf, r, e.actions, t);
    }
    const { next, reward, done } = await model.step(zBuf.subarray(0, m * L), aBuf.subarray(0, m * A), m);
    const rgb = await model.decodeRgb(next, offsets.subarray(0, m * P), m);
    for (let r = 0; r < m; r++) {
      const e = rows[r]!;
      const t = e.t++;
      e.z.set(next.subarray(r * L, (r + 1) * L));
      e.frames.set(rgb.subarray(r * P, (r + 1) * P), (t + 1) * P);
      const term = done[r]! > DONE_THRESHOLD;
      const trunc = !term && t + 1 >= opts.horizon;
      e.rewards[t] = reward[r]!;
      e.terminated[t] = term ? 1 : 0;
      e.truncated[t] = trunc ? 1 : 0;
    }
    s.steps += m;
    const seconds = (performance.now() - t0) / 1000;
    s.modelSeconds += seconds;
    const ended: Live[] = [];
    // Descending, so every row above r is already a live one: the last row fills each hole.
    for (let r = m - 1; r >= 0; r--) {
      const e = rows[r]!;
      e.seconds += seconds / m;
      if (!e.terminated[e.t - 1] && !e.truncated[e.t - 1]) continue;
      ended.push(e);
      const last = rows.length - 1;
      if (r !== last) {
        rows[r] = rows[last]!;
        offsets.copyWithin(r * P, last * P, (last + 1) * P);
      }
      rows.pop();
    }
    return ended;
  };

  const finished = new Map<number, EpisodeData>();
  let nextYield = 0;
  while (nextYield < opts.jobs.length) {
    const free = batch - rows.length;
    const waiting = opts.jobs.length - nextJob;
    if (waiting > 0 && (free >= refillAt || rows.length === 0)) await start(Math.min(free, waiting));
    for (const e of await step()) finished.set(e.order, finish(e));
    for (let ep = finished.get(nextYield); ep; ep = finished.get(nextYield)) {
      finished.delete(nextYield++);
      s.episodes++;
      yield ep;
    }
  }

  function finish(e: Live): EpisodeData {
    const T = e.t;
    // The camera does not move in a dream: its reset pose, once per frame.
    const pose = { positions: e.track.positions.slice(0, 3), quaternions: e.track.quaternions.slice(0, 4) };
    for (let t = 0; t < T; t++) {
      e.track.positions.push(...pose.positions);
      e.track.quaternions.push(...pose.quaternions);
    }
    const frames = e.frames.subarray(0, T * P);
    const ch = (data: Uint8Array): ChannelFrames => ({ camera: card.camera, channel: 'rgb', width: card.decoded.width, height: card.decoded.height, data });
    return {
      episode: e.job.episode,
      seed: e.job.seed,
      length: T,
      obsDim,
      actionDim: stored,
      discrete: choices !== undefined,
      obs: e.obs.slice(0, T * obsDim),
      actions: e.actions.slice(0, T * stored),
      rewards: e.rewards.slice(0, T),
      terminated: e.terminated.slice(0, T),
      truncated: e.truncated.slice(0, T),
      success: e.terminated.slice(0, T),
      frames: [ch(frames)],
      finalObs: observe(e, new Float32Array(obsDim)),
      finalFrames: [ch(e.frames.slice(T * P, (T + 1) * P))],
      cameras: [e.track],
      bodies: [],
      collisions: [],
      ...(e.provenance ? { provenance: e.provenance } : {}),
      simSeconds: e.seconds,
      renderSeconds: 0,
    };
  }
}

/**
 * A policy's action as the model takes it, into row `row` of `modelActions` (A values a row), and
 * as the episode stores it at step t of `stored`: a box's values clipped to it, or a discrete
 * set's choice (the rounded first value), one-hot for the model and its index stored.
 */
export function storeAction(a: Action, space: BoxSpace | DiscreteSpace, modelActions: Float32Array, row: number, stored: Float32Array, t: number): void {
  if (space.type === 'discrete') {
    const A = space.n;
    const k = Math.min(A - 1, Math.max(0, Math.round(typeof a === 'number' ? a : (a[0] ?? 0))));
    modelActions.fill(0, row * A, (row + 1) * A);
    modelActions[row * A + k] = 1;
    stored[t] = k;
    return;
  }
  const A = space.shape[0];
  for (let i = 0; i < A; i++) {
    const v = Math.min(space.high[i]!, Math.max(space.low[i]!, typeof a === 'number' ? a : (a[i] ?? 0)));
    modelActions[row * A + i] = v;
    stored[t * A + i] = v;
  }
}
