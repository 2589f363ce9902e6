/**
 * The episode: the record every stage passes along (simulation and dreaming produce it, exporters
 * and the world model consume it). Plain data and typed arrays, so it crosses thread boundaries.
 */
import type { PrimitiveShape } from '../core/scene.js';
import type { Channel } from '../render/renderer.js';
import type { Collision } from '../sim/env.js';

/** One camera channel's frames for a whole episode, frame t = observation t. */
export interface ChannelFrames {
  camera: string;
  channel: Channel;
  width: number;
  height: number;
  /** rgb: uint8 T*H*W*3; depth: float32 T*H*W; segmentation: uint16 T*H*W; flow: float32 T*H*W*2; normals: float32 T*H*W*3. */
  data: Uint8Array | Float32Array | Uint16Array;
}

/**
 * Everything one episode produced, as flat typed arrays (cheap to move between threads).
 * Row t holds the observation at t, the action taken there, and what followed (reward, done...).
 */
export interface EpisodeData {
  /** Episode number k within the run (before sharding). */
  episode: number;
  seed: number;
  length: number;
  obsDim: number;
  actionDim: number;
  discrete: boolean;
  obs: Float32Array;
  /** Continuous: T*A actuator values; discrete: T choice indices. */
  actions: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  success: Uint8Array;
  frames: ChannelFrames[];
  /** The observation after the last step (Minari and DreamerV3 store T + 1 observations). */
  finalObs: Float32Array;
  /** One frame per camera channel of that final observation (flow is zero: there is no next step). */
  finalFrames: ChannelFrames[];
  /** Per camera and frame: intrinsics (constant) and pose, as Kubric records them. */
  cameras: CameraTrack[];
  /** Per visible body: pose and velocity at each of the T + 1 frames. */
  bodies: BodyTrack[];
  /** Contacts that began during the episode; `frame` is the observation right after (t + 1). */
  collisions: (Collision & { frame: number })[];
  /** Extra float features per step (e.g. observation.latent), length × dim row-major, plus the value for the final observation. */
  extras?: { key: string; dim: number; names?: string[]; data: Float32Array; final?: Float32Array }[];
  /** Where a labelled episode's frames came from (trajforge label); absent for simulated and dreamed ones. */
  provenance?: EpisodeProvenance;
  /** Seconds spent simulating and rendering. */
  simSeconds: number;
  renderSeconds: number;
}

/** The source of a labelled episode: a file (or dataset episode) and the frames of it the episode covers. */
export interface EpisodeProvenance {
  /** The video file, or `DATASET#episode` for an episode of a LeRobot dataset. */
  file: string;
  /** Frames [from, to] of the source after resampling to the dataset's fps (the episode's T + 1 observations). */
  fromFrame: number;
  toFrame: number;
  /** The source's own frame rate and size before resampling. */
  sourceFps: number;
  sourceWidth: number;
  sourceHeight: number;
}

/** One body's state at every frame (T + 1 frames, the last is the final observation). */
export interface BodyTrack {
  id: number;
  name: string;
  shape: PrimitiveShape;
  mass: number;
  friction: number;
  restitution: number;
  positions: number[];
  quaternions: number[];
  velocities: number[];
  angularVelocities: number[];
}

export interface CameraTrack {
  name: string;
  /** 3x3 pixel intrinsics, OpenCV convention (see src/render/camera.ts). */
  K: number[][];
  /** World -> OpenCV camera 4x4 at frame 0. */
  worldToCamera: number[][];
  /** (T + 1) x 3 positions and (T + 1) x 4 quaternions [w, x, y, z] (OpenGL camera axes), one per frame incl. the final one. */
  positions: number[];
  quaternions: number[];
}

/** The transferable buffers of an episode (for postMessage without copying). */
export function transferables(ep: EpisodeData): ArrayBuffer[] {
  const bufs = [ep.obs, ep.actions, ep.rewards, ep.terminated, ep.truncated, ep.success, ep.finalObs, ...ep.frames.map((f) => f.data), ...ep.finalFrames.map((f) => f.data)].map((a) => a.buffer as ArrayBuffer);
  return [...new Set(bufs)];
}
