import { TrajforgeError } from '../core/errors.js';
import type { PolicyKind } from '../policy/policy.js';

/** What `--policy` names: a built-in kind, or `onnx:PATH`, an ONNX policy file. */
export type PolicyChoice = { kind: Exclude<PolicyKind, 'replay'> } | { kind: 'onnx'; file: string };

const KINDS = ['expert', 'random', 'noise'] as const;

/** Parses `--policy expert|random|noise|onnx:PATH` (undefined: `fallback`). */
export function policyOption(value: string | undefined, fallback: Exclude<PolicyKind, 'replay'>): PolicyChoice {
  if (value === undefined) return { kind: fallback };
  if (value.startsWith('onnx:')) {
    const file = value.slice('onnx:'.length);
    if (file === '') throw new TrajforgeError('E_USAGE', `--policy onnx:PATH needs the path of an .onnx file, e.g. --policy onnx:policies/reach/policy.onnx`);
    return { kind: 'onnx', file };
  }
  if ((KINDS as readonly string[]).includes(value)) return { kind: value as (typeof KINDS)[number] };
  throw new TrajforgeError('E_USAGE', `--policy must be one of expert, random, noise or onnx:PATH; got '${value}'`);
}
