/**
 * `trajforge/model`: trained world models. onnxruntime (a native addon) is loaded by the first
 * loadWorldModel call, never by importing this module.
 */
import type { WorldModel, WorldModelOptions } from '../model/world-model.js';

export type { WorldModel, WorldModelOptions, WorldModelStep } from '../model/world-model.js';
export type { ModelCard } from '../model/card.js';

/**
 * Loads a model folder written by `trajforge train` (model.json + four ONNX parts). Execution
 * providers default to TRAJFORGE_ORT_PROVIDERS (as for the CLI), else the CPU.
 */
export async function loadWorldModel(dir: string, options: WorldModelOptions = {}): Promise<WorldModel> {
  const [{ loadWorldModel: load }, { parseProviders, PROVIDERS_ENV }] = await Promise.all([import('../model/world-model.js'), import('../model/onnx/runtime.js')]);
  const providers = options.providers ?? parseProviders(process.env[PROVIDERS_ENV]);
  return load(dir, { ...options, providers });
}
