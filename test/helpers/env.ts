import { validateEnvConfig } from '../../src/config/parse.js';
import { createEnv, type PhysicsEnv } from '../../src/sim/env.js';

/** A small valid environment document to derive test configs from. */
export function baseDoc(): Record<string, unknown> {
  return {
    id: 'Test-v1',
    bodies: [
      { name: 'ground', shape: { type: 'plane' }, type: 'fixed' },
      { name: 'box', shape: { type: 'box', halfExtents: [0.05, 0.05, 0.05] }, position: [0, 0, 0.05], mass: 1 },
      { name: 'mover', shape: { type: 'sphere', radius: 0.02 }, type: 'kinematic', position: [0.3, 0, 0.02] },
    ],
    actions: {
      actuators: [
        { name: 'vx', type: 'kinematic_velocity', body: 'mover', axis: [1, 0, 0], scale: 0.5 },
        { name: 'push', type: 'force', body: 'box', axis: [0, 1, 0], scale: 5 },
      ],
    },
    observation: [{ term: 'position', body: 'box' }, { term: 'position', body: 'mover', axes: 'x' }],
  };
}

export async function envFrom(doc: unknown): Promise<PhysicsEnv> {
  return createEnv(validateEnvConfig(doc, 'inline.yaml'));
}
