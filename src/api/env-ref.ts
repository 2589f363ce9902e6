/**
 * Environments by id, file or value: the one place the public API turns a reference into a
 * ResolvedEnv. The config loader (zod, yaml) and the simulator (Rapier) are imported on first use,
 * so importing the package stays cheap.
 */
import type { ResolvedEnv } from '../config/parse.js';
import { TrajforgeError } from '../core/errors.js';
import type { PhysicsEnv } from '../sim/env.js';

/** An environment id (`'PushCube-v1'`), a path to a YAML/JSON config file, or what `loadEnv` returned. */
export type EnvRef = string | ResolvedEnv;

/** `env` as a ResolvedEnv; a relative file path resolves against `baseDir` (default: the working directory). */
export async function resolveEnvRef(env: EnvRef, baseDir?: string): Promise<ResolvedEnv> {
  if (typeof env === 'string') {
    const { loadEnv } = await import('../config/load.js');
    return loadEnv(env, baseDir === undefined ? {} : { baseDir });
  }
  if (typeof env !== 'object' || env === null || typeof (env as Partial<ResolvedEnv>).config !== 'object' || typeof (env as Partial<ResolvedEnv>).hash !== 'string') {
    throw new TrajforgeError('E_USAGE', `env must be an environment id (e.g. 'PushCube-v1'), a config file path, or the value loadEnv returns; got ${describe(env)}`);
  }
  return env;
}

/**
 * A physics environment (Gymnasium's reset/step contract, plus `snapshot()` for the renderer).
 * Rapier's WASM is instantiated on the first call. `close()` frees the world.
 */
export async function createEnv(env: EnvRef): Promise<PhysicsEnv> {
  const resolved = await resolveEnvRef(env);
  const sim = await import('../sim/env.js');
  return sim.createEnv(resolved);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? `an object with keys ${Object.keys(v as object).slice(0, 5).join(', ') || '(none)'}` : `${typeof v} ${String(v)}`;
}
