import { describe, expect, it } from 'vitest';
import { colourKeypointFeatures, fitColourKeypoints, keypointCount } from '../../../../src/model/keypoints/colour-keypoints.js';

const W = 16;
const H = 12;

/** Grey frame with a red 3x3 square whose top-left pixel is (x, y) and a blue pixel at (1, 1). */
function frame(x: number, y: number): Float32Array {
  const f = new Float32Array(W * H * 3).fill(0.5);
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) f.set([0.9, 0.1, 0.1], ((y + dy) * W + x + dx) * 3);
  f.set([0.1, 0.1, 0.9], (1 * W + 1) * 3);
  return f;
}

describe('colour keypoints', () => {
  const frames = new Float32Array(4 * W * H * 3);
  [frame(2, 2), frame(10, 3), frame(5, 8), frame(12, 7)].forEach((f, i) => frames.set(f, i * W * H * 3));
  const kp = fitColourKeypoints(frames, 4, W, H, 3, { radius: 0.3, seed: 1 });

  it('farthest-point sampling picks the background and both object colours, however rare', () => {
    const protos = Array.from({ length: keypointCount(kp) }, (_, k) => [...kp.prototypes.subarray(k * 3, k * 3 + 3)].map((v) => Math.round(v * 10) / 10));
    expect(protos).toEqual(expect.arrayContaining([[0.5, 0.5, 0.5], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9]]));
  });

  it('centroids land on the objects and masses are their area fractions', () => {
    const red = Array.from({ length: 3 }, (_, k) => k).find((k) => kp.prototypes[k * 3]! > 0.8)!;
    const blue = Array.from({ length: 3 }, (_, k) => k).find((k) => kp.prototypes[k * 3 + 2]! > 0.8)!;
    const f = colourKeypointFeatures(kp, frames, 4);
    const at = (i: number, k: number) => f.subarray(i * 9 + k * 3, i * 9 + k * 3 + 3);
    // Square (10, 3): pixels 10..12 x 3..5, centre (11, 4) in [0,1] units of the frame.
    const [mass, cx, cy] = at(1, red);
    expect(mass!).toBeCloseTo(9 / (W * H), 3);
    expect(cx!).toBeCloseTo(11 / W, 2);
    expect(cy!).toBeCloseTo(4 / H, 2);
    const [, bx, by] = at(3, blue);
    expect(bx!).toBeCloseTo(1 / W, 2);
    expect(by!).toBeCloseTo(1 / H, 2);
    // Moving the square moves its centroid by the same amount.
    expect(at(3, red)[1]! - at(0, red)[1]!).toBeCloseTo(10 / W, 2);
  });

  it('a partly covered edge pixel moves the centroid by a fraction of a pixel', () => {
    const red = Array.from({ length: 3 }, (_, k) => k).find((k) => kp.prototypes[k * 3]! > 0.8)!;
    const blend = (a: number) => [0.5 + a * 0.4, 0.5 - a * 0.4, 0.5 - a * 0.4];
    const three = frame(2, 2);
    const partial = frame(2, 2);
    const four = frame(2, 2);
    for (let dy = 0; dy < 3; dy++) {
      partial.set(blend(0.8), ((2 + dy) * W + 5) * 3);
      four.set(blend(1), ((2 + dy) * W + 5) * 3);
    }
    const cx = (f: Float32Array) => colourKeypointFeatures(kp, f, 1)[red * 3 + 1]! * W;
    expect(cx(three)).toBeCloseTo(3, 2);
    expect(cx(four)).toBeCloseTo(3.5, 2);
    expect(cx(partial)).toBeGreaterThan(3.1);
    expect(cx(partial)).toBeLessThan(3.45);
  });
});
