import type { EnvConfig, ExpertRule } from '../config/schema.js';
import { TrajforgeError } from '../core/errors.js';
import { add, cross, dot, normalize, rotate, scale, sub, type Vec3 } from '../core/math.js';
import { Rng } from '../core/rng.js';
import type { Action, BoxSpace } from '../core/spaces.js';
import { axesMask, compileCond, compileVec, type CondFn, type VecFn } from '../sim/terms/expr.js';
import type { WorldView } from '../sim/view.js';
import type { Policy } from './policy.js';

export interface ExpertOptions {
  /** Gaussian action noise, as a fraction of each dimension's half-range. */
  noise: number;
  /** Probability of replacing a step's action with a uniform random one. */
  epsilon: number;
}

interface CompiledRule {
  rule: ExpertRule;
  when: CondFn | null;
  target: VecFn | null;
  mask: Vec3;
  bodyIndex: number;
  feedback: { actuator: number; bias: number; gains: { obs: number; gain: number }[] }[];
  set: { actuator: number; value: number }[];
}

/**
 * The scripted expert declared in an environment's `expert:` section: an ordered list of
 * reactive rules; the first whose `when` holds acts. A `drive` rule moves a body point toward a
 * target with a proportional velocity command, mapped onto whichever actuators move that point:
 * kinematic velocities and forces directly, joint motors through the damped least-squares inverse
 * of the chain Jacobian. `feedback` is linear state feedback; `set` pins actuator values.
 */
export class ExpertPolicy implements Policy {
  readonly name = 'expert';
  private rng = new Rng(0);
  private rules: CompiledRule[] | null = null;
  private readonly out: Float32Array;

  constructor(
    private readonly config: EnvConfig,
    private readonly space: BoxSpace,
    private readonly opts: ExpertOptions = { noise: 0, epsilon: 0 },
  ) {
    if (!config.expert) throw new TrajforgeError('E_POLICY_INVALID', `${config.id} declares no expert; use --policy random or noise`);
    if (opts.noise < 0 || opts.epsilon < 0 || opts.epsilon > 1) throw new TrajforgeError('E_POLICY_INVALID', `expert noise must be >= 0 and epsilon in [0, 1], got noise ${opts.noise} and epsilon ${opts.epsilon}; fix --noise / --epsilon`);
    this.out = new Float32Array(space.shape[0]);
  }

  reset(seed: number): void {
    this.rng = new Rng(seed);
  }

  act(_obs: Float32Array, view: WorldView): Action {
    this.rules ??= this.compile(view);
    const out = this.out;
    const acts = this.config.actions.actuators;
    // Unused motors hold their joint where it is; everything else rests at zero.
    for (let k = 0; k < acts.length; k++) {
      const a = acts[k]!;
      out[k] = a.type === 'motor_position' ? view.jointAngle(view.jointIndex(a.joint)) / a.scale : 0;
    }
    const rule = this.rules.find((r) => r.when === null || r.when(view));
    if (rule) this.applyRule(rule, view);
    const result = new Float32Array(out.length);
    const explore = this.opts.epsilon > 0 && this.rng.next() < this.opts.epsilon;
    for (let k = 0; k < out.length; k++) {
      const lo = this.space.low[k]!;
      const hi = this.space.high[k]!;
      let v = explore ? this.rng.uniform(lo, hi) : (out[k] as number);
      if (this.opts.noise > 0) v += this.rng.normal() * this.opts.noise * 0.5 * (hi - lo);
      result[k] = Math.min(hi, Math.max(lo, v));
    }
    return result;
  }

  private compile(view: WorldView): CompiledRule[] {
    const obsIndex = (n: string) => view.obsIndex(n);
    return this.config.expert!.rules.map((rule) => ({
      rule,
      when: rule.when ? compileCond(rule.when, view) : null,
      target: rule.drive ? compileVec(rule.drive.target, view) : null,
      mask: axesMask(rule.drive?.axes ?? 'xyz'),
      bodyIndex: rule.drive ? view.bodyIndex(rule.drive.body) : -1,
      feedback: (rule.feedback ?? []).map((f) => ({
        actuator: view.actuatorIndex(f.actuator),
        bias: f.bias,
        gains: Object.entries(f.gains).map(([n, gain]) => ({ obs: obsIndex(n), gain })),
      })),
      set: Object.entries(rule.set ?? {}).map(([n, value]) => ({ actuator: view.actuatorIndex(n), value })),
    }));
  }

  private applyRule(r: CompiledRule, view: WorldView): void {
    const acts = this.config.actions.actuators;
    const out = this.out;
    if (r.rule.drive && r.target) {
      const d = r.rule.drive;
      const b = r.bodyIndex;
      const point = add(view.position(b), rotate(view.quaternion(b), d.offset));
      const err = sub(r.target(view), point);
      let v: Vec3 = [err[0] * r.mask[0] * d.gain, err[1] * r.mask[1] * d.gain, err[2] * r.mask[2] * d.gain];
      const speed = Math.hypot(...v);
      if (d.maxSpeed !== undefined && speed > d.maxSpeed) v = scale(v, d.maxSpeed / speed);
      const chain = view.jointChain(b);
      const jointRates = chain.length > 0 ? dlsJointRates(view, chain, point, v) : new Map<number, number>();
      for (let k = 0; k < acts.length; k++) {
        const a = acts[k]!;
        switch (a.type) {
          case 'kinematic_velocity':
            if (view.bodyIndex(a.body) === b) out[k] = dot(v, normalize(a.axis)) / a.scale;
            break;
          case 'force':
            if (view.bodyIndex(a.body) === b) out[k] = (dot(sub(v, view.linearVelocity(b)), normalize(a.axis)) * d.gain) / a.scale;
            break;
          case 'motor_velocity': {
            const rate = jointRates.get(view.jointIndex(a.joint));
            if (rate !== undefined) out[k] = rate / a.scale;
            break;
          }
          case 'motor_position': {
            const j = view.jointIndex(a.joint);
            const rate = jointRates.get(j);
            if (rate !== undefined) out[k] = (view.jointAngle(j) + rate * view.timestep * 2) / a.scale;
            break;
          }
          default:
            break;
        }
      }
    }
    for (const f of r.feedback) {
      let u = f.bias;
      for (const g of f.gains) u += g.gain * (view.obs[g.obs] as number);
      out[f.actuator] = u;
    }
    for (const s of r.set) out[s.actuator] = s.value;
  }
}

/** Joint rates that move `point` at velocity `v`: qdot = J^T (J J^T + l^2 I)^-1 v. */
function dlsJointRates(view: WorldView, chain: number[], point: Vec3, v: Vec3): Map<number, number> {
  const cols: Vec3[] = chain.map((j) => {
    const axis = view.jointAxisWorld(j);
    // A prismatic joint moves the point along its axis; a revolute one around it.
    return view.jointIsPrismatic(j) ? axis : cross(axis, sub(point, view.jointAnchorWorld(j)));
  });
  const lambda2 = 0.05 ** 2;
  const m = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (const c of cols) for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) m[r * 3 + s]! += c[r]! * c[s]!;
  m[0]! += lambda2;
  m[4]! += lambda2;
  m[8]! += lambda2;
  const y = solve3(m, v);
  return new Map(chain.map((j, i) => [j, dot(cols[i]!, y)]));
}

function solve3(m: number[], b: Vec3): Vec3 {
  const [a, bb, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const det = a * (e * i - f * h) - bb * (d * i - f * g) + c * (d * h - e * g);
  if (Math.abs(det) < 1e-12) return [0, 0, 0];
  const inv = [e * i - f * h, c * h - bb * i, bb * f - c * e, f * g - d * i, a * i - c * g, c * d - a * f, d * h - e * g, bb * g - a * h, a * e - bb * d];
  return [
    (inv[0]! * b[0] + inv[1]! * b[1] + inv[2]! * b[2]) / det,
    (inv[3]! * b[0] + inv[4]! * b[1] + inv[5]! * b[2]) / det,
    (inv[6]! * b[0] + inv[7]! * b[1] + inv[8]! * b[2]) / det,
  ];
}
