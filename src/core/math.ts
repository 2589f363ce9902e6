/**
 * Small vector / quaternion helpers on plain tuples. Quaternions are [w, x, y, z] everywhere in
 * trajforge's data (the MuJoCo / Kubric convention); only src/sim talks Rapier's {x,y,z,w}.
 */
export type Vec3 = [number, number, number];
export type Quat = [number, number, number, number];

export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const norm = (a: Vec3): number => Math.sqrt(dot(a, a));
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return n > 1e-12 ? scale(a, 1 / n) : [0, 0, 0];
}

export const IDENTITY_QUAT: Quat = [1, 0, 0, 0];

export function quatMul(a: Quat, b: Quat): Quat {
  const [aw, ax, ay, az] = a;
  const [bw, bx, by, bz] = b;
  return [
    aw * bw - ax * bx - ay * by - az * bz,
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
  ];
}

export const quatConj = (q: Quat): Quat => [q[0], -q[1], -q[2], -q[3]];

export function quatNormalize(q: Quat): Quat {
  const n = Math.hypot(q[0], q[1], q[2], q[3]);
  return n > 0 ? [q[0] / n, q[1] / n, q[2] / n, q[3] / n] : [1, 0, 0, 0];
}

export function rotate(q: Quat, v: Vec3): Vec3 {
  const [w, x, y, z] = q;
  // v' = v + 2w(u x v) + 2u x (u x v), u = (x, y, z)
  const tx = 2 * (y * v[2] - z * v[1]);
  const ty = 2 * (z * v[0] - x * v[2]);
  const tz = 2 * (x * v[1] - y * v[0]);
  return [v[0] + w * tx + (y * tz - z * ty), v[1] + w * ty + (z * tx - x * tz), v[2] + w * tz + (x * ty - y * tx)];
}

export function quatFromAxisAngle(axis: Vec3, angle: number): Quat {
  const u = normalize(axis);
  const s = Math.sin(angle / 2);
  return [Math.cos(angle / 2), u[0] * s, u[1] * s, u[2] * s];
}

/** Intrinsic-free convention: roll about x, then pitch about y, then yaw about z (all in degrees), q = qz * qy * qx. */
export function quatFromEulerDeg(e: Vec3): Quat {
  const r = (d: number) => (d * Math.PI) / 180;
  const qx = quatFromAxisAngle([1, 0, 0], r(e[0]));
  const qy = quatFromAxisAngle([0, 1, 0], r(e[1]));
  const qz = quatFromAxisAngle([0, 0, 1], r(e[2]));
  return quatMul(qz, quatMul(qy, qx));
}

/** Rotation angle of q about a unit axis (twist decomposition), in (-pi, pi]. */
export function twistAngle(q: Quat, axis: Vec3): number {
  const p = q[1] * axis[0] + q[2] * axis[1] + q[3] * axis[2];
  let angle = 2 * Math.atan2(p, q[0]);
  if (angle > Math.PI) angle -= 2 * Math.PI;
  if (angle <= -Math.PI) angle += 2 * Math.PI;
  return angle;
}

export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
export const degToRad = (d: number): number => (d * Math.PI) / 180;
