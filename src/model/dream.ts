/**
 * Dreaming: episodes rolled out inside a learned world model instead of the simulator. Each episode
 * starts from a real reset (the environment's initial state and its rendered frame, so starts are
 * as diverse as the simulator's), then the latent is stepped by the dynamics under a policy's
 * actions; rewards and termination come from the model's heads, frames from its decoder. All
 * episodes of a batch advance together, so every ONNX call covers the whole batch.
 *
 * Pure logic (no files, no process): the model, environment, renderer and policies come in.
 */
import type { Vec3, Quat } from '../core/math.js';
import { deriveSeed } from '../core/rng.js';
import { TrajforgeError } from '../core/errors.js';
import type { CameraTrack, ChannelFrames, EpisodeData } from '../episode/simulate.js';
import type { Policy } from '../policy/policy.js';
import { calibration } from '../render/camera.js';
import type { Renderer } from '../render/renderer.js';
import type { PhysicsEnv } from '../sim/env.js';
import type { WorldView } from '../sim/view.js';
import { checkCameraSize, type ModelCard } from './card.js';
import { downsampleInto, unitInto } from './transitions.js';

/** What dreaming needs from a model: WorldModelSession satisfies it. */
export interface DreamModel {
  readonly card: ModelCard;
  encode(frames: Float32Array, n: number): Promise<Float32Array>;
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
  /** A fresh policy for the environment; one is made per episode of a batch. */
  makePolicy: () => Policy;
  /** Episode numbers and their seeds, in output order. */
  jobs: readonly { episode: number; seed: number }[];
  /** Maximum steps per episode (truncated there). */
  horizon: number;
  /** Episodes advanced together (bounds memory: ~0.3 MB of frames per episode at 32x32); default 256, which amortises onnxruntime's per-call cost. */
  batch?: number;
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
  const cam = env.config.cameras.find((c) => c.name === card.camera);
  if (!cam) throw new TrajforgeError('E_MODEL_SHAPE', `the model sees camera '${card.camera}', which ${env.spec.id} does not have (cameras: ${env.config.cameras.map((c) => c.name).join(', ')})`);
  const [width, height] = cam.resolution;
  checkCameraSize(card, width, height, env.spec.id);
  if (env.actionSpace.type !== 'box') throw new TrajforgeError('E_MODEL_SHAPE', `${env.spec.id} has a discrete action set; world models need continuous actions`);
  if (env.actionSpace.shape[0] !== card.action.names.length) {
    throw new TrajforgeError('E_MODEL_SHAPE', `${env.spec.id} has ${env.actionSpace.shape[0]} action dims; the model takes ${card.action.names.length} (${card.action.names.join(', ')})`);
  }
  return { width, height };
}

interface Live {
  job: { episode: number; seed: number };
  policy: Policy;
  view: EstimatedView;
  /** Last real observation (the reset one): fills the features the model does not estimate. */
  realObs: Float32Array;
  z: Float32Array;
  obs: number[];
  actions: number[];
  rewards: number[];
  terminated: number[];
  truncated: number[];
  /** (horizon + 1) frames, filled up to the episode's length + 1: one allocation per episode. */
  frames: Uint8Array;
  track: CameraTrack;
  ended: boolean;
}

/**
 * Dreams the given episodes in batches; yields them in job order. `stats` (if given) is updated
 * as it goes.
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
  const A = card.action.names.length;
  const names = env.observationSpace.names;
  const obsDim = env.observationSpace.shape[0];
  // Observation index of each estimated state feature (-1: not an observation of this env).
  const estIndex = card.state.names.map((n) => names.indexOf(n));
  const known = estIndex.filter((i) => i >= 0);
  const setters = EstimatedView.setters(env, names);
  const box = env.actuatorSpace;
  const batch = Math.max(1, opts.batch ?? 256);
  const s: DreamStats = stats ?? { steps: 0, episodes: 0, modelSeconds: 0, startSeconds: 0 };

  // The card's state read-out, z[latent_dims[i]] · std[i] + mean[i], with its arrays hoisted out of the step loop.
  const estDims = Int32Array.from(card.state.latent_dims);
  const estStd = Float64Array.from(card.state.std);
  const estMean = Float64Array.from(card.state.mean);
  const observe = (e: Live, z: Float32Array, zOff: number): Float32Array => {
    const o = e.realObs.slice();
    for (let k = 0; k < estIndex.length; k++) {
      const i = estIndex[k]!;
      if (i >= 0) o[i] = z[zOff + estDims[k]!]! * estStd[k]! + estMean[k]!;
    }
    return o;
  };
  const lastAction = new Float32Array(A);

  for (let from = 0; from < opts.jobs.length; from += batch) {
    const jobs = opts.jobs.slice(from, from + batch);
    const B = jobs.length;
    let t0 = performance.now();
    const context = new Float32Array(B * P);
    const encoderFrames = new Float32Array(B * Q);
    const live: Live[] = jobs.map((job, k) => {
      const obs0 = env.reset({ seed: job.seed }).obs;
      const policy = opts.makePolicy();
      policy.reset(deriveSeed(job.seed, 'policy'));
      const scene = env.snapshot();
      const frame = renderer.render(scene, card.camera, ['rgb']).rgb!;
      downsampleInto(frame, full.width, full.height, card.input.downsample, context, k * P);
      unitInto(frame, encoderFrames, k * Q);
      const snap = scene.cameras.find((c) => c.name === card.camera)!;
      const cal = calibration(snap);
      return {
        job,
        policy,
        view: new EstimatedView(env),
        realObs: obs0,
        z: new Float32Array(L),
        obs: [],
        actions: [],
        rewards: [],
        terminated: [],
        truncated: [],
        frames: new Uint8Array((opts.horizon + 1) * P),
        track: { name: card.camera, K: cal.K, worldToCamera: cal.worldToCamera, positions: [...snap.position], quaternions: [...snap.quaternion] },
        ended: false,
      };
    });
    const t1 = performance.now();
    s.startSeconds += (t1 - t0) / 1000;
    t0 = t1;

    const z0 = await model.encode(encoderFrames, B);
    // Residual decoding, frame = context + D(z) − D(z0), as bytes: the episode's constant offset
    // is context − D(z0).
    const d0 = await model.decode(z0, B);
    // Indexed by batch row (row r = episode r until episodes end).
    const offsets = new Float32Array(B * P);
    for (let i = 0; i < B * P; i++) offsets[i] = context[i]! - d0[i]!;
    live.forEach((e, k) => {
      e.z.set(z0.subarray(k * L, (k + 1) * L));
      for (let i = 0; i < P; i++) e.frames[i] = Math.round(255 * context[k * P + i]!);
    });

    // Row r of every batch buffer belongs to episode active[r]; ended episodes leave by swap-remove.
    const active = live.map((_, k) => k);
    const zBuf = new Float32Array(B * L);
    const aBuf = new Float32Array(B * A);
    for (let t = 0; t < opts.horizon && active.length > 0; t++) {
      const m = active.length;
      active.forEach((k, r) => {
        const e = live[k]!;
        const o = t === 0 ? e.realObs.slice() : observe(e, e.z, 0);
        if (t > 0) for (let i = 0; i < A; i++) lastAction[i] = e.actions[e.actions.length - A + i]!;
        e.view.apply(o, setters, t === 0 ? [] : known, t === 0 ? null : lastAction, t);
        const a = e.policy.act(o, e.view);
        for (let i = 0; i < A; i++) {
          const v = typeof a === 'number' ? a : (a[i] ?? 0);
          const lo = box.low[i]!;
          const hi = box.high[i]!;
          const clipped = Math.min(hi, Math.max(lo, v));
          aBuf[r * A + i] = clipped;
          e.actions.push(clipped);
        }
        for (let i = 0; i < obsDim; i++) e.obs.push(o[i]!);
        zBuf.set(e.z, r * L);
      });
      const { next, reward, done } = await model.step(zBuf.subarray(0, m * L), aBuf.subarray(0, m * A), m);
      const rgb = await model.decodeRgb(next, offsets.subarray(0, m * P), m);
      for (let r = 0; r < m; r++) {
        const k = active[r]!;
        const e = live[k]!;
        for (let j = 0; j < L; j++) e.z[j] = next[r * L + j]!;
        e.frames.set(rgb.subarray(r * P, (r + 1) * P), (t + 1) * P);
        const term = done[r]! > DONE_THRESHOLD;
        const trunc = !term && t + 1 >= opts.horizon;
        e.rewards.push(reward[r]!);
        e.terminated.push(term ? 1 : 0);
        e.truncated.push(trunc ? 1 : 0);
        if (term || trunc) e.ended = true;
      }
      s.steps += m;
      // Descending, so every row above r is already a live one: the last row fills each hole.
      for (let r = m - 1; r >= 0; r--) {
        if (!live[active[r]!]!.ended) continue;
        const last = active.length - 1;
        if (r !== last) {
          active[r] = active[last]!;
          offsets.copyWithin(r * P, last * P, (last + 1) * P);
        }
        active.pop();
      }
    }
    s.modelSeconds += (performance.now() - t0) / 1000;
    const secondsPerEpisode = (performance.now() - t0) / 1000 / B;
    for (const e of live) {
      const T = e.rewards.length;
      // The camera does not move in a dream: its reset pose, once per frame.
      const pose = { positions: e.track.positions.slice(0, 3), quaternions: e.track.quaternions.slice(0, 4) };
      for (let t = 0; t < T; t++) {
        e.track.positions.push(...pose.positions);
        e.track.quaternions.push(...pose.quaternions);
      }
      const frames = e.frames.subarray(0, T * P);
      const ch = (data: Uint8Array): ChannelFrames => ({ camera: card.camera, channel: 'rgb', width: card.decoded.width, height: card.decoded.height, data });
      s.episodes++;
      yield {
        episode: e.job.episode,
        seed: e.job.seed,
        length: T,
        obsDim,
        actionDim: A,
        discrete: false,
        obs: Float32Array.from(e.obs),
        actions: Float32Array.from(e.actions),
        rewards: Float32Array.from(e.rewards),
        terminated: Uint8Array.from(e.terminated),
        truncated: Uint8Array.from(e.truncated),
        success: Uint8Array.from(e.terminated),
        frames: [ch(frames)],
        finalObs: observe(e, e.z, 0),
        finalFrames: [ch(e.frames.slice(T * P, (T + 1) * P))],
        cameras: [e.track],
        bodies: [],
        collisions: [],
        simSeconds: secondsPerEpisode,
        renderSeconds: 0,
      };
    }
  }
}
