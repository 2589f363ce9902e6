/**
 * `trajforge/model`: training, loading and applying world models. onnxruntime (a native addon)
 * is loaded by the first call that runs a model, never by importing this module.
 */
import type { WorldModel, WorldModelOptions } from '../model/world-model.js';
import type { LoadPolicyOptions } from '../policy/load.js';
import type { OnnxPolicy } from '../policy/onnx.js';
import type { PhysicsEnv } from '../sim/env.js';
import { defaultProviders } from './providers.js';

export type { OnnxPolicy, OnnxPolicyIo } from '../policy/onnx.js';
export { setOnnxBackend, onnxBackend, type OnnxBackendChoice } from '../model/onnx/runtime.js';
export type { LoadPolicyOptions } from '../policy/load.js';

export type { WorldModel, WorldModelOptions, WorldModelStep } from '../model/world-model.js';
export type { ModelCard } from '../model/card.js';
export {
  trainWorldModel,
  encodeDataset,
  predictEpisode,
  dreamDataset,
  evaluateWorldModel,
  trainBehaviourCloning,
  labelVideos,
  evaluateLabelling,
  type LabelOptions,
  type LabelProgress,
  type LabelSummary,
  type SkippedSource,
  type LabelEvalOptions,
  type LabelEvalProgress,
  type LabelEvalSummary,
  type VariantResult,
  type BehaviourCloningOptions,
  type BehaviourCloningSummary,
  type BcProgress,
  type PolicyCard,
  type TrainOptions,
  type TrainProgress,
  type TrainSummary,
  type WorldModelKind,
  type EncodeOptions,
  type EncodeProgress,
  type EncodeSummary,
  type PredictOptions,
  type PredictProgress,
  type PredictSummary,
  type DreamDatasetOptions,
  type DreamProgress,
  type DreamSummary,
  type DreamComparison,
  type EvalOptions,
  type EvalProgress,
  type EvalSummary,
  type EvalTarget,
} from './pipeline.js';

/**
 * Loads a model folder written by `trajforge train` (model.json + four ONNX parts). Execution
 * providers default to TRAJFORGE_ORT_PROVIDERS (as for the CLI), else the CPU.
 */
export async function loadWorldModel(dir: string, options: WorldModelOptions = {}): Promise<WorldModel> {
  const providers = options.providers ?? (await defaultProviders());
  const { loadWorldModel: load } = await import('../model/world-model.js');
  return load(dir, { ...options, providers });
}

/**
 * Loads an ONNX policy file (`trajforge bc` writes one) for an environment: its input must be the
 * environment's observation [N, D] or [D] (or, with `latent`, a world model's latent), its output
 * the action. `act` returns a promise; iterate rolloutAsync with it. Release it with dispose().
 */
export async function loadOnnxPolicy(file: string, env: PhysicsEnv, options: LoadPolicyOptions = {}): Promise<OnnxPolicy> {
  const { loadOnnxPolicyFile } = await import('../policy/load.js');
  return (await loadOnnxPolicyFile(file, env, options)).policy;
}
