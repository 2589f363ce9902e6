import type { Quat, Vec3 } from '../core/math.js';

/**
 * Read-only access to the current simulation state by index, shared by observation, reward,
 * termination terms and the scripted expert. Indices are resolved from names once, at build time.
 */
export interface WorldView {
  /** Steps taken in this episode (0 right after reset). */
  readonly stepIndex: number;
  /** Success as evaluated after the last step. */
  readonly success: boolean;
  readonly obs: Float32Array;
  /** Last applied (clipped) action vector, one value per actuator. */
  readonly action: Float32Array;
  readonly timestep: number;
  bodyIndex(name: string): number;
  present(i: number): boolean;
  position(i: number): Vec3;
  quaternion(i: number): Quat;
  linearVelocity(i: number): Vec3;
  angularVelocity(i: number): Vec3;
  jointIndex(name: string): number;
  /** Prismatic joints report metres; revolute ones radians. */
  jointIsPrismatic(j: number): boolean;
  jointAngle(j: number): number;
  jointVelocity(j: number): number;
  jointAxisWorld(j: number): Vec3;
  jointAnchorWorld(j: number): Vec3;
  /** Joints from the world down to this body (root first). */
  jointChain(body: number): number[];
  actuatorIndex(name: string): number;
  attached(actuator: number): boolean;
  obsIndex(name: string): number;
}
