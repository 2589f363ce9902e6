/**
 * Teleoperation: keys (and a gamepad) mapped to any environment's action space, so a person can
 * drive it in `trajforge play`. Pure: the page feeds it key codes and gamepad readings and reads
 * the action; Node tests check the mapping of every environment file.
 *
 * Box spaces: each dimension gets a pair of keys (the first fourteen dimensions; the arrows for
 * the first two, since a planar mover's x and y are the commonest pair) that drive it to its low
 * and high bound while held and back to rest (0, clipped into the bounds) when released; a
 * one-sided dimension (a gripper's 0..1) latches instead, each press of its key toggling it.
 * Every dimension, however many there are, is also reachable through a selector: [ and ] pick
 * the dimension, - and = drive it. Discrete spaces: the digit keys 1..9, 0 hold choices 1..10
 * ([ and ] cycle a selected choice, Enter holds it, for more); with nothing held the action is
 * the first all-zero choice (a no-op) when one exists, else choice 0.
 */
import type { EnvConfig } from '../config/schema.js';
import type { Action, Space } from '../core/spaces.js';
import type { Policy } from './policy.js';

/** Keys of the page itself; no action dimension is bound to them. */
export const CONTROL_KEYS = { reset: 'KeyR', pause: ['KeyP', 'Space'], slow: 'KeyM', help: 'KeyH' } as const;

/** Key pairs (negative, positive) for box dimensions 0, 1, 2, ... in order. */
export const BOX_KEY_PAIRS: readonly (readonly [string, string])[] = [
  ['ArrowLeft', 'ArrowRight'],
  ['ArrowDown', 'ArrowUp'],
  ['KeyS', 'KeyW'],
  ['KeyA', 'KeyD'],
  ['KeyJ', 'KeyL'],
  ['KeyK', 'KeyI'],
  ['KeyZ', 'KeyX'],
  ['KeyC', 'KeyV'],
  ['KeyB', 'KeyN'],
  ['Comma', 'Period'],
  ['KeyQ', 'KeyE'],
  ['KeyU', 'KeyO'],
  ['KeyF', 'KeyG'],
  ['KeyT', 'KeyY'],
];
export const SELECT_KEYS = { previous: 'BracketLeft', next: 'BracketRight', negative: 'Minus', positive: 'Equal', hold: 'Enter' } as const;
const DIGITS = ['Digit1', 'Digit2', 'Digit3', 'Digit4', 'Digit5', 'Digit6', 'Digit7', 'Digit8', 'Digit9', 'Digit0'];
/** Gamepad axes feeding box dimensions 0, 1, 2, 3 (left stick x, left stick y up, right stick y up, right stick x) and their signs. */
const GAMEPAD_AXES: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, -1],
  [3, -1],
  [2, 1],
];
const DEADZONE = 0.15;

export interface BoxDimBinding {
  dim: number;
  name: string;
  low: number;
  high: number;
  /** The value with no key held: 0 clipped into [low, high]. */
  rest: number;
  /** One-sided range: the key toggles the dimension between rest and its far bound. */
  latch: boolean;
  negative?: string;
  positive?: string;
  /** The gamepad axis that drives it, if any. */
  axis?: number;
}

export type KeyMap =
  | { kind: 'box'; dims: BoxDimBinding[] }
  | { kind: 'discrete'; choices: { index: number; name: string; key?: string }[]; rest: number };

/** The default key map of an action space (`choices`: a discrete space's value vectors, for its no-op). */
export function keyMapFor(space: Space, choices?: readonly { value: readonly number[] }[]): KeyMap {
  if (space.type === 'discrete') {
    const zero = choices?.findIndex((c) => c.value.every((v) => v === 0)) ?? -1;
    return {
      kind: 'discrete',
      choices: space.names.map((name, index) => ({ index, name, ...(DIGITS[index] ? { key: DIGITS[index] } : {}) })),
      rest: zero >= 0 ? zero : 0,
    };
  }
  const dims = space.names.map((name, dim): BoxDimBinding => {
    const low = space.low[dim]!;
    const high = space.high[dim]!;
    const rest = Math.min(high, Math.max(low, 0));
    const pair = BOX_KEY_PAIRS[dim];
    const axis = GAMEPAD_AXES[dim]?.[0];
    return { dim, name, low, high, rest, latch: rest === low || rest === high, ...(pair ? { negative: pair[0], positive: pair[1] } : {}), ...(axis !== undefined ? { axis } : {}) };
  });
  return { kind: 'box', dims };
}

/** The default key map of an environment config's action space (what PhysicsEnv.actionSpace is for it). */
export function keyMapForConfig(cfg: EnvConfig): KeyMap {
  const acts = cfg.actions.actuators;
  const space: Space = cfg.actions.discrete
    ? { type: 'discrete', n: cfg.actions.discrete.length, names: cfg.actions.discrete.map((d) => d.name) }
    : { type: 'box', dtype: 'float32', shape: [acts.length], low: acts.map((a) => a.low), high: acts.map((a) => a.high), names: acts.map((a) => a.name) };
  return keyMapFor(space, cfg.actions.discrete);
}

/** One line of the help panel: the keys and what they do. */
export interface HelpLine {
  keys: string;
  what: string;
}

/** A key code as printed on the key (`KeyW` -> `W`, `ArrowUp` -> `↑`). */
export function keyLabel(code: string): string {
  const arrows: Record<string, string> = { ArrowLeft: '←', ArrowRight: '→', ArrowUp: '↑', ArrowDown: '↓' };
  const named: Record<string, string> = { Comma: ',', Period: '.', Minus: '-', Equal: '=', BracketLeft: '[', BracketRight: ']', Space: 'Space', Enter: 'Enter' };
  return arrows[code] ?? named[code] ?? code.replace(/^Key|^Digit/, '');
}

/** The help panel's lines for a key map, the page's own keys included. */
export function helpLines(map: KeyMap): HelpLine[] {
  const lines: HelpLine[] = [];
  if (map.kind === 'box') {
    for (const d of map.dims) {
      if (!d.negative || !d.positive) continue;
      lines.push(
        d.latch
          ? { keys: keyLabel(d.rest === d.low ? d.positive : d.negative), what: `${d.name}: toggle ${d.rest} / ${d.rest === d.low ? d.high : d.low}` }
          : { keys: `${keyLabel(d.negative)} ${keyLabel(d.positive)}`, what: `${d.name}: ${d.low} / ${d.high} while held` },
      );
    }
    if (map.dims.length === 0) lines.push({ keys: '(none)', what: 'no actions: the environment runs on its own' });
    else lines.push({ keys: `${keyLabel(SELECT_KEYS.previous)} ${keyLabel(SELECT_KEYS.next)} then ${keyLabel(SELECT_KEYS.negative)} ${keyLabel(SELECT_KEYS.positive)}`, what: 'select any dimension, then drive it' });
  } else {
    for (const c of map.choices) if (c.key) lines.push({ keys: keyLabel(c.key), what: `${c.name} while held` });
    lines.push({ keys: `${keyLabel(SELECT_KEYS.previous)} ${keyLabel(SELECT_KEYS.next)} then Enter`, what: 'select any choice, then hold it' });
    lines.push({ keys: '(none)', what: map.choices[map.rest]!.name });
  }
  lines.push({ keys: 'R', what: 'reset (a new episode)' }, { keys: 'P / Space', what: 'pause' }, { keys: 'M', what: 'slow motion (0.25x)' }, { keys: 'H', what: 'show / hide this help' });
  return lines;
}

/**
 * The action a person commands: key presses and releases and gamepad readings in, the action out.
 * Also a Policy, so the same object drives an episode loop in Node tests.
 */
export class TeleopController implements Policy {
  readonly name = 'teleop';
  private readonly held = new Set<string>();
  private readonly latched = new Set<number>();
  private axes: readonly number[] = [];
  private buttons: readonly boolean[] = [];
  /** The selector's dimension (box) or choice (discrete). */
  selected = 0;

  constructor(readonly map: KeyMap) {}

  /** Returns true when the key belongs to the action mapping (the page then keeps the browser from acting on it). */
  keyDown(code: string): boolean {
    const size = this.map.kind === 'box' ? this.map.dims.length : this.map.choices.length;
    if (size === 0) return false;
    if (code === SELECT_KEYS.previous || code === SELECT_KEYS.next) {
      this.selected = (this.selected + (code === SELECT_KEYS.next ? 1 : size - 1)) % size;
      return true;
    }
    if (this.map.kind === 'box') {
      const d = this.map.dims.find((x) => x.negative === code || x.positive === code);
      if (d?.latch && !this.held.has(code)) {
        if (this.latched.has(d.dim)) this.latched.delete(d.dim);
        else this.latched.add(d.dim);
      }
    }
    const bound = this.bound(code);
    if (bound) this.held.add(code);
    return bound;
  }

  keyUp(code: string): void {
    this.held.delete(code);
  }

  /** Releases every key (the page lost focus: keyup events would never come). */
  releaseAll(): void {
    this.held.clear();
  }

  /** The latest gamepad reading (navigator.getGamepads()[i].axes / buttons[].pressed). */
  gamepad(axes: readonly number[], buttons: readonly boolean[]): void {
    this.axes = axes;
    this.buttons = buttons;
  }

  reset(): void {
    this.latched.clear();
  }

  act(): Action {
    return this.action();
  }

  action(): Action {
    if (this.map.kind === 'discrete') {
      const { choices, rest } = this.map;
      for (const c of choices) if (c.key && this.held.has(c.key)) return c.index;
      if (this.held.has(SELECT_KEYS.hold)) return this.selected;
      const button = this.buttons.findIndex((b, i) => b && i < choices.length);
      return button >= 0 ? button : rest;
    }
    const out = new Float32Array(this.map.dims.length);
    for (const d of this.map.dims) {
      let v = d.rest;
      const neg = (d.negative !== undefined && this.held.has(d.negative)) || (this.selected === d.dim && this.held.has(SELECT_KEYS.negative));
      const pos = (d.positive !== undefined && this.held.has(d.positive)) || (this.selected === d.dim && this.held.has(SELECT_KEYS.positive));
      if (d.latch) {
        if (this.latched.has(d.dim)) v = d.rest === d.low ? d.high : d.low;
        if (this.selected === d.dim && this.held.has(SELECT_KEYS.positive)) v = d.high;
        if (this.selected === d.dim && this.held.has(SELECT_KEYS.negative)) v = d.low;
      } else if (neg !== pos) {
        v = pos ? d.high : d.low;
      } else if (d.axis !== undefined) {
        const sign = GAMEPAD_AXES[d.dim]![1];
        const a = sign * (this.axes[d.axis] ?? 0);
        if (Math.abs(a) > DEADZONE) v = a > 0 ? d.rest + a * (d.high - d.rest) : d.rest + a * (d.rest - d.low);
      }
      out[d.dim] = v;
    }
    return out;
  }

  private bound(code: string): boolean {
    if (code === SELECT_KEYS.negative || code === SELECT_KEYS.positive || code === SELECT_KEYS.hold) return true;
    if (this.map.kind === 'box') return this.map.dims.some((d) => d.negative === code || d.positive === code);
    return this.map.choices.some((c) => c.key === code);
  }
}
