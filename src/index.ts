/**
 * Public API: re-exports only. Importing it loads no native addon and no WASM (measured by
 * test/unit/api/import-cost.test.ts): functions that need onnxruntime, parquet, HDF5, ffmpeg or
 * Rapier import them on their first call (src/api/). Subpaths: `trajforge/env` (synchronous
 * config API, PhysicsEnv), `trajforge/dataset`, `trajforge/model`.
 */
export { TrajforgeError, isTrajforgeError, type ErrorCode, type ConfigIssue } from './core/errors.js';
export { Rng, deriveSeed } from './core/rng.js';
export type { Space, BoxSpace, DiscreteSpace, Action } from './core/spaces.js';
export type { SceneSnapshot, Primitive, PrimitiveShape, CameraSnapshot, LightSnapshot } from './core/scene.js';
export type { Vec3, Quat } from './core/math.js';

// Environments: createEnv takes an id, a config file or a loaded config (trajforge/env loads them synchronously).
export { createEnv, type EnvRef } from './api/env-ref.js';
export type { ResolvedEnv } from './config/parse.js';
export type { EnvConfig } from './config/schema.js';
export type { PhysicsEnv, StepResult, StepInfo, EnvSpec, Collision } from './sim/env.js';
export type { WorldDescription } from './sim/description.js';
export { hashSnapshot } from './sim/hash.js';

// Policies and rollouts.
export { makePolicy, ExpertPolicy, OuNoisePolicy, RandomPolicy, ReplayPolicy, POLICY_KINDS, type Policy, type PolicyKind, type PolicyOptions } from './policy/index.js';
export { isPending, type AnyPolicy } from './policy/policy.js';
export { rollout, rolloutAsync, episodeSeed, summarizeEpisode, summarizeEpisodeAsync, type StepRecord, type EpisodeSummary } from './episode/rollout.js';

// Rendering (pure TypeScript).
export { Renderer, CHANNELS, findCamera, type Channel, type FrameSet, type RendererOptions } from './render/renderer.js';
export { depthToRgb, segmentationToRgb, flowToRgb, normalsToRgb, frameStrip } from './render/colorize.js';
export { calibration, type CameraCalibration } from './render/camera.js';
export { renderSnapshot, encodePng, type RenderSnapshotOptions } from './api/render.js';

// Datasets: writing, reading, merging, converting, validating (the same as trajforge/dataset).
export * from './api/dataset.js';

// World models: training, loading, applying (the same as trajforge/model).
export * from './api/model.js';
