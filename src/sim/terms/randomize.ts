import type { EnvConfig, RandomizeTerm } from '../../config/schema.js';
import type { Rng } from '../../core/rng.js';
import { degToRad, normalize, quatFromAxisAngle, quatMul, quatNormalize, type Vec3 } from '../../core/math.js';
import type { PrimitiveShape } from '../../core/scene.js';
import { parseColor, hsvToRgb } from '../colors.js';
import type { BodyDesc, WorldDescription } from '../description.js';
import { shapeFromConfig } from '../shapes.js';

/**
 * Domain randomisation: each term rewrites the sampled world description in declared order.
 * A term naming a repeated body's base name applies to every copy, each drawn independently.
 */
export function applyRandomization(world: WorldDescription, cfg: EnvConfig, rng: Rng): void {
  for (const term of cfg.randomize) apply(term, world, rng);
}

function targets(world: WorldDescription, name: string): BodyDesc[] {
  const exact = world.bodies.filter((b) => b.name === name);
  return exact.length > 0 ? exact : world.bodies.filter((b) => b.base === name);
}

const uniformVec = (rng: Rng, low: Vec3, high: Vec3): Vec3 => [rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1]), rng.uniform(low[2], high[2])];

function apply(term: RandomizeTerm, world: WorldDescription, rng: Rng): void {
  switch (term.term) {
    case 'position':
      for (const b of targets(world, term.body)) {
        const others = term.awayFrom.map((a) => ({ body: targets(world, a.body)[0], distance: a.distance }));
        let p = uniformVec(rng, term.low, term.high);
        for (let attempt = 0; attempt < 200; attempt++) {
          const clear = others.every((o) => !o.body || Math.hypot(p[0] - o.body.position[0], p[1] - o.body.position[1]) >= o.distance);
          if (clear) break;
          p = uniformVec(rng, term.low, term.high);
        }
        b.position = p;
      }
      return;
    case 'polar':
      for (const b of targets(world, term.body)) {
        const r = Math.sqrt(rng.uniform(term.radius[0] ** 2, term.radius[1] ** 2));
        const a = degToRad(rng.uniform(term.angle[0], term.angle[1]));
        b.position = [term.center[0] + r * Math.cos(a), term.center[1] + r * Math.sin(a), term.center[2]];
      }
      return;
    case 'yaw':
      for (const b of targets(world, term.body)) {
        const yaw = quatFromAxisAngle([0, 0, 1], degToRad(rng.uniform(term.range[0], term.range[1])));
        b.quaternion = quatNormalize(quatMul(yaw, b.quaternion));
      }
      return;
    case 'rotation':
      for (const b of targets(world, term.body)) {
        // Uniform random rotation (Shoemake).
        const u1 = rng.next();
        const u2 = rng.next() * 2 * Math.PI;
        const u3 = rng.next() * 2 * Math.PI;
        const a = Math.sqrt(1 - u1);
        const c = Math.sqrt(u1);
        b.quaternion = [c * Math.cos(u3), a * Math.sin(u2), a * Math.cos(u2), c * Math.sin(u3)];
      }
      return;
    case 'mass':
      for (const b of targets(world, term.body)) {
        const s = rng.uniform(term.scale[0], term.scale[1]);
        if (b.mass !== undefined) b.mass *= s;
        else b.density *= s;
      }
      return;
    case 'friction':
      for (const b of targets(world, term.body)) b.friction = rng.uniform(term.range[0], term.range[1]);
      return;
    case 'size':
      for (const b of targets(world, term.body)) b.shape = scaleShape(b.shape, rng.uniform(term.scale[0], term.scale[1]));
      return;
    case 'color':
      for (const b of targets(world, term.body)) {
        if (term.choices) b.color = parseColor(rng.choice(term.choices));
        else if (term.hue) b.color = hsvToRgb(rng.uniform(term.hue[0], term.hue[1]), 0.75, 0.9);
      }
      return;
    case 'shape':
      for (const b of targets(world, term.body)) b.shape = shapeFromConfig(rng.choice(term.choices));
      return;
    case 'velocity':
      for (const b of targets(world, term.body)) b.linearVelocity = uniformVec(rng, term.low, term.high);
      return;
    case 'angular_velocity':
      for (const b of targets(world, term.body)) b.angularVelocity = uniformVec(rng, term.low, term.high);
      return;
    case 'light': {
      const az = degToRad(rng.uniform(term.azimuth[0], term.azimuth[1]));
      const el = degToRad(rng.uniform(term.elevation[0], term.elevation[1]));
      world.light.direction = normalize([Math.cos(el) * Math.cos(az), Math.cos(el) * Math.sin(az), Math.sin(el)]);
      return;
    }
    case 'camera':
      for (const c of world.cameras.filter((c) => c.name === term.camera)) {
        const j = (h: number) => rng.uniform(-h, h);
        c.position = [c.position[0] + j(term.position[0]), c.position[1] + j(term.position[1]), c.position[2] + j(term.position[2])];
        c.lookAt = [c.lookAt[0] + j(term.lookAt[0]), c.lookAt[1] + j(term.lookAt[1]), c.lookAt[2] + j(term.lookAt[2])];
      }
      return;
    case 'count': {
      const copies = world.bodies.filter((b) => b.base === term.body);
      const n = rng.intBetween(term.min, term.max);
      copies.forEach((b, i) => (b.present = i < n));
      return;
    }
  }
}

function scaleShape(shape: PrimitiveShape, s: number): PrimitiveShape {
  switch (shape.type) {
    case 'box':
      return { type: 'box', halfExtents: [shape.halfExtents[0] * s, shape.halfExtents[1] * s, shape.halfExtents[2] * s] };
    case 'sphere':
      return { type: 'sphere', radius: shape.radius * s };
    case 'capsule':
    case 'cylinder':
      return { type: shape.type, radius: shape.radius * s, halfHeight: shape.halfHeight * s };
    case 'plane':
      return shape;
  }
}
