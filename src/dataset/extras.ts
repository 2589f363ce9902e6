import { TrajforgeError } from '../core/errors.js';
import type { EpisodeData } from '../dataset/episode.js';
import type { DatasetMeta, DatasetSource, ExtraFeature } from './meta.js';

/**
 * Extra per-step float features (`DatasetMeta.extraFeatures` / `EpisodeData.extras`), e.g. a
 * world model's `observation.latent`: shared checks so every writer rejects the same mistakes
 * instead of writing a dataset whose columns disagree with its declared schema.
 */
export type EpisodeExtra = NonNullable<EpisodeData['extras']>[number];

/** The declared extra features, checked: unique keys without '/', positive integer dims, names matching dims. */
export function extraFeatures(meta: DatasetMeta, reserved: Iterable<string> = []): ExtraFeature[] {
  const list = meta.extraFeatures ?? [];
  const taken = new Set(reserved);
  for (const x of list) {
    // LeRobot rejects feature names with '/' (and TFDS/HDF5 would read it as nesting).
    if (!x.key || x.key.includes('/')) throw new TrajforgeError('E_USAGE', `extra feature key ${JSON.stringify(x.key)} must be non-empty and contain no '/'`);
    if (!Number.isInteger(x.dim) || x.dim < 1) throw new TrajforgeError('E_USAGE', `extra feature ${x.key}: dim must be a positive integer, got ${x.dim}`);
    if (x.names && x.names.length !== x.dim) throw new TrajforgeError('E_USAGE', `extra feature ${x.key}: ${x.names.length} names for dim ${x.dim}`);
    if (taken.has(x.key)) throw new TrajforgeError('E_USAGE', `extra feature ${x.key} clashes with another feature of the dataset`);
    taken.add(x.key);
  }
  return list;
}

/** An episode's extras in declared order, checked against the declaration (keys, dims, lengths). */
export function episodeExtras(meta: DatasetMeta, ep: EpisodeData): EpisodeExtra[] {
  const declared = meta.extraFeatures ?? [];
  const given = ep.extras ?? [];
  const bad = (m: string) => new TrajforgeError('E_INTERNAL', `episode ${ep.episode}: ${m}`);
  for (const g of given) if (!declared.some((d) => d.key === g.key)) throw bad(`extra feature ${g.key} was not declared in the dataset meta (extraFeatures)`);
  return declared.map((d) => {
    const x = given.find((g) => g.key === d.key);
    if (!x) throw bad(`extra feature ${d.key} is declared but missing`);
    if (x.dim !== d.dim) throw bad(`extra feature ${d.key} has dim ${x.dim}, declared ${d.dim}`);
    if (x.data.length !== ep.length * d.dim) throw bad(`extra feature ${d.key} holds ${x.data.length} values, expected length × dim = ${ep.length * d.dim}`);
    if (x.final && x.final.length !== d.dim) throw bad(`extra feature ${d.key}: final holds ${x.final.length} values, expected ${d.dim}`);
    return x;
  });
}

/**
 * T + 1 rows (the formats that store the final observation): the final value, or NaN when the
 * producer gave none, so a missing value is never mistaken for a real one.
 */
export function withFinal(x: EpisodeExtra, T: number): Float32Array {
  const out = new Float32Array((T + 1) * x.dim);
  out.set(x.data);
  if (x.final) out.set(x.final, T * x.dim);
  else out.fill(NaN, T * x.dim);
  return out;
}

/** Array name for formats whose keys avoid '.': `observation.latent` -> `observation_latent`. */
export const flatKey = (key: string): string => key.replaceAll('.', '_');

/** Provenance as written into JSON metadata (snake_case): `{kind, model_id?, model?}`. */
export function sourceJson(src: DatasetSource): { kind: DatasetSource['kind']; model_id?: string; model?: string } {
  return { kind: src.kind, ...(src.modelId !== undefined ? { model_id: src.modelId } : {}), ...(src.model !== undefined ? { model: src.model } : {}) };
}

/** The inverse of sourceJson (absent stays absent: a simulator dataset). */
export function sourceFromJson(j: { kind: DatasetSource['kind']; model_id?: string; model?: string } | undefined): DatasetSource | undefined {
  if (!j) return undefined;
  return { kind: j.kind, ...(j.model_id !== undefined ? { modelId: j.model_id } : {}), ...(j.model !== undefined ? { model: j.model } : {}) };
}
