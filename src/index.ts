// Public API: re-exports only.
export { TrajforgeError, type ErrorCode, type ConfigIssue } from './core/errors.js';
export { Rng, deriveSeed } from './core/rng.js';
export type { Space, BoxSpace, DiscreteSpace, Action } from './core/spaces.js';
export type { SceneSnapshot, Primitive, PrimitiveShape, CameraSnapshot, LightSnapshot } from './core/scene.js';
export { loadEnv, listEnvironments, envDirs } from './config/load.js';
export { validateEnvConfig, resolveExtends, mergeConfig, envJsonSchema, configHash, type ResolvedEnv } from './config/parse.js';
export { EnvConfigSchema, type EnvConfig } from './config/schema.js';
export { createEnv, PhysicsEnv, type StepResult, type StepInfo, type EnvSpec } from './sim/env.js';
export { describeWorld } from './sim/describe.js';
export type { WorldDescription } from './sim/description.js';
export { hashSnapshot } from './sim/hash.js';
export { makePolicy, ExpertPolicy, OuNoisePolicy, RandomPolicy, ReplayPolicy, POLICY_KINDS, type Policy, type PolicyKind } from './policy/index.js';
export { rollout, episodeSeed, summarizeEpisode, type StepRecord, type EpisodeSummary } from './episode/rollout.js';
export { main } from './cli/main.js';
