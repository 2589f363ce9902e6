import type RAPIER_NS from '@dimforge/rapier3d-compat';
import type { ActuatorConfig, EnvConfig } from '../../config/schema.js';
import { add, normalize, quatConj, quatMul, rotate, sub, type Vec3 } from '../../core/math.js';
import { conjRotate } from '../geometry.js';
import type { BuiltWorld } from '../build.js';
import type { Rapier } from '../rapier.js';
import { toR, toRQ } from '../build.js';

/**
 * Actuators turn one action vector (one value per actuator, already clipped to bounds) into
 * engine commands: forces and torques, kinematic velocities, joint motor targets, a suction grip.
 */
export interface ActuatorRuntime {
  /** Apply before the physics substeps of one environment step. */
  apply(action: Float32Array): void;
  /** Index of the body a grip actuator holds, or -1. */
  attachedBody(actuator: number): number;
}

interface Ctx {
  R: Rapier;
  built: BuiltWorld;
  bodyIndex: Map<string, number>;
  jointIndex: Map<string, number>;
  /** Body index -> is it a dynamic body present in this episode. */
  dynamicPresent: (i: number) => boolean;
}

export function createActuators(cfg: EnvConfig, ctx: Ctx): ActuatorRuntime {
  const acts = cfg.actions.actuators;
  const { built, R } = ctx;
  const forceBodies = new Set<number>();
  const torqueBodies = new Set<number>();
  const kinematicBodies = new Set<number>();
  for (const a of acts) {
    if (a.type === 'force') forceBodies.add(ctx.bodyIndex.get(a.body)!);
    if (a.type === 'torque') torqueBodies.add(ctx.bodyIndex.get(a.body)!);
    if (a.type === 'kinematic_velocity') kinematicBodies.add(ctx.bodyIndex.get(a.body)!);
  }
  const axes = acts.map((a) => ('axis' in a ? normalize(a.axis) : ([0, 0, 0] as Vec3)));
  const grips = acts.map(() => ({ body: -1, joint: null as RAPIER_NS.ImpulseJoint | null }));
  const bodyCount = built.bodies.length;
  const force = new Float64Array(bodyCount * 3);
  const torque = new Float64Array(bodyCount * 3);
  const vel = new Float64Array(bodyCount * 3);

  const accumulate = (buf: Float64Array, i: number, axis: Vec3, amount: number) => {
    buf[i * 3] = (buf[i * 3] as number) + axis[0] * amount;
    buf[i * 3 + 1] = (buf[i * 3 + 1] as number) + axis[1] * amount;
    buf[i * 3 + 2] = (buf[i * 3 + 2] as number) + axis[2] * amount;
  };

  function grip(k: number, a: Extract<ActuatorConfig, { type: 'grip' }>, value: number): void {
    const state = grips[k]!;
    const gi = ctx.bodyIndex.get(a.body)!;
    const g = built.bodies[gi];
    if (!g) return;
    const on = value > 0.5 * (a.low + a.high);
    if (!on && state.joint) {
      built.world.removeImpulseJoint(state.joint, true);
      state.joint = null;
      state.body = -1;
      return;
    }
    if (!on || state.joint) return;
    const gp = vec(g.translation());
    const gq = quat(g.rotation());
    const point = add(gp, rotate(gq, a.offset));
    let best = -1;
    let bestDist = a.range;
    for (let i = 0; i < bodyCount; i++) {
      if (i === gi || !ctx.dynamicPresent(i)) continue;
      const p = vec(built.bodies[i]!.translation());
      const d = Math.hypot(p[0] - point[0], p[1] - point[1], p[2] - point[2]);
      if (d <= bestDist) {
        best = i;
        bestDist = d;
      }
    }
    if (best < 0) return;
    const target = built.bodies[best]!;
    const tp = vec(target.translation());
    const tq = quat(target.rotation());
    // Hold the body exactly where it is relative to the gripper.
    const data = R.JointData.fixed(toR(conjRotate(gq, sub(tp, gp))), toRQ(quatMul(quatConj(gq), tq)), { x: 0, y: 0, z: 0 }, { w: 1, x: 0, y: 0, z: 0 });
    state.joint = built.world.createImpulseJoint(data, g, target, true);
    state.joint.setContactsEnabled(false);
    state.body = best;
  }

  return {
    attachedBody: (k) => grips[k]?.body ?? -1,
    apply(action) {
      force.fill(0);
      torque.fill(0);
      vel.fill(0);
      for (let k = 0; k < acts.length; k++) {
        const a = acts[k]!;
        const u = action[k] as number;
        switch (a.type) {
          case 'force':
            accumulate(force, ctx.bodyIndex.get(a.body)!, axes[k]!, u * a.scale);
            break;
          case 'torque':
            accumulate(torque, ctx.bodyIndex.get(a.body)!, axes[k]!, u * a.scale);
            break;
          case 'kinematic_velocity':
            accumulate(vel, ctx.bodyIndex.get(a.body)!, axes[k]!, u * a.scale);
            break;
          case 'motor_position': {
            const j = built.joints[ctx.jointIndex.get(a.joint)!] as RAPIER_NS.UnitImpulseJoint | null;
            j?.configureMotorPosition(u * a.scale, a.stiffness, a.damping);
            break;
          }
          case 'motor_velocity': {
            const j = built.joints[ctx.jointIndex.get(a.joint)!] as RAPIER_NS.UnitImpulseJoint | null;
            j?.configureMotorVelocity(u * a.scale, a.damping);
            break;
          }
          case 'grip':
            grip(k, a, u);
            break;
        }
      }
      for (const i of forceBodies) {
        const b = built.bodies[i];
        if (!b) continue;
        b.resetForces(false);
        b.addForce({ x: force[i * 3]!, y: force[i * 3 + 1]!, z: force[i * 3 + 2]! }, true);
      }
      for (const i of torqueBodies) {
        const b = built.bodies[i];
        if (!b) continue;
        b.resetTorques(false);
        b.addTorque({ x: torque[i * 3]!, y: torque[i * 3 + 1]!, z: torque[i * 3 + 2]! }, true);
      }
      for (const i of kinematicBodies) built.bodies[i]?.setLinvel({ x: vel[i * 3]!, y: vel[i * 3 + 1]!, z: vel[i * 3 + 2]! }, true);
    },
  };
}

function vec(v: { x: number; y: number; z: number }): Vec3 {
  return [v.x, v.y, v.z];
}
function quat(q: { w: number; x: number; y: number; z: number }): [number, number, number, number] {
  return [q.w, q.x, q.y, q.z];
}
