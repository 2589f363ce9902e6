/**
 * The one file reader of policies: an ONNX policy's bytes and their hash. Acting never reads
 * files; this runs once per thread before the first episode.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { TrajforgeError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { Space } from '../core/spaces.js';
import type { PhysicsEnv } from '../sim/env.js';
import { OnnxPolicy, type OnnxPolicyOptions } from './onnx.js';

/** An ONNX policy file as read: its bytes and their sha256 (what a dataset records of it). */
export interface PolicyFile {
  /** The absolute path read. */
  path: string;
  bytes: Uint8Array;
  sha256: string;
}

/** Reads a policy file; `file` is named in errors as given, resolved against `cwd`. */
export function readPolicyFile(file: string, cwd?: string): PolicyFile {
  const path = resolve(cwd ?? process.cwd(), file);
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw new TrajforgeError('E_POLICY_INVALID', `${file}: a folder, not an ONNX file; give the policy's .onnx file (trajforge bc writes policy.onnx)`, { file });
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    if (e instanceof TrajforgeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new TrajforgeError('E_POLICY_INVALID', `${file}: cannot read the ONNX policy (${why}); give the path of an .onnx file whose input is the observation [N, D] and output the action [N, A]`, { file });
  }
  return { path, bytes, sha256: sha256Hex(bytes) };
}

export interface LoadPolicyOptions extends Pick<OnnxPolicyOptions, 'latent' | 'noise' | 'epsilon'> {
  /** Resolves a relative `file` (default: the process's working directory). */
  cwd?: string;
  /** The content hash the file must have (a worker loading what the main thread checked). */
  sha256?: string;
  /** The world model whose latent a latent policy will read: refused when the policy's card names another. */
  latentModel?: string;
}

/** What a policy acts in without an environment: a world model's state estimate and action space. */
export interface PolicyTarget {
  observationSize: number;
  action: Space;
}

/**
 * Loads an ONNX policy file for an environment (or a bare target): its input must be the
 * observation (or, with `latent`, a world model's latent) and its output the action space.
 */
export async function loadOnnxPolicyFile(file: string, target: PhysicsEnv | PolicyTarget, opts: LoadPolicyOptions = {}): Promise<{ policy: OnnxPolicy; file: PolicyFile }> {
  const { observationSize, action } = 'observationSpace' in target ? { observationSize: target.observationSpace.shape[0], action: target.actionSpace } : target;
  const read = readPolicyFile(file, opts.cwd);
  if (opts.sha256 !== undefined && read.sha256 !== opts.sha256) {
    throw new TrajforgeError('E_POLICY_INVALID', `${file}: the file changed while the run used it (sha256 ${read.sha256.slice(0, 12)}, the run started with ${opts.sha256.slice(0, 12)}); keep the policy file fixed during a run`, { file });
  }
  const policy = await OnnxPolicy.load(read.bytes, {
    file,
    observationSize,
    action,
    latent: opts.latent,
    noise: opts.noise,
    epsilon: opts.epsilon,
  });
  if (policy.io.input.kind === 'latent' && opts.latentModel !== undefined) {
    const trainedOn = latentModelOf(read.path);
    if (trainedOn !== undefined && trainedOn !== opts.latentModel) {
      throw new TrajforgeError('E_POLICY_INVALID', `${file} reads the latent of world model ${trainedOn} (its card ${basename(policyCardFile(read.path))}), but this model is ${opts.latentModel}: another model's latent means nothing to it; train the policy on latents of this model (trajforge encode --model, then trajforge bc)`, { file });
    }
  }
  return { policy, file: read };
}

/** The card trajforge bc writes beside a policy: NAME.json for NAME.onnx (policy.json in a bc folder). */
export function policyCardFile(onnx: string): string {
  return join(dirname(onnx), `${basename(onnx, '.onnx')}.json`);
}

/** The world model whose latent the policy was trained on, as its card records it (undefined: no card, or none recorded). */
function latentModelOf(onnx: string): string | undefined {
  try {
    const card = JSON.parse(readFileSync(policyCardFile(onnx), 'utf8')) as { input?: { model_id?: unknown } };
    return typeof card.input?.model_id === 'string' ? card.input.model_id : undefined;
  } catch {
    return undefined;
  }
}
