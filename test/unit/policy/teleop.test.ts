/**
 * The teleoperation key map: every environment file's action space gets a usable mapping (every
 * box dimension driven to both bounds by a key, every discrete choice reachable), no action key
 * collides with the page's own keys, and the controller turns key and gamepad input into actions.
 */
import { describe, expect, it } from 'vitest';
import { listEnvironments, loadEnv } from '../../../src/config/load.js';
import { validateEnvConfig } from '../../../src/config/parse.js';
import type { BoxSpace } from '../../../src/core/spaces.js';
import { BOX_KEY_PAIRS, CONTROL_KEYS, SELECT_KEYS, TeleopController, helpLines, keyMapFor, keyMapForConfig, type KeyMap } from '../../../src/policy/teleop.js';
import { createEnv } from '../../../src/sim/env.js';

const controlKeys = [CONTROL_KEYS.reset, ...CONTROL_KEYS.pause, CONTROL_KEYS.slow, CONTROL_KEYS.help];

function box(n: number, low = -1, high = 1): BoxSpace {
  return { type: 'box', dtype: 'float32', shape: [n], low: Array(n).fill(low), high: Array(n).fill(high), names: Array.from({ length: n }, (_, i) => `a${i}`) };
}

/** Drives every box dimension to its low and high bound, by its own keys and by the selector. */
function checkBoxReachable(map: Extract<KeyMap, { kind: 'box' }>): void {
  for (const d of map.dims) {
    const far = d.rest === d.low ? d.high : d.low;
    // Its own keys (the first dimensions have a pair).
    if (d.negative && d.positive) {
      if (d.latch) {
        const c = new TeleopController(map);
        const key = d.rest === d.low ? d.positive : d.negative;
        c.keyDown(key);
        c.keyUp(key);
        expect((c.action() as Float32Array)[d.dim]).toBe(Math.fround(far));
        c.keyDown(key);
        c.keyUp(key);
        expect((c.action() as Float32Array)[d.dim]).toBe(Math.fround(d.rest));
      } else {
        for (const [key, want] of [[d.negative, d.low], [d.positive, d.high]] as const) {
          const c = new TeleopController(map);
          expect(c.keyDown(key)).toBe(true);
          const a = c.action() as Float32Array;
          expect(a[d.dim]).toBe(Math.fround(want));
          // Only that dimension moves.
          map.dims.forEach((o) => o.dim !== d.dim && expect(a[o.dim]).toBe(Math.fround(o.rest)));
          c.keyUp(key);
          expect((c.action() as Float32Array)[d.dim]).toBe(Math.fround(d.rest));
        }
      }
    }
    // The selector reaches every dimension, however many.
    const c = new TeleopController(map);
    for (let k = 0; k < d.dim; k++) c.keyDown(SELECT_KEYS.next);
    expect(c.selected).toBe(d.dim);
    c.keyDown(SELECT_KEYS.positive);
    expect((c.action() as Float32Array)[d.dim]).toBe(Math.fround(d.high));
    c.keyUp(SELECT_KEYS.positive);
    c.keyDown(SELECT_KEYS.negative);
    expect((c.action() as Float32Array)[d.dim]).toBe(Math.fround(d.low));
  }
}

describe('teleop key map', () => {
  const envs = listEnvironments();

  it('covers the shipped environments', () => {
    expect(envs.length).toBeGreaterThanOrEqual(5);
  });

  it.each(envs.map((e) => [e.id]))('%s: every action dimension is reachable, no key is bound twice or clashes with the page keys', async (id) => {
    const resolved = loadEnv(id);
    const map = keyMapForConfig(resolved.config);
    // The map from the config equals the map from the environment's own action space.
    const env = await createEnv(resolved);
    expect(keyMapFor(env.actionSpace, resolved.config.actions.discrete)).toEqual(map);
    const space = env.actionSpace;
    env.close();
    if (map.kind === 'box') {
      expect(map.dims.length).toBe((space as BoxSpace).shape[0]);
      const keys = map.dims.flatMap((d) => [d.negative, d.positive]).filter((k): k is string => k !== undefined);
      expect(new Set(keys).size).toBe(keys.length);
      for (const k of keys) expect(controlKeys).not.toContain(k);
      checkBoxReachable(map);
      // The help panel names every dimension that has keys.
      const help = helpLines(map).map((l) => l.what).join('\n');
      for (const d of map.dims) if (d.negative) expect(help).toContain(d.name);
    } else {
      const c = new TeleopController(map);
      for (const ch of map.choices) if (ch.key) {
        c.keyDown(ch.key);
        expect(c.action()).toBe(ch.index);
        c.keyUp(ch.key);
      }
    }
  });

  it('maps a continuous pusher like a person expects: ← → drive the first dimension, ↓ ↑ the second, release stops', () => {
    const c = new TeleopController(keyMapFor(box(2)));
    expect(Array.from(c.action() as Float32Array)).toEqual([0, 0]);
    c.keyDown('ArrowRight');
    c.keyDown('ArrowUp');
    expect(Array.from(c.action() as Float32Array)).toEqual([1, 1]);
    c.keyDown('ArrowLeft'); // both keys of a pair held cancel out
    expect(Array.from(c.action() as Float32Array)).toEqual([0, 1]);
    c.releaseAll();
    expect(Array.from(c.action() as Float32Array)).toEqual([0, 0]);
    expect(c.keyDown('KeyR')).toBe(false); // the page's reset key is not an action key
  });

  it('gives a box of any size a mapping: pairs for the first dimensions, the selector for all', () => {
    const map = keyMapFor(box(40, -2, 3));
    if (map.kind !== 'box') throw new Error('box expected');
    expect(map.dims.filter((d) => d.negative).length).toBe(BOX_KEY_PAIRS.length);
    checkBoxReachable(map);
  });

  it('gives an environment without actuators an empty action and says so', () => {
    const map = keyMapFor(box(0));
    const c = new TeleopController(map);
    expect(c.keyDown(SELECT_KEYS.next)).toBe(false);
    expect(Array.from(c.action() as Float32Array)).toEqual([]);
    expect(helpLines(map)[0]).toEqual({ keys: '(none)', what: 'no actions: the environment runs on its own' });
  });

  it('rests at 0 clipped into the bounds and latches a one-sided dimension (a gripper)', () => {
    const space: BoxSpace = { type: 'box', dtype: 'float32', shape: [3], low: [-1, 0, 0.5], high: [1, 1, 2], names: ['v', 'grip', 'height'] };
    const map = keyMapFor(space);
    if (map.kind !== 'box') throw new Error('box expected');
    expect(map.dims.map((d) => [d.rest, d.latch])).toEqual([
      [0, false],
      [0, true],
      [0.5, true],
    ]);
    const c = new TeleopController(map);
    c.keyDown('ArrowUp'); // grip's positive key toggles it on
    c.keyUp('ArrowUp');
    expect(Array.from(c.action() as Float32Array)).toEqual([0, 1, 0.5]);
    c.reset(); // a new episode starts released
    expect(Array.from(c.action() as Float32Array)).toEqual([0, 0, 0.5]);
  });

  it('reads a gamepad: left stick to the first two dimensions (up is positive), with a dead zone', () => {
    const c = new TeleopController(keyMapFor(box(3, -2, 2)));
    c.gamepad([0.5, -1, 0.9, 0.1], []);
    const a = Array.from(c.action() as Float32Array);
    expect(a[0]).toBeCloseTo(1, 6);
    expect(a[1]).toBeCloseTo(2, 6);
    expect(a[2]).toBe(0); // axis 3 at 0.1: inside the dead zone
    c.keyDown('ArrowLeft'); // a key wins over the stick
    expect((c.action() as Float32Array)[0]).toBe(-2);
  });

  it('maps a discrete space to digits, rests on the no-op choice, and reaches choices past ten through the selector', () => {
    const cfg = loadEnv('CartPole-v1').config;
    const doc = { ...cfg, id: 'CartPoleChoices-v1', expert: undefined, actions: { ...cfg.actions, discrete: [{ name: 'left', value: [-1] }, { name: 'stay', value: [0] }, { name: 'right', value: [1] }] } };
    const map = keyMapForConfig(validateEnvConfig(JSON.parse(JSON.stringify(doc)), 'choices.json').config);
    expect(map).toEqual({ kind: 'discrete', rest: 1, choices: [{ index: 0, name: 'left', key: 'Digit1' }, { index: 1, name: 'stay', key: 'Digit2' }, { index: 2, name: 'right', key: 'Digit3' }] });
    const c = new TeleopController(map);
    expect(c.action()).toBe(1);
    c.keyDown('Digit3');
    expect(c.action()).toBe(2);
    c.keyUp('Digit3');
    c.gamepad([], [true]);
    expect(c.action()).toBe(0);

    const many = keyMapFor({ type: 'discrete', n: 12, names: Array.from({ length: 12 }, (_, i) => `c${i}`) });
    const d = new TeleopController(many);
    expect(d.action()).toBe(0); // no value vectors known: choice 0 rests
    for (let k = 0; k < 11; k++) d.keyDown(SELECT_KEYS.next);
    d.keyDown(SELECT_KEYS.hold);
    expect(d.action()).toBe(11);
  });
});
