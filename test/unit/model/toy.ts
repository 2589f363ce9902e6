/** The world-model notes' toy task, shared by the model tests. */
import { Rng } from '../../../src/core/rng.js';
import type { TrainingEpisode } from '../../../src/model/transitions.js';

export const SIZE = 16;

/** A soft 4x4 square at continuous position p on a dark 16x16 frame (area-weighted coverage). */
function drawSquare(px: number, py: number, out: Uint8Array, offset: number): void {
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const cx = Math.max(0, Math.min(x + 1, px + 4) - Math.max(x, px));
      const cy = Math.max(0, Math.min(y + 1, py + 4) - Math.max(y, py));
      const v = Math.round(20 + 220 * cx * cy);
      out.set([v, v, 30], offset + (y * SIZE + x) * 3);
    }
  }
}

/** The notes' toy task: a square moved by a 2-D action; state = its position. */
export function toyEpisode(k: number, length = 30): TrainingEpisode {
  const rng = new Rng(1000 + k);
  const frames = new Uint8Array(length * SIZE * SIZE * 3);
  const obs = new Float32Array(length * 2);
  const actions = new Float32Array(length * 2);
  const rewards = new Float32Array(length);
  const terminated = new Uint8Array(length);
  let px = rng.uniform(2, 10);
  let py = rng.uniform(2, 10);
  for (let t = 0; t < length; t++) {
    drawSquare(px, py, frames, t * SIZE * SIZE * 3);
    obs.set([px, py], t * 2);
    const ax = rng.uniform(-1, 1);
    const ay = rng.uniform(-1, 1);
    actions.set([ax, ay], t * 2);
    px = Math.min(12, Math.max(0, px + ax));
    py = Math.min(12, Math.max(0, py + ay));
    // Reward: closeness to the centre; the episode 'succeeds' where the square reaches it.
    rewards[t] = -Math.hypot(px - 6, py - 6);
    terminated[t] = rewards[t]! > -1 ? 1 : 0;
  }
  const final = new Uint8Array(SIZE * SIZE * 3);
  drawSquare(px, py, final, 0);
  const rgb = (data: Uint8Array) => [{ camera: 'main', channel: 'rgb' as const, width: SIZE, height: SIZE, data }];
  return { episode: k, length, obsDim: 2, actionDim: 2, discrete: false, obs, actions, rewards, terminated, frames: rgb(frames), finalObs: new Float32Array([px, py]), finalFrames: rgb(final) };
}

