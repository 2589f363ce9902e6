import type { EnvConfig, ObservationTerm } from '../../config/schema.js';
import { expandedObservationTerms } from '../../config/names.js';
import type { WorldView } from '../view.js';

/** Observation terms compiled to writers that fill a slice of the state vector. */
export type ObsWriter = (v: WorldView, out: Float32Array, offset: number) => number;

const AXIS: Record<string, number> = { x: 0, y: 1, z: 2 };

function axesIdx(axes: string): number[] {
  return [...axes].map((a) => AXIS[a] as number);
}

export function compileObservation(cfg: EnvConfig, view: WorldView): ObsWriter[] {
  return expandedObservationTerms(cfg).map((t) => compileTerm(t, cfg, view));
}

function compileTerm(t: ObservationTerm, cfg: EnvConfig, view: WorldView): ObsWriter {
  const vecTerm = (body: string, axes: string, get: (v: WorldView, i: number) => number[]): ObsWriter => {
    const i = view.bodyIndex(body);
    const idx = axesIdx(axes);
    return (v, out, o) => {
      const x = get(v, i);
      for (let k = 0; k < idx.length; k++) out[o + k] = x[idx[k] as number] as number;
      return idx.length;
    };
  };
  switch (t.term) {
    case 'position':
      return vecTerm(t.body, t.axes, (v, i) => v.position(i));
    case 'linear_velocity':
      return vecTerm(t.body, t.axes, (v, i) => v.linearVelocity(i));
    case 'angular_velocity':
      return vecTerm(t.body, t.axes, (v, i) => v.angularVelocity(i));
    case 'orientation':
    {
      const i = view.bodyIndex(t.body);
      return (v, out, o) => {
        const q = v.quaternion(i);
        // Canonical hemisphere (w >= 0) so q and -q do not alternate in datasets.
        const s = q[0] < 0 ? -1 : 1;
        for (let k = 0; k < 4; k++) out[o + k] = s * (q[k] as number);
        return 4;
      };
    }
    case 'joint_angle': {
      const j = view.jointIndex(t.joint);
      if (t.encoding === 'sincos') {
        return (v, out, o) => {
          const a = v.jointAngle(j);
          out[o] = Math.sin(a);
          out[o + 1] = Math.cos(a);
          return 2;
        };
      }
      return (v, out, o) => {
        out[o] = v.jointAngle(j);
        return 1;
      };
    }
    case 'joint_velocity': {
      const j = view.jointIndex(t.joint);
      return (v, out, o) => {
        out[o] = v.jointVelocity(j);
        return 1;
      };
    }
    case 'relative_position': {
      const a = view.bodyIndex(t.from);
      const b = view.bodyIndex(t.to);
      const idx = axesIdx(t.axes);
      return (v, out, o) => {
        const pa = v.position(a);
        const pb = v.position(b);
        for (let k = 0; k < idx.length; k++) {
          const c = idx[k] as number;
          out[o + k] = (pb[c] as number) - (pa[c] as number);
        }
        return idx.length;
      };
    }
    case 'goal':
      return vecTerm(cfg.task.goal as string, t.axes, (v, i) => v.position(i));
    case 'grip': {
      const a = view.actuatorIndex(t.actuator);
      return (v, out, o) => {
        out[o] = v.attached(a) ? 1 : 0;
        return 1;
      };
    }
  }
}

