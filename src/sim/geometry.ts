import { quatConj, rotate, type Quat, type Vec3 } from '../core/math.js';

/** Rotate v by the inverse of q: world direction -> body-local direction. */
export function conjRotate(q: Quat, v: Vec3): Vec3 {
  return rotate(quatConj(q), v);
}
