import type RAPIER_NS from '@dimforge/rapier3d-compat';
import { observationNames } from '../config/names.js';
import type { ResolvedEnv } from '../config/parse.js';
import type { EnvConfig } from '../config/schema.js';
import { TrajforgeError } from '../core/errors.js';
import { add, cross, dot, normalize, quatMul, rotate, scale, sub, twistAngle, type Quat, type Vec3 } from '../core/math.js';
import type { CameraSnapshot, Primitive, SceneSnapshot } from '../core/scene.js';
import type { Action, BoxSpace, DiscreteSpace, Space } from '../core/spaces.js';
import { buildWorld, type BuiltWorld } from './build.js';
import type { WorldDescription } from './description.js';
import { describeWorld } from './describe.js';
import { loadRapier, type Rapier } from './rapier.js';
import { compileCondition, type ConditionFn } from './terms/conditions.js';
import { compileObservation, type ObsWriter } from './terms/observation.js';
import { compileReward, type RewardFn } from './terms/reward.js';
import { createActuators, type ActuatorRuntime } from './terms/actuators.js';
import type { WorldView } from './view.js';

export interface StepInfo {
  success: boolean;
  /** Ended by a failure term (terminated without success). */
  failure: boolean;
  /** True when the action had values outside the bounds and was clipped. */
  clipped: boolean;
  /** Dimensions that were clipped (empty when none). */
  clippedDims: number[];
  /** Unweighted value of every reward term, keyed `<term>_<index>`. */
  rewardTerms: Record<string, number>;
  step: number;
  /** Contacts that began during this step (body ids, world contact point and normal, impulse). */
  collisions: Collision[];
}

export interface Collision {
  instances: [number, number];
  position: Vec3 | null;
  normal: Vec3 | null;
  /** Total normal impulse of the contact at the end of the step (N s). */
  impulse: number;
}

export interface StepResult {
  obs: Float32Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: StepInfo;
}

export interface EnvSpec {
  id: string;
  description: string;
  instruction: string;
  configHash: string;
  /** Control rate: environment steps per second. */
  fps: number;
  timeLimit: number;
  /** Body names in id order (id = index + 1): the segmentation legend. */
  bodyNames: string[];
  hasExpert: boolean;
  /** True when the task defines success terms (a goal-directed task, not passive physics). */
  isTask: boolean;
}

/**
 * A Gymnasium-style environment over Rapier. Each reset samples a fresh world description from
 * (config, seed) and rebuilds the engine world from it, so an episode depends on nothing but its
 * seed. Create with `createEnv`; call `close()` to free the WASM memory.
 */
export class PhysicsEnv implements WorldView {
  readonly spec: EnvSpec;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: Space;
  readonly config: EnvConfig;
  /** Per-actuator bounds (the continuous vector every action maps to). */
  readonly actuatorSpace: BoxSpace;

  private built: BuiltWorld | null = null;
  private events: RAPIER_NS.EventQueue | null = null;
  private description: WorldDescription | null = null;
  private closed = false;
  private done = false;
  private stepCount = 0;
  private successStreak = 0;
  private successNow = false;
  private readonly obsBuf: Float32Array;
  private readonly actionBuf: Float32Array;
  private readonly bodyIdx: Map<string, number>;
  private readonly jointIdx: Map<string, number>;
  private readonly actuatorIdx: Map<string, number>;
  private readonly obsIdx: Map<string, number>;
  private readonly bodyCount: number;
  // Lazily refreshed per-body state cache (one read of the engine per body per step).
  private readonly pos: Float64Array;
  private readonly rot: Float64Array;
  private readonly lin: Float64Array;
  private readonly ang: Float64Array;
  private readonly cacheStamp: Int32Array;
  private stamp = 1;
  private actuators: ActuatorRuntime | null = null;
  private readonly obsWriters: ObsWriter[];
  private readonly rewards: RewardFn[];
  private readonly successTerms: ConditionFn[];
  private readonly failureTerms: ConditionFn[];
  private readonly jointChains: number[][];

  constructor(
    private readonly R: Rapier,
    resolved: ResolvedEnv,
  ) {
    const cfg = resolved.config;
    this.config = cfg;
    const base = describeWorld(cfg, 0);
    this.bodyCount = base.bodies.length;
    this.bodyIdx = new Map(base.bodies.map((b, i) => [b.name, i]));
    this.jointIdx = new Map(cfg.joints.map((j, i) => [j.name, i]));
    this.actuatorIdx = new Map(cfg.actions.actuators.map((a, i) => [a.name, i]));
    const names = observationNames(cfg);
    this.obsIdx = new Map(names.map((n, i) => [n, i]));
    this.obsBuf = new Float32Array(names.length);
    this.actionBuf = new Float32Array(cfg.actions.actuators.length);
    this.pos = new Float64Array(this.bodyCount * 3);
    this.rot = new Float64Array(this.bodyCount * 4);
    this.lin = new Float64Array(this.bodyCount * 3);
    this.ang = new Float64Array(this.bodyCount * 3);
    this.cacheStamp = new Int32Array(this.bodyCount);
    this.jointChains = base.bodies.map((_, i) => chainTo(i, base));

    const fps = Math.round(1 / (cfg.world.timestep * cfg.world.substeps));
    this.spec = {
      id: cfg.id,
      description: cfg.description,
      instruction: cfg.task.instruction || cfg.description || cfg.id,
      configHash: resolved.hash,
      fps,
      timeLimit: cfg.task.timeLimit,
      bodyNames: base.bodies.map((b) => b.name),
      hasExpert: cfg.expert !== undefined,
      isTask: cfg.task.success.length > 0,
    };
    this.observationSpace = {
      type: 'box',
      dtype: 'float32',
      shape: [names.length],
      low: names.map(() => -Infinity),
      high: names.map(() => Infinity),
      names,
    };
    const acts = cfg.actions.actuators;
    this.actuatorSpace = { type: 'box', dtype: 'float32', shape: [acts.length], low: acts.map((a) => a.low), high: acts.map((a) => a.high), names: acts.map((a) => a.name) };
    this.actionSpace = cfg.actions.discrete
      ? ({ type: 'discrete', n: cfg.actions.discrete.length, names: cfg.actions.discrete.map((d) => d.name) } satisfies DiscreteSpace)
      : this.actuatorSpace;

    this.obsWriters = compileObservation(cfg, this);
    this.rewards = cfg.task.reward.map((r, i) => compileReward(r, this, i));
    this.successTerms = cfg.task.success.map((t) => compileCondition(t, this));
    this.failureTerms = cfg.task.failure.map((t) => compileCondition(t, this));
  }

  // ---- Gymnasium API ---------------------------------------------------------------------

  reset(opts: { seed?: number } = {}): { obs: Float32Array; info: StepInfo } {
    this.assertOpen();
    const seed = (opts.seed ?? (this.description ? this.description.seed + 1 : 0)) >>> 0;
    this.freeWorld();
    this.description = describeWorld(this.config, seed);
    this.built = buildWorld(this.R, this.description);
    this.events = new this.R.EventQueue(true);
    const built = this.built;
    this.actuators = createActuators(this.config, {
      R: this.R,
      built,
      bodyIndex: this.bodyIdx,
      jointIndex: this.jointIdx,
      dynamicPresent: (i) => this.description!.bodies[i]!.type === 'dynamic' && built.bodies[i] !== null,
    });
    this.stepCount = 0;
    this.successStreak = 0;
    this.successNow = false;
    this.done = false;
    this.actionBuf.fill(0);
    this.stamp++;
    for (const r of this.rewards) r.reset(this);
    this.writeObs();
    return { obs: this.obsBuf.slice(), info: this.makeInfo(false, [], {}) };
  }

  step(action: Action | ArrayLike<number>): StepResult {
    this.assertOpen();
    if (!this.built || !this.actuators) throw new TrajforgeError('E_STEP_BEFORE_RESET', `${this.spec.id}: step() called before reset()`);
    if (this.done) throw new TrajforgeError('E_STEP_BEFORE_RESET', `${this.spec.id}: step() called after the episode ended; call reset()`);
    const clippedDims = this.decodeAction(action);
    this.actuators.apply(this.actionBuf);
    for (let s = 0; s < this.config.world.substeps; s++) this.built.world.step(this.events!);
    const collisions = this.drainCollisions();
    this.stepCount++;
    this.stamp++;
    this.writeObs();

    const atLimit = this.stepCount >= this.config.task.timeLimit;
    const failure = this.failureTerms.some((f) => f(this, atLimit));
    const holds = this.successTerms.length > 0 && !failure && this.successTerms.every((f) => f(this, atLimit));
    this.successStreak = holds ? this.successStreak + 1 : 0;
    this.successNow = this.successStreak >= this.config.task.successHoldSteps;
    const terminated = failure || (this.successNow && this.config.task.terminateOnSuccess);
    const truncated = !terminated && atLimit;
    this.done = terminated || truncated;

    let reward = 0;
    const terms: Record<string, number> = {};
    const ctx = { success: this.successNow, failure };
    for (const r of this.rewards) {
      const v = r.value(this, ctx);
      terms[r.name] = v;
      reward += r.weight * v;
    }
    return { obs: this.obsBuf.slice(), reward, terminated, truncated, info: { ...this.makeInfo(failure, clippedDims, terms), collisions } };
  }

  close(): void {
    this.freeWorld();
    this.closed = true;
  }

  /** The sampled world of the current episode (seed, poses, colours...), as plain data. */
  worldDescription(): WorldDescription {
    if (!this.description) throw new TrajforgeError('E_STEP_BEFORE_RESET', `${this.spec.id}: no episode yet; call reset()`);
    return this.description;
  }

  snapshot(): SceneSnapshot {
    const d = this.worldDescription();
    const primitives: Primitive[] = [];
    for (let i = 0; i < d.bodies.length; i++) {
      const b = d.bodies[i]!;
      if (!b.present || !b.visible) continue;
      primitives.push({
        id: b.id,
        name: b.name,
        shape: b.shape,
        position: this.position(i),
        quaternion: quatMul(this.quaternion(i), b.shapeQuaternion),
        linearVelocity: this.linearVelocity(i),
        angularVelocity: this.angularVelocity(i),
        color: b.color,
      });
    }
    const cameras: CameraSnapshot[] = d.cameras.map((c) => {
      let position = c.position;
      let lookAt = c.lookAt;
      let up = c.up;
      if (c.attach >= 0 && this.present(c.attach)) {
        const p = this.position(c.attach);
        const q = this.quaternion(c.attach);
        position = add(p, rotate(q, c.position));
        lookAt = add(p, rotate(q, c.lookAt));
        up = rotate(q, c.up);
      }
      return { name: c.name, position, quaternion: lookAtQuaternion(position, lookAt, up), fovY: c.fovY, width: c.width, height: c.height, channels: c.channels };
    });
    return {
      step: this.stepCount,
      time: this.stepCount * this.config.world.timestep * this.config.world.substeps,
      primitives,
      cameras,
      light: { ...d.light },
      background: d.background,
    };
  }

  // ---- WorldView -------------------------------------------------------------------------

  get success(): boolean {
    return this.successNow;
  }
  get obs(): Float32Array {
    return this.obsBuf;
  }
  get action(): Float32Array {
    return this.actionBuf;
  }
  get timestep(): number {
    return this.config.world.timestep * this.config.world.substeps;
  }
  bodyIndex(name: string): number {
    return this.bodyIdx.get(name) ?? -1;
  }
  jointIndex(name: string): number {
    return this.jointIdx.get(name) ?? -1;
  }
  actuatorIndex(name: string): number {
    return this.actuatorIdx.get(name) ?? -1;
  }
  obsIndex(name: string): number {
    return this.obsIdx.get(name) ?? -1;
  }
  present(i: number): boolean {
    return this.built?.bodies[i] != null;
  }
  position(i: number): Vec3 {
    this.refresh(i);
    return [this.pos[i * 3]!, this.pos[i * 3 + 1]!, this.pos[i * 3 + 2]!];
  }
  quaternion(i: number): Quat {
    this.refresh(i);
    return [this.rot[i * 4]!, this.rot[i * 4 + 1]!, this.rot[i * 4 + 2]!, this.rot[i * 4 + 3]!];
  }
  linearVelocity(i: number): Vec3 {
    this.refresh(i);
    return [this.lin[i * 3]!, this.lin[i * 3 + 1]!, this.lin[i * 3 + 2]!];
  }
  angularVelocity(i: number): Vec3 {
    this.refresh(i);
    return [this.ang[i * 3]!, this.ang[i * 3 + 1]!, this.ang[i * 3 + 2]!];
  }
  jointAxisWorld(j: number): Vec3 {
    const d = this.worldDescription().joints[j]!;
    return d.parent >= 0 ? rotate(this.quaternion(d.parent), d.axisLocal) : d.axisLocal;
  }
  jointAnchorWorld(j: number): Vec3 {
    const d = this.worldDescription().joints[j]!;
    return d.parent >= 0 ? add(this.position(d.parent), rotate(this.quaternion(d.parent), d.anchorParent)) : d.anchorParent;
  }
  jointIsPrismatic(j: number): boolean {
    return this.worldDescription().joints[j]?.type === 'prismatic';
  }
  jointAngle(j: number): number {
    const d = this.worldDescription().joints[j]!;
    if (d.type === 'prismatic') {
      const childAnchor = add(this.position(d.child), rotate(this.quaternion(d.child), d.anchorChild));
      return dot(sub(childAnchor, this.jointAnchorWorld(j)), this.jointAxisWorld(j));
    }
    const qp: Quat = d.parent >= 0 ? this.quaternion(d.parent) : [1, 0, 0, 0];
    const rel = quatMul([qp[0], -qp[1], -qp[2], -qp[3]], this.quaternion(d.child));
    return twistAngle(rel, d.axisLocal);
  }
  jointVelocity(j: number): number {
    const d = this.worldDescription().joints[j]!;
    const axis = this.jointAxisWorld(j);
    if (d.type === 'prismatic') {
      const vp: Vec3 = d.parent >= 0 ? this.linearVelocity(d.parent) : [0, 0, 0];
      return dot(sub(this.linearVelocity(d.child), vp), axis);
    }
    const wp: Vec3 = d.parent >= 0 ? this.angularVelocity(d.parent) : [0, 0, 0];
    return dot(sub(this.angularVelocity(d.child), wp), axis);
  }
  jointChain(body: number): number[] {
    return this.jointChains[body] ?? [];
  }
  attached(actuator: number): boolean {
    return (this.actuators?.attachedBody(actuator) ?? -1) >= 0;
  }

  /** Current step index within the episode (0 after reset). */
  get stepIndex(): number {
    return this.stepCount;
  }

  // ---- internals -------------------------------------------------------------------------

  private refresh(i: number): void {
    if (this.cacheStamp[i] === this.stamp) return;
    this.cacheStamp[i] = this.stamp;
    const b = this.built?.bodies[i];
    if (!b) {
      this.pos.fill(0, i * 3, i * 3 + 3);
      this.rot.set([1, 0, 0, 0], i * 4);
      this.lin.fill(0, i * 3, i * 3 + 3);
      this.ang.fill(0, i * 3, i * 3 + 3);
      return;
    }
    const t = b.translation();
    const r = b.rotation();
    const v = b.linvel();
    const w = b.angvel();
    this.pos[i * 3] = t.x;
    this.pos[i * 3 + 1] = t.y;
    this.pos[i * 3 + 2] = t.z;
    this.rot[i * 4] = r.w;
    this.rot[i * 4 + 1] = r.x;
    this.rot[i * 4 + 2] = r.y;
    this.rot[i * 4 + 3] = r.z;
    this.lin[i * 3] = v.x;
    this.lin[i * 3 + 1] = v.y;
    this.lin[i * 3 + 2] = v.z;
    this.ang[i * 3] = w.x;
    this.ang[i * 3 + 1] = w.y;
    this.ang[i * 3 + 2] = w.z;
  }

  private writeObs(): void {
    let o = 0;
    for (const w of this.obsWriters) o += w(this, this.obsBuf, o);
  }

  /** Validates, maps discrete choices to actuator values, clips; returns clipped dimensions. */
  private decodeAction(action: Action | ArrayLike<number>): number[] {
    const space = this.actionSpace;
    if (space.type === 'discrete') {
      const k = typeof action === 'number' ? action : (action as ArrayLike<number>).length === 1 ? (action as ArrayLike<number>)[0]! : NaN;
      if (!Number.isInteger(k) || k < 0 || k >= space.n) {
        throw new TrajforgeError('E_ACTION_INVALID', `${this.spec.id}: discrete action must be an integer in [0, ${space.n}), got ${String(k)}`);
      }
      this.actionBuf.set(this.config.actions.discrete![k]!.value);
      return [];
    }
    const n = space.shape[0];
    const vec: ArrayLike<number> = typeof action === 'number' ? [action] : action;
    if (vec.length !== n) throw new TrajforgeError('E_ACTION_INVALID', `${this.spec.id}: action must have ${n} values (${space.names.join(', ')}), got ${vec.length}`);
    const clipped: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = vec[i] as number;
      if (typeof v !== 'number' || Number.isNaN(v)) {
        throw new TrajforgeError('E_ACTION_INVALID', `${this.spec.id}: action[${i}] (${space.names[i]}) is ${String(v)}; actions must be numbers`);
      }
      const lo = space.low[i]!;
      const hi = space.high[i]!;
      if (v < lo || v > hi) clipped.push(i);
      this.actionBuf[i] = v < lo ? lo : v > hi ? hi : v;
    }
    return clipped;
  }

  private makeInfo(failure: boolean, clippedDims: number[], rewardTerms: Record<string, number>): StepInfo {
    return { success: this.successNow, failure, clipped: clippedDims.length > 0, clippedDims, rewardTerms, step: this.stepCount, collisions: [] };
  }

  /** Contacts that started during the substeps just taken, in the engine's (deterministic) order. */
  private drainCollisions(): Collision[] {
    const built = this.built!;
    const out: Collision[] = [];
    this.events!.drainCollisionEvents((h1: number, h2: number, started: boolean) => {
      if (!started) return;
      const a = built.colliderBody.get(h1);
      const b = built.colliderBody.get(h2);
      if (a === undefined || b === undefined) return;
      const c: Collision = { instances: [this.description!.bodies[a]!.id, this.description!.bodies[b]!.id], position: null, normal: null, impulse: 0 };
      built.world.contactPair(built.world.getCollider(h1), built.world.getCollider(h2), (m: RAPIER_NS.TempContactManifold, flipped: boolean) => {
        const n = m.normal();
        c.normal = flipped ? [-n.x, -n.y, -n.z] : [n.x, n.y, n.z];
        if (m.numSolverContacts() > 0) {
          const p = m.solverContactPoint(0);
          c.position = [p.x, p.y, p.z];
        }
        for (let i = 0; i < m.numContacts(); i++) c.impulse += m.contactImpulse(i);
      });
      out.push(c);
    });
    return out;
  }

  private freeWorld(): void {
    this.events?.free();
    this.events = null;
    if (this.built) {
      this.built.world.free();
      this.built = null;
      this.actuators = null;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new TrajforgeError('E_ENV_CLOSED', `${this.spec.id}: environment is closed`);
  }
}

/** Joint indices from the world down to `body`, following parent links. */
function chainTo(body: number, d: WorldDescription): number[] {
  const chain: number[] = [];
  let current = body;
  for (let guard = 0; guard < d.joints.length + 1; guard++) {
    const j = d.joints.findIndex((jd) => jd.child === current);
    if (j < 0) break;
    chain.unshift(j);
    current = d.joints[j]!.parent;
    if (current < 0) break;
  }
  return chain;
}

/** Camera orientation (OpenGL convention: looks down its -z, y up) from a look-at. */
export function lookAtQuaternion(position: Vec3, target: Vec3, up: Vec3): Quat {
  const f = normalize(sub(target, position));
  let r = normalize(cross(f, up));
  if (Math.hypot(...r) < 1e-9) r = normalize(cross(f, Math.abs(f[2]) < 0.9 ? [0, 0, 1] : [0, 1, 0]));
  const u = cross(r, f);
  const b = scale(f, -1);
  // Rotation matrix with columns r, u, b -> quaternion.
  const m00 = r[0], m01 = u[0], m02 = b[0];
  const m10 = r[1], m11 = u[1], m12 = b[1];
  const m20 = r[2], m21 = u[2], m22 = b[2];
  const trace = m00 + m11 + m22;
  let q: Quat;
  if (trace > 0) {
    const s = Math.sqrt(trace + 1) * 2;
    q = [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s];
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s];
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s];
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s];
  }
  return q;
}

export async function createEnv(resolved: ResolvedEnv): Promise<PhysicsEnv> {
  return new PhysicsEnv(await loadRapier(), resolved);
}

export type { RAPIER_NS };
