import { describe, expect, it } from 'vitest';
import { observationNames } from '../../../src/config/names.js';
import { loadEnv } from '../../../src/config/load.js';
import { probeColumns } from '../../../src/model/evaluate.js';
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

describe("eval's probe leaves out columns the scene barely moves", () => {
  it('keeps a column at 1 % of the widest of its kind, leaves out one below; positions and angles apart', () => {
    const names = ['gripper.x', 'cube.z', 'lid.z', 'hinge.angle', 'wrist.angle'];
    // gripper.x spreads over ±0.1 m, cube.z jitters by ±0.3 mm (0.3 % of it), lid.z by ±1.5 mm
    // (1.5 %); the hinge swings ±1 rad and the wrist ±0.005 rad (0.5 %).
    const rows = 200;
    const amp = [0.1, 0.0003, 0.0015, 1, 0.005];
    const data = new Float64Array(rows * names.length);
    for (let r = 0; r < rows; r++) amp.forEach((a, c) => (data[r * names.length + c] = a * Math.sin(r * 0.37 + c)));
    const states = { rows, cols: names.length, data };
    const all = Array.from({ length: rows }, (_, i) => i);
    const { probed, skipped } = probeColumns(names, [0, 1, 2, 3, 4], states, all);
    expect(probed).toEqual([0, 2, 3]);
    expect(skipped.map((k) => k.name)).toEqual(['cube.z', 'wrist.angle']);
    expect(skipped[0]!.sd).toBeCloseTo(0.0003 / Math.SQRT2, 5);
    // Over rows where the cube is lifted (it moves as far as the gripper), it is probed.
    for (let r = 0; r < rows; r++) data[r * names.length + 1] = 0.1 * Math.cos(r * 0.37);
    expect(probeColumns(names, [0, 1, 2], states, all).probed).toEqual([0, 1, 2]);
  });
});
