import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listEnvironments, loadEnv } from '../../../src/config/load.js';
import { mergeConfig } from '../../../src/config/parse.js';
import { TrajforgeError } from '../../../src/core/errors.js';

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tf-env-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function thrown(f: () => unknown): TrajforgeError {
  try {
    f();
  } catch (e) {
    if (e instanceof TrajforgeError) return e;
    throw e;
  }
  throw new Error('expected a TrajforgeError');
}

const BASE = `id: Base-v1
description: base
bodies:
  - { name: ground, shape: { type: plane }, type: fixed }
  - { name: ball, shape: { type: sphere, radius: 0.1 }, position: [0, 0, 1], color: "#ff0000" }
task: { timeLimit: 50 }
`;

describe('loading environment files', () => {
  it('finds shipped environments by id', () => {
    const ids = listEnvironments().map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining(['PushCube-v1', 'Reach-v1', 'CartPole-v1', 'FallingObjects-v1', 'StackCube-v1']));
    expect(loadEnv('PushCube-v1').config.id).toBe('PushCube-v1');
  });

  it('unknown ids suggest the closest known ids', () => {
    const e = thrown(() => loadEnv('PushCub-v1'));
    expect(e.code).toBe('E_ENV_NOT_FOUND');
    expect(e.message).toMatch(/closest known: PushCube-v1/);
  });

  it('extends merges objects, merges named lists by name, and appends new items', () => {
    const dir = tmp({
      'base.v1.yaml': BASE,
      'child.v1.yaml': `id: Child-v1
extends: Base-v1
bodies:
  - { name: ball, color: "#00ff00" }
  - { name: box, shape: { type: box, halfExtents: [0.1, 0.1, 0.1] } }
task: { timeLimit: 80 }
`,
    });
    const { config } = loadEnv('Child-v1', { dirs: [dir] });
    expect(config.id).toBe('Child-v1');
    expect(config.description).toBe('base');
    expect(config.bodies.map((b) => b.name)).toEqual(['ground', 'ball', 'box']);
    expect(config.bodies[1]!.color).toBe('#00ff00');
    expect(config.bodies[1]!.position).toEqual([0, 0, 1]);
    expect(config.task.timeLimit).toBe(80);
  });

  it('extends by relative path, and `remove: true` drops a named item', () => {
    const dir = tmp({ 'base.yaml': BASE, 'c.yaml': 'id: C-v1\nextends: ./base.yaml\nbodies:\n  - { name: ball, remove: true }\n' });
    expect(loadEnv(join(dir, 'c.yaml')).config.bodies.map((b) => b.name)).toEqual(['ground']);
  });

  it('extends: a key set to null drops the inherited value (a description, an expert that does not fit)', () => {
    const dir = tmp({ 'base.yaml': BASE, 'c.yaml': 'id: C-v1\nextends: ./base.yaml\ndescription: null\nbodies:\n  - { name: ball, color: null }\n' });
    const { config } = loadEnv(join(dir, 'c.yaml'));
    expect(config.description).toBe(''); // the schema's default, not the parent's 'base'
    expect(config.bodies[1]!.color).not.toBe('#ff0000');
    const push = tmp({ 'p.yaml': 'id: P-v1\nextends: PushCube-v1\nexpert: null\n' });
    expect(loadEnv(join(push, 'p.yaml')).config.expert).toBeUndefined();
    expect(loadEnv('PushCube-v1').config.expert).toBeDefined();
    // The same with --set; a null with nothing to drop is left for validation to name.
    expect(loadEnv('PushCube-v1', { overrides: ['expert=null'] }).config.expert).toBeUndefined();
    expect(thrown(() => loadEnv('PushCube-v1', { overrides: ['expertt=null'] })).message).toMatch(/expertt/);
    expect(thrown(() => loadEnv(join(tmp({ 'x.yaml': 'id: X-v1\nextends: PushCube-v1\nexpertt: null\n' }), 'x.yaml'))).message).toMatch(/expertt/);
    expect(thrown(() => loadEnv(join(tmp({ 's.yaml': `${BASE}expert: null\n` }), 's.yaml'))).code).toBe('E_CONFIG_INVALID');
  });

  it('circular extends is an error naming the cycle', () => {
    const dir = tmp({ 'a.yaml': 'id: A-v1\nextends: B-v1\n', 'b.yaml': 'id: B-v1\nextends: A-v1\n' });
    const e = thrown(() => loadEnv('A-v1', { dirs: [dir] }));
    expect(e.code).toBe('E_EXTENDS_CYCLE');
    expect(e.message).toMatch(/a\.yaml -> .*b\.yaml -> .*a\.yaml/);
    expect(e.exitCode).toBe(2);
  });

  it('YAML syntax errors name the file, line and column', () => {
    const dir = tmp({ 'bad.yaml': 'id: Bad-v1\nbodies:\n  - name: [unclosed\n' });
    const e = thrown(() => loadEnv(join(dir, 'bad.yaml')));
    expect(e.code).toBe('E_CONFIG_PARSE');
    expect(e.message).toMatch(/bad\.yaml:\d+:\d+: cannot parse/);
  });

  it('duplicate YAML keys are errors, not silently last-wins', () => {
    const dir = tmp({ 'dup.yaml': `${BASE}task: { timeLimit: 10 }\n` });
    expect(thrown(() => loadEnv(join(dir, 'dup.yaml'))).code).toBe('E_CONFIG_PARSE');
  });

  it('invalid values in a file report the file and the JSON path', () => {
    const dir = tmp({ 'neg.json': JSON.stringify({ id: 'Neg-v1', bodies: [{ name: 'b', shape: { type: 'sphere', radius: -1 } }] }) });
    const e = thrown(() => loadEnv(join(dir, 'neg.json')));
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toContain('neg.json');
    expect(e.message).toContain('bodies[0] (name: b).shape.radius: expected a number > 0, found -1 (number)');
  });

  it('mergeConfig replaces plain arrays', () => {
    expect(mergeConfig({ a: [1, 2, 3], b: { c: 1 } }, { a: [4], b: { d: 2 } })).toEqual({ a: [4], b: { c: 1, d: 2 } });
  });
});
