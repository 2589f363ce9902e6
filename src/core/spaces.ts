import type { Rng } from './rng.js';

/** Gymnasium-style spaces, as plain data so they serialise into dataset metadata unchanged. */
export interface BoxSpace {
  type: 'box';
  dtype: 'float32';
  shape: [number];
  low: number[];
  high: number[];
  /** One name per dimension (LeRobot's `names`). */
  names: string[];
}

export interface DiscreteSpace {
  type: 'discrete';
  n: number;
  /** One name per choice. */
  names: string[];
}

export type Space = BoxSpace | DiscreteSpace;

export type Action = Float32Array | number;

export function spaceDims(space: Space): number {
  return space.type === 'box' ? space.shape[0] : 1;
}

export function boxContains(space: BoxSpace, x: ArrayLike<number>): boolean {
  if (x.length !== space.shape[0]) return false;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (!(v >= (space.low[i] as number) && v <= (space.high[i] as number))) return false;
  }
  return true;
}

export function sampleSpace(space: Space, rng: Rng): Action {
  if (space.type === 'discrete') return rng.int(space.n);
  const out = new Float32Array(space.shape[0]);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(space.low[i] as number, space.high[i] as number);
  return out;
}
