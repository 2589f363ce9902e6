/**
 * Ray / primitive intersection in the primitive's local frame (ray o + t d, d not normalised).
 * Returns the smallest t > tMin, or Infinity. Shapes: sphere (r), box (hx, hy, hz), capsule and
 * cylinder along local z (r, hh), plane z = 0 (hx, hy). All convex except the finite plane, so a
 * shape never shadows its own lit side — the shadow pass skips self-tests for that reason.
 */
export const SPHERE = 0;
export const BOX = 1;
export const CAPSULE = 2;
export const CYLINDER = 3;
export const PLANE = 4;

export function capsuleHit(r: number, hh: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  let t = cylinderSide(r, hh, ox, oy, oz, dx, dy, dz, tMin);
  const a = sphereHit(r, ox, oy, oz - hh, dx, dy, dz, tMin);
  if (a < t) t = a;
  const b = sphereHit(r, ox, oy, oz + hh, dx, dy, dz, tMin);
  return b < t ? b : t;
}

export function cylinderHit(r: number, hh: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  let t = cylinderSide(r, hh, ox, oy, oz, dx, dy, dz, tMin);
  if (dz !== 0) {
    const r2 = r * r;
    const ta = (hh - oz) / dz;
    if (ta > tMin && ta < t && (ox + ta * dx) ** 2 + (oy + ta * dy) ** 2 <= r2) t = ta;
    const tb = (-hh - oz) / dz;
    if (tb > tMin && tb < t && (ox + tb * dx) ** 2 + (oy + tb * dy) ** 2 <= r2) t = tb;
  }
  return t;
}

export function intersectLocal(kind: number, s0: number, s1: number, s2: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  switch (kind) {
    case SPHERE:
      return sphereHit(s0, ox, oy, oz, dx, dy, dz, tMin);
    case BOX:
      return boxHit(s0, s1, s2, ox, oy, oz, dx, dy, dz, tMin);
    case CAPSULE:
      return capsuleHit(s0, s1, ox, oy, oz, dx, dy, dz, tMin);
    case CYLINDER:
      return cylinderHit(s0, s1, ox, oy, oz, dx, dy, dz, tMin);
    case PLANE: {
      if (dz === 0) return Infinity;
      const t = -oz / dz;
      if (!(t > tMin)) return Infinity;
      const x = ox + t * dx;
      const y = oy + t * dy;
      return x >= -s0 && x <= s0 && y >= -s1 && y <= s1 ? t : Infinity;
    }
    default:
      return Infinity;
  }
}

export function sphereHit(r: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  const a = dx * dx + dy * dy + dz * dz;
  const b = ox * dx + oy * dy + oz * dz;
  const c = ox * ox + oy * oy + oz * oz - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return Infinity;
  const sq = Math.sqrt(disc);
  const t0 = (-b - sq) / a;
  if (t0 > tMin) return t0;
  const t1 = (-b + sq) / a;
  return t1 > tMin ? t1 : Infinity;
}

export function boxHit(hx: number, hy: number, hz: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  let tNear = -Infinity;
  let tFar = Infinity;
  if (dx !== 0) {
    const inv = 1 / dx;
    let t1 = (-hx - ox) * inv;
    let t2 = (hx - ox) * inv;
    if (t1 > t2) [t1, t2] = [t2, t1];
    if (t1 > tNear) tNear = t1;
    if (t2 < tFar) tFar = t2;
  } else if (ox < -hx || ox > hx) return Infinity;
  if (dy !== 0) {
    const inv = 1 / dy;
    let t1 = (-hy - oy) * inv;
    let t2 = (hy - oy) * inv;
    if (t1 > t2) [t1, t2] = [t2, t1];
    if (t1 > tNear) tNear = t1;
    if (t2 < tFar) tFar = t2;
  } else if (oy < -hy || oy > hy) return Infinity;
  if (dz !== 0) {
    const inv = 1 / dz;
    let t1 = (-hz - oz) * inv;
    let t2 = (hz - oz) * inv;
    if (t1 > t2) [t1, t2] = [t2, t1];
    if (t1 > tNear) tNear = t1;
    if (t2 < tFar) tFar = t2;
  } else if (oz < -hz || oz > hz) return Infinity;
  if (tNear > tFar) return Infinity;
  if (tNear > tMin) return tNear;
  return tFar > tMin ? tFar : Infinity;
}

/** The open side of a z-axis cylinder of radius r between z = -hh and hh. */
function cylinderSide(r: number, hh: number, ox: number, oy: number, oz: number, dx: number, dy: number, dz: number, tMin: number): number {
  const a = dx * dx + dy * dy;
  if (a === 0) return Infinity;
  const b = ox * dx + oy * dy;
  const c = ox * ox + oy * oy - r * r;
  const disc = b * b - a * c;
  if (disc < 0) return Infinity;
  const sq = Math.sqrt(disc);
  let t = (-b - sq) / a;
  if (t > tMin) {
    const z = oz + t * dz;
    if (z >= -hh && z <= hh) return t;
  }
  t = (-b + sq) / a;
  if (t > tMin) {
    const z = oz + t * dz;
    if (z >= -hh && z <= hh) return t;
  }
  return Infinity;
}

/** Outward unit normal (local frame) at a local surface point; written into out[0..2]. */
export function localNormal(kind: number, s0: number, s1: number, s2: number, x: number, y: number, z: number, out: Float64Array): void {
  let nx = 0;
  let ny = 0;
  let nz = 1;
  switch (kind) {
    case SPHERE:
      nx = x;
      ny = y;
      nz = z;
      break;
    case BOX: {
      const ax = Math.abs(x) / s0;
      const ay = Math.abs(y) / s1;
      const az = Math.abs(z) / s2;
      if (ax >= ay && ax >= az) [nx, ny, nz] = [Math.sign(x), 0, 0];
      else if (ay >= az) [nx, ny, nz] = [0, Math.sign(y), 0];
      else [nx, ny, nz] = [0, 0, Math.sign(z)];
      break;
    }
    case CAPSULE: {
      const zc = z > s1 ? s1 : z < -s1 ? -s1 : z;
      nx = x;
      ny = y;
      nz = z - zc;
      break;
    }
    case CYLINDER: {
      const rxy = Math.sqrt(x * x + y * y);
      if (s1 - Math.abs(z) < s0 - rxy) [nx, ny, nz] = [0, 0, Math.sign(z)];
      else [nx, ny, nz] = [x, y, 0];
      break;
    }
    default:
      break;
  }
  const n = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
  out[0] = nx / n;
  out[1] = ny / n;
  out[2] = nz / n;
}
