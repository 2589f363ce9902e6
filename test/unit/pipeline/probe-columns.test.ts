import { describe, expect, it } from 'vitest';
import { observationNames } from '../../../src/config/names.js';
import { loadEnv } from '../../../src/config/load.js';
import { positionColumns } from '../../../src/pipeline/eval.js';

const probed = (env: string) => {
  const names = observationNames(loadEnv(env).config);
  return positionColumns(names).map((i) => names[i]);
};

describe("eval's linear probe columns", () => {
  it('are positions and joint angles of any environment: not velocities, not quaternions', () => {
    // An articulated scene is probed by its joint angles (the cart's slide, the pole's hinge).
    expect(probed('CartPole-v1')).toEqual(['slider.angle', 'hinge.angle']);
    expect(positionColumns(['arm.sin', 'arm.cos', 'arm.velocity', 'box.x', 'box.vx', 'box.wz', 'box.qw', 'box_to_goal.y', 'gripper.attached'])).toEqual([0, 1, 3, 7]);
    const push = probed('PushCube-v1');
    expect(push).toContain('cube.x');
    expect(push.some((n) => /\.(q[wxyz]|v[xyz])$/.test(n!))).toBe(false);
  });
});
