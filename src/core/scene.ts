import type { Quat, Vec3 } from './math.js';

/**
 * The plain-data picture of a world at one instant: all a renderer may know. Produced by
 * `PhysicsEnv.snapshot()`, consumed by src/render; never holds engine objects.
 * World frame: right-handed, z up, metres. Quaternions [w, x, y, z].
 */
export type PrimitiveShape =
  | { type: 'box'; halfExtents: Vec3 }
  | { type: 'sphere'; radius: number }
  /** Capsule and cylinder axes lie along the primitive's local z axis. */
  | { type: 'capsule'; radius: number; halfHeight: number }
  | { type: 'cylinder'; radius: number; halfHeight: number }
  /** The ground: the plane z = 0 of the primitive's frame, `halfExtents` wide, drawn checkered. */
  | { type: 'plane'; halfExtents: [number, number]; checker: number };

export interface Primitive {
  /** Instance id, 1-based, stable for an environment (segmentation id; 0 is background). */
  id: number;
  name: string;
  shape: PrimitiveShape;
  position: Vec3;
  quaternion: Quat;
  /** Linear (m/s) and angular (rad/s, world frame) velocity: lets a renderer derive motion fields. */
  linearVelocity: Vec3;
  angularVelocity: Vec3;
  /** Linear RGB in [0, 1]. */
  color: Vec3;
}

export interface CameraSnapshot {
  name: string;
  position: Vec3;
  /** Camera orientation: columns are the camera's right, up and backward axes (OpenGL convention, looks down -z). */
  quaternion: Quat;
  /** Vertical field of view in degrees. */
  fovY: number;
  width: number;
  height: number;
  channels: string[];
}

export interface LightSnapshot {
  /** Unit vector pointing from the scene towards the light. */
  direction: Vec3;
  intensity: number;
  ambient: number;
  shadows: boolean;
}

export interface SceneSnapshot {
  /** Environment step index (0 right after reset). */
  step: number;
  time: number;
  primitives: Primitive[];
  cameras: CameraSnapshot[];
  light: LightSnapshot;
  background: Vec3;
}
