import { describe, expect, it } from 'vitest';
import { validateEnvConfig } from '../../../src/config/parse.js';
import { TrajforgeError } from '../../../src/core/errors.js';
import { baseDoc } from '../../helpers/env.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test documents are mutated freely
type Doc = Record<string, any>;

/** Each case: a mutation of a valid document, the JSON path the error must name, and words of what was expected. */
const CASES: { name: string; mutate: (d: Doc) => void; path: string; expected: RegExp }[] = [
  { name: 'wrong type (string mass)', mutate: (d) => (d.bodies[1].mass = 'heavy'), path: 'bodies[1] (name: box).mass', expected: /number/ },
  { name: 'negative mass', mutate: (d) => (d.bodies[1].mass = -1), path: 'bodies[1] (name: box).mass', expected: /> 0/ },
  { name: 'unknown shape', mutate: (d) => (d.bodies[1].shape = { type: 'torus', radius: 1 }), path: 'bodies[1] (name: box).shape.type', expected: /"box", "sphere", "capsule", "cylinder", "plane"/ },
  { name: 'typo in a field name', mutate: (d) => (d.bodies[1].colour = '#ff0000'), path: 'bodies[1] (name: box).colour', expected: /did you mean 'color'/ },
  { name: 'unknown top-level field', mutate: (d) => (d.bodys = []), path: 'bodys', expected: /did you mean 'bodies'/ },
  { name: 'missing actuator target body', mutate: (d) => delete d.actions.actuators[0].body, path: 'actions.actuators[0] (name: vx).body', expected: /required/ },
  { name: 'actuator on an unknown body', mutate: (d) => (d.actions.actuators[1].body = 'bx'), path: 'actions.actuators[1] (name: push).body', expected: /a body name/ },
  { name: 'camera without resolution', mutate: (d) => (d.cameras = [{ name: 'cam' }]), path: 'cameras[0] (name: cam).resolution', expected: /required/ },
  { name: 'duplicate body names', mutate: (d) => d.bodies.push({ name: 'box', shape: { type: 'sphere', radius: 0.1 } }), path: 'bodies[3] (name: box).name', expected: /used only once/ },
  { name: 'NaN position', mutate: (d) => (d.bodies[1].position = [0, Number.NaN, 0]), path: 'bodies[1] (name: box).position[1]', expected: /number/ },
  { name: 'huge size', mutate: (d) => (d.bodies[1].shape.halfExtents = [1e6, 1, 1]), path: 'bodies[1] (name: box).shape.halfExtents[0]', expected: /<= 1000/ },
  { name: 'bad id', mutate: (d) => (d.id = 'push cube'), path: 'id', expected: /Name-vN/ },
  { name: 'force on a kinematic body', mutate: (d) => (d.actions.actuators[1].body = 'mover'), path: 'actions.actuators[1] (name: push).body', expected: /dynamic body/ },
  { name: 'kinematic velocity on a dynamic body', mutate: (d) => (d.actions.actuators[0].body = 'box'), path: 'actions.actuators[0] (name: vx).body', expected: /kinematic body/ },
  { name: 'joint to a missing body', mutate: (d) => (d.joints = [{ name: 'j', type: 'revolute', child: 'arm' }]), path: 'joints[0] (name: j).child', expected: /a body name/ },
  { name: 'motor on a fixed joint', mutate: (d) => (d.joints = [{ name: 'j', type: 'fixed', child: 'box', motor: { target: 1 } }]), path: 'joints[0] (name: j).motor', expected: /revolute or prismatic/ },
  { name: 'observation of an unknown joint', mutate: (d) => d.observation.push({ term: 'joint_angle', joint: 'knee' }), path: 'observation[2].joint', expected: /a joint name/ },
  { name: 'goal observation without a goal', mutate: (d) => d.observation.push({ term: 'goal' }), path: 'observation[2].term', expected: /task.goal/ },
  { name: 'plane that is not fixed', mutate: (d) => (d.bodies[0].type = 'dynamic'), path: 'bodies[0] (name: ground).type', expected: /fixed/ },
  { name: 'inverted randomisation range', mutate: (d) => (d.randomize = [{ term: 'mass', body: 'box', scale: [2, 1] }]), path: 'randomize[0].scale', expected: /low <= high/ },
  { name: 'non-integer fps', mutate: (d) => (d.world = { timestep: 0.007, substeps: 3 }), path: 'world.substeps', expected: /whole number of steps per second/ },
  { name: 'discrete choice of wrong length', mutate: (d) => (d.actions.discrete = [{ name: 'left', value: [-1] }, { name: 'right', value: [1, 0] }]), path: 'actions.discrete[0] (name: left).value', expected: /2 values/ },
  { name: 'empty channel list', mutate: (d) => (d.cameras = [{ name: 'c', resolution: [32, 32], channels: [] }]), path: 'cameras[0] (name: c).channels', expected: />= 1 items/ },
  { name: 'unknown channel', mutate: (d) => (d.cameras = [{ name: 'c', resolution: [32, 32], channels: ['rgb', 'infrared'] }]), path: 'cameras[0] (name: c).channels[1]', expected: /"rgb", "depth"/ },
  { name: 'unknown reward term', mutate: (d) => (d.task = { reward: [{ term: 'happiness' }] }), path: 'task.reward[0].term', expected: /"distance"/ },
  { name: 'expression naming an unknown body', mutate: (d) => (d.task = { success: [{ term: 'within', a: 'box', b: 'gaol', radius: 0.1 }] }), path: 'task.success[0].b', expected: /a body name/ },
  { name: 'count on a body that is not repeated', mutate: (d) => (d.randomize = [{ term: 'count', body: 'box', min: 1, max: 2 }]), path: 'randomize[0].body', expected: /repeated body/ },
  { name: 'top level is a list', mutate: () => {}, path: '', expected: /mapping/ },
];

describe('bad environment configs', () => {
  for (const c of CASES) {
    it(`rejects: ${c.name}`, () => {
      const doc: Doc = structuredClone(baseDoc());
      c.mutate(doc);
      const input = c.name === 'top level is a list' ? [doc] : doc;
      let error: unknown;
      try {
        validateEnvConfig(input, 'envs/bad.yaml');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TrajforgeError);
      const err = error as TrajforgeError;
      expect(err.code).toBe('E_CONFIG_INVALID');
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain('envs/bad.yaml');
      const issue = err.details.issues?.find((i) => i.path === c.path);
      expect(issue, `issues were: ${JSON.stringify(err.details.issues)}`).toBeDefined();
      expect(issue!.expected).toMatch(c.expected);
      expect(issue!.found.length).toBeGreaterThan(0);
      expect(err.message).toContain(`${c.path || '(root)'}: expected`);
    });
  }

  it('covers at least 15 distinct kinds', () => {
    expect(new Set(CASES.map((c) => c.name)).size).toBeGreaterThanOrEqual(15);
  });

  it('the base document itself is valid, with defaults filled in', () => {
    const { config, hash } = validateEnvConfig(baseDoc(), 'ok.yaml');
    expect(config.world.gravity).toEqual([0, 0, -9.81]);
    expect(config.bodies[1]!.friction).toBe(0.7);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports what was found', () => {
    const doc: Doc = baseDoc();
    doc.bodies[1].mass = -3;
    try {
      validateEnvConfig(doc, 'x.yaml');
    } catch (e) {
      expect((e as TrajforgeError).details.issues?.[0]?.found).toBe('-3 (number)');
    }
    expect.assertions(1);
  });
});
