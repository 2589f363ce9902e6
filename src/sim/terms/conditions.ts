import type { ConditionTerm } from '../../config/schema.js';
import { degToRad, rotate } from '../../core/math.js';
import type { WorldView } from '../view.js';
import { axesMask, compileCond, compileVec, maskedDistance } from './expr.js';

/**
 * Success and failure terms. `atTimeLimit` lets `survive` hold only when the episode is being
 * truncated by its time limit.
 */
export type ConditionFn = (v: WorldView, atTimeLimit: boolean) => boolean;

export function compileCondition(t: ConditionTerm, view: WorldView): ConditionFn {
  switch (t.term) {
    case 'within': {
      const a = compileVec(t.a, view);
      const b = compileVec(t.b, view);
      const m = axesMask(t.axes);
      return (v) => maskedDistance(a(v), b(v), m) <= t.radius;
    }
    case 'out_of_bounds': {
      const i = view.bodyIndex(t.body);
      return (v) => {
        if (!v.present(i)) return false;
        const p = v.position(i);
        return p[0] < t.low[0] || p[1] < t.low[1] || p[2] < t.low[2] || p[0] > t.high[0] || p[1] > t.high[1] || p[2] > t.high[2];
      };
    }
    case 'fallen': {
      const i = view.bodyIndex(t.body);
      const cosMax = Math.cos(degToRad(t.maxTilt));
      return (v) => rotate(v.quaternion(i), [0, 0, 1])[2] < cosMax;
    }
    case 'joint_outside': {
      const j = view.jointIndex(t.joint);
      return (v) => {
        const a = v.jointAngle(j);
        return a < t.low || a > t.high;
      };
    }
    case 'resting': {
      const i = view.bodyIndex(t.body);
      return (v) => {
        const u = v.linearVelocity(i);
        return Math.hypot(u[0], u[1], u[2]) <= t.maxSpeed;
      };
    }
    case 'condition': {
      const c = compileCond(t.when, view);
      return (v) => c(v);
    }
    case 'survive':
      return (_v, atTimeLimit) => atTimeLimit;
  }
}
