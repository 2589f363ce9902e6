import type { Quat, Vec3 } from '../core/math.js';
import type { LightSnapshot, PrimitiveShape } from '../core/scene.js';

/**
 * A fully sampled world: every random choice of one episode already made. Plain data between the
 * config and the engine (rapier.js style), so an episode's world can be logged, hashed and rebuilt.
 */
export interface BodyDesc {
  /** Segmentation / instance id: 1-based index in the expanded body list. */
  id: number;
  name: string;
  /** The config body it came from (differs from name for repeated bodies). */
  base: string;
  present: boolean;
  type: 'dynamic' | 'fixed' | 'kinematic';
  shape: PrimitiveShape;
  mass: number | undefined;
  density: number;
  friction: number;
  restitution: number;
  linearDamping: number;
  angularDamping: number;
  gravityScale: number;
  color: Vec3;
  position: Vec3;
  quaternion: Quat;
  /** Orientation of the shape within the body frame. */
  shapeQuaternion: Quat;
  linearVelocity: Vec3;
  angularVelocity: Vec3;
  collide: boolean;
  visible: boolean;
  lockRotations: [boolean, boolean, boolean];
  lockTranslations: [boolean, boolean, boolean];
  ccd: boolean;
}

export interface JointDesc {
  name: string;
  type: 'revolute' | 'prismatic' | 'fixed' | 'spherical';
  /** Body index, or -1 for the world. */
  parent: number;
  child: number;
  /** Anchors in each body's local frame. */
  anchorParent: Vec3;
  anchorChild: Vec3;
  /** Unit axis in the parent's local frame (the child shares the parent's rest orientation). */
  axisLocal: Vec3;
  limits: [number, number] | undefined;
  motor: { mode: 'position' | 'velocity'; target: number; stiffness: number; damping: number } | undefined;
}

export interface CameraDesc {
  name: string;
  width: number;
  height: number;
  fovY: number;
  position: Vec3;
  lookAt: Vec3;
  up: Vec3;
  channels: string[];
  /** Body index the camera rides on, or -1 for a fixed camera. */
  attach: number;
  depthMax: number;
}

export interface WorldDescription {
  seed: number;
  gravity: Vec3;
  timestep: number;
  substeps: number;
  bodies: BodyDesc[];
  joints: JointDesc[];
  cameras: CameraDesc[];
  light: LightSnapshot;
  background: Vec3;
}
