import type { ShapeConfig } from '../config/schema.js';
import type { PrimitiveShape } from '../core/scene.js';

export function shapeFromConfig(s: ShapeConfig): PrimitiveShape {
  switch (s.type) {
    case 'box':
      return { type: 'box', halfExtents: [...s.halfExtents] };
    case 'sphere':
      return { type: 'sphere', radius: s.radius };
    case 'capsule':
    case 'cylinder':
      return { type: s.type, radius: s.radius, halfHeight: s.halfHeight };
    case 'plane':
      return { type: 'plane', halfExtents: [...s.halfExtents], checker: s.checker };
  }
}

/** Distance from a shape's centre to its lowest point when upright (for resting heights). */
export function halfHeight(s: PrimitiveShape): number {
  switch (s.type) {
    case 'box':
      return s.halfExtents[2];
    case 'sphere':
      return s.radius;
    case 'capsule':
      return s.halfHeight + s.radius;
    case 'cylinder':
      return s.halfHeight;
    case 'plane':
      return 0;
  }
}
