/**
 * `trajforge/env`: the synchronous environment API (config loading and validation, world
 * descriptions, the PhysicsEnv class). Importing it loads zod, yaml and Rapier's JavaScript
 * (about 100 ms); Rapier's WASM is instantiated by the first createEnv. The root package
 * `trajforge` exports createEnv without any of these.
 */
export { createEnv, resolveEnvRef, type EnvRef } from './env-ref.js';
export { loadEnv, listEnvironments, envDirs, type EnvEntry } from '../config/load.js';
export { validateEnvConfig, resolveExtends, mergeConfig, envJsonSchema, configHash, type ResolvedEnv } from '../config/parse.js';
export { EnvConfigSchema, type EnvConfig, type EnvConfigInput } from '../config/schema.js';
export { PhysicsEnv, type StepResult, type StepInfo, type EnvSpec, type Collision } from '../sim/env.js';
export { describeWorld } from '../sim/describe.js';
export type { WorldDescription, BodyDesc, JointDesc, CameraDesc } from '../sim/description.js';
