import type { RewardTerm } from '../../config/schema.js';
import { rotate } from '../../core/math.js';
import type { WorldView } from '../view.js';
import { axesMask, compileScalar, compileVec, maskedDistance } from './expr.js';

export interface RewardContext {
  success: boolean;
  failure: boolean;
}

/** A reward term: weighted value for this step. `reset` clears per-episode memory (progress terms). */
export interface RewardFn {
  name: string;
  weight: number;
  value(v: WorldView, ctx: RewardContext): number;
  reset(v: WorldView): void;
}

export function compileReward(t: RewardTerm, view: WorldView, index: number): RewardFn {
  const name = `${t.term}_${index}`;
  const simple = (value: RewardFn['value']): RewardFn => ({ name, weight: t.weight, value, reset: () => {} });
  switch (t.term) {
    case 'distance': {
      const a = compileVec(t.a, view);
      const b = compileVec(t.b, view);
      const m = axesMask(t.axes);
      return simple((v) => maskedDistance(a(v), b(v), m));
    }
    case 'progress': {
      const a = compileVec(t.a, view);
      const b = compileVec(t.b, view);
      const m = axesMask(t.axes);
      let last = 0;
      return {
        name,
        weight: t.weight,
        reset: (v) => {
          last = maskedDistance(a(v), b(v), m);
        },
        value: (v) => {
          const d = maskedDistance(a(v), b(v), m);
          const gain = last - d;
          last = d;
          return gain;
        },
      };
    }
    case 'success':
      return simple((_v, c) => (c.success ? 1 : 0));
    case 'failure':
      return simple((_v, c) => (c.failure ? 1 : 0));
    case 'alive':
      return simple(() => 1);
    case 'action_l2':
      return simple((v) => {
        let s = 0;
        for (let i = 0; i < v.action.length; i++) s += (v.action[i] as number) ** 2;
        return s;
      });
    case 'upright': {
      const i = view.bodyIndex(t.body);
      return simple((v) => rotate(v.quaternion(i), [0, 0, 1])[2]);
    }
    case 'height': {
      const i = view.bodyIndex(t.body);
      return simple((v) => v.position(i)[2]);
    }
    case 'expr': {
      const f = compileScalar(t.value, view);
      return simple((v) => f(v));
    }
  }
}
