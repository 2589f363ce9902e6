import { rotate, type Quat, type Vec3 } from '../core/math.js';
import type { CameraSnapshot } from '../core/scene.js';

/**
 * Pinhole camera conventions (recorded per camera per episode, as Kubric does):
 * - Pose: `position` and `quaternion` [w,x,y,z] in the OpenGL convention — the camera looks down
 *   its local -z, local +y is up, +x right.
 * - Intrinsics `K` in pixels, OpenCV convention: u = fx * X/Z + cx, v = fy * Y/Z + cy for a point
 *   (X right, Y down, Z forward) in the OpenCV camera frame; pixel (i, j) covers [i, i+1) x [j, j+1),
 *   so its centre is (i + 0.5, j + 0.5). Square pixels: fx = fy = (H/2) / tan(fovY/2).
 * - Extrinsics `worldToCamera` 4x4 row-major, OpenCV camera frame; `cameraToWorld` its inverse.
 * - Depth is z-depth: distance along the optical axis (the Z above), not ray length.
 */
export interface CameraModel {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  position: Vec3;
  right: Vec3;
  up: Vec3;
  forward: Vec3;
}

export function cameraModel(c: CameraSnapshot): CameraModel {
  const fy = c.height / 2 / Math.tan((c.fovY * Math.PI) / 360);
  const q: Quat = c.quaternion;
  return {
    width: c.width,
    height: c.height,
    fx: fy,
    fy,
    cx: c.width / 2,
    cy: c.height / 2,
    position: c.position,
    right: rotate(q, [1, 0, 0]),
    up: rotate(q, [0, 1, 0]),
    forward: rotate(q, [0, 0, -1]),
  };
}

/** Projects a world point; returns [u, v, z] (pixels, z-depth) — z <= 0 means behind the camera. */
export function project(cam: CameraModel, p: Vec3): Vec3 {
  const dx = p[0] - cam.position[0];
  const dy = p[1] - cam.position[1];
  const dz = p[2] - cam.position[2];
  const x = dx * cam.right[0] + dy * cam.right[1] + dz * cam.right[2];
  const y = dx * cam.up[0] + dy * cam.up[1] + dz * cam.up[2];
  const z = dx * cam.forward[0] + dy * cam.forward[1] + dz * cam.forward[2];
  return [cam.cx + (cam.fx * x) / z, cam.cy - (cam.fy * y) / z, z];
}

/** World point seen at pixel coordinates (u, v) with z-depth z. */
export function unproject(cam: CameraModel, u: number, v: number, z: number): Vec3 {
  const x = ((u - cam.cx) / cam.fx) * z;
  const y = (-(v - cam.cy) / cam.fy) * z;
  const p = cam.position;
  return [
    p[0] + cam.right[0] * x + cam.up[0] * y + cam.forward[0] * z,
    p[1] + cam.right[1] * x + cam.up[1] * y + cam.forward[1] * z,
    p[2] + cam.right[2] * x + cam.up[2] * y + cam.forward[2] * z,
  ];
}

export interface CameraCalibration {
  name: string;
  width: number;
  height: number;
  fovY: number;
  /** 3x3 intrinsics in pixels (OpenCV), row-major. */
  K: number[][];
  /** 4x4 world -> OpenCV camera frame, row-major. */
  worldToCamera: number[][];
  /** 4x4 OpenCV camera frame -> world, row-major. */
  cameraToWorld: number[][];
  position: Vec3;
  /** OpenGL-convention orientation, [w, x, y, z]. */
  quaternion: Quat;
}

export function calibration(c: CameraSnapshot): CameraCalibration {
  const m = cameraModel(c);
  // OpenCV axes in world coordinates: X = right, Y = -up, Z = forward.
  const X = m.right;
  const Y: Vec3 = [-m.up[0], -m.up[1], -m.up[2]];
  const Z = m.forward;
  const p = m.position;
  const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return {
    name: c.name,
    width: c.width,
    height: c.height,
    fovY: c.fovY,
    K: [
      [m.fx, 0, m.cx],
      [0, m.fy, m.cy],
      [0, 0, 1],
    ],
    worldToCamera: [
      [X[0], X[1], X[2], -dot(X, p)],
      [Y[0], Y[1], Y[2], -dot(Y, p)],
      [Z[0], Z[1], Z[2], -dot(Z, p)],
      [0, 0, 0, 1],
    ],
    cameraToWorld: [
      [X[0], Y[0], Z[0], p[0]],
      [X[1], Y[1], Z[1], p[1]],
      [X[2], Y[2], Z[2], p[2]],
      [0, 0, 0, 1],
    ],
    position: [...p],
    quaternion: [...c.quaternion],
  };
}
