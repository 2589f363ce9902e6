import type { CondExpr, ScalarExpr, VecExpr } from '../../config/expr.js';
import { TrajforgeError } from '../../core/errors.js';
import { add, dot, norm, normalize, rotate, scale, sub, type Vec3 } from '../../core/math.js';
import type { WorldView } from '../view.js';

/** Expressions compiled once into closures over indices, so per-step evaluation does no lookups. */
export type VecFn = (v: WorldView) => Vec3;
export type ScalarFn = (v: WorldView) => number;
export type CondFn = (v: WorldView) => boolean;

function bodyIdx(view: WorldView, name: string): number {
  const i = view.bodyIndex(name);
  if (i < 0) throw new TrajforgeError('E_INTERNAL', `expression refers to unknown body ${name}`);
  return i;
}

export function compileVec(e: VecExpr, view: WorldView): VecFn {
  if (typeof e === 'string') {
    const i = bodyIdx(view, e);
    return (v) => v.position(i);
  }
  if (Array.isArray(e)) {
    const c: Vec3 = [e[0], e[1], e[2]];
    return () => c;
  }
  if ('add' in e) {
    const parts = e.add.map((p) => compileVec(p, view));
    return (v) => parts.reduce<Vec3>((acc, f) => add(acc, f(v)), [0, 0, 0]);
  }
  if ('sub' in e) {
    const a = compileVec(e.sub[0], view);
    const b = compileVec(e.sub[1], view);
    return (v) => sub(a(v), b(v));
  }
  if ('scale' in e) {
    const a = compileVec(e.scale[0], view);
    const s = compileScalar(e.scale[1], view);
    return (v) => scale(a(v), s(v));
  }
  if ('unit' in e) {
    const a = compileVec(e.unit, view);
    return (v) => normalize(a(v));
  }
  if ('planar' in e) {
    const a = compileVec(e.planar, view);
    return (v) => {
      const p = a(v);
      return [p[0], p[1], 0];
    };
  }
  if ('perp' in e) {
    const a = compileVec(e.perp, view);
    return (v) => {
      const p = a(v);
      return [-p[1], p[0], p[2]];
    };
  }
  if ('point' in e) {
    const i = bodyIdx(view, e.point.body);
    const off = e.point.offset;
    return (v) => add(v.position(i), rotate(v.quaternion(i), off));
  }
  const i = bodyIdx(view, e.velocity);
  return (v) => v.linearVelocity(i);
}

export function compileScalar(e: ScalarExpr, view: WorldView): ScalarFn {
  if (typeof e === 'number') return () => e;
  if ('dot' in e) {
    const a = compileVec(e.dot[0], view);
    const b = compileVec(e.dot[1], view);
    return (v) => dot(a(v), b(v));
  }
  if ('norm' in e) {
    const a = compileVec(e.norm, view);
    return (v) => norm(a(v));
  }
  if ('distance' in e) {
    const a = compileVec(e.distance[0], view);
    const b = compileVec(e.distance[1], view);
    return (v) => norm(sub(a(v), b(v)));
  }
  if ('x' in e || 'y' in e || 'z' in e) {
    const [k, inner]: [0 | 1 | 2, VecExpr] = 'x' in e ? [0, e.x] : 'y' in e ? [1, e.y] : [2, (e as { z: VecExpr }).z];
    const a = compileVec(inner, view);
    return (v) => a(v)[k];
  }
  if ('obs' in e) {
    const i = view.obsIndex(e.obs);
    if (i < 0) throw new TrajforgeError('E_INTERNAL', `expression refers to unknown observation ${e.obs}`);
    return (v) => v.obs[i] as number;
  }
  if ('sum' in e) {
    const parts = e.sum.map((p) => compileScalar(p, view));
    return (v) => parts.reduce((acc, f) => acc + f(v), 0);
  }
  if ('sign' in e) {
    const a = compileScalar(e.sign, view);
    return (v) => (a(v) < 0 ? -1 : 1);
  }
  if ('clamp' in e) {
    const a = compileScalar(e.clamp[0], view);
    const [lo, hi] = [e.clamp[1], e.clamp[2]];
    return (v) => Math.min(hi, Math.max(lo, a(v)));
  }
  const parts = e.mul.map((p) => compileScalar(p, view));
  return (v) => parts.reduce((acc, f) => acc * f(v), 1);
}

export function compileCond(e: CondExpr, view: WorldView): CondFn {
  if ('lt' in e) {
    const a = compileScalar(e.lt[0], view);
    const b = compileScalar(e.lt[1], view);
    return (v) => a(v) < b(v);
  }
  if ('gt' in e) {
    const a = compileScalar(e.gt[0], view);
    const b = compileScalar(e.gt[1], view);
    return (v) => a(v) > b(v);
  }
  if ('and' in e) {
    const parts = e.and.map((p) => compileCond(p, view));
    return (v) => parts.every((f) => f(v));
  }
  if ('or' in e) {
    const parts = e.or.map((p) => compileCond(p, view));
    return (v) => parts.some((f) => f(v));
  }
  if ('not' in e) {
    const a = compileCond(e.not, view);
    return (v) => !a(v);
  }
  if ('success' in e) return (v) => v.success;
  if ('after' in e) {
    const n = e.after;
    return (v) => v.stepIndex >= n;
  }
  const i = view.actuatorIndex(e.gripping);
  return (v) => v.attached(i);
}

/** Keep only the named axes of a vector (for planar distances). */
export function axesMask(axes: string): Vec3 {
  return [axes.includes('x') ? 1 : 0, axes.includes('y') ? 1 : 0, axes.includes('z') ? 1 : 0];
}
export function maskedDistance(a: Vec3, b: Vec3, m: Vec3): number {
  const dx = (a[0] - b[0]) * m[0];
  const dy = (a[1] - b[1]) * m[1];
  const dz = (a[2] - b[2]) * m[2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}
