import { TrajforgeError } from '../core/errors.js';
import type { EnvConfig } from '../config/schema.js';
import { expandedBodyNames } from '../config/semantics.js';
import { Rng } from '../core/rng.js';
import { conjRotate } from './geometry.js';
import { normalize, quatFromEulerDeg, sub, type Vec3 } from '../core/math.js';
import { parseColor } from './colors.js';
import type { BodyDesc, CameraDesc, JointDesc, WorldDescription } from './description.js';
import { shapeFromConfig } from './shapes.js';
import { applyRandomization } from './terms/randomize.js';

/** The unrandomised bodies of a config, expanded (repeat) and numbered: ids are stable per config. */
export function baseBodies(cfg: EnvConfig): BodyDesc[] {
  const out: BodyDesc[] = [];
  for (const b of cfg.bodies) {
    for (const name of expandedBodyNames(b)) {
      out.push({
        id: out.length + 1,
        name,
        base: b.name,
        present: true,
        type: b.type,
        shape: shapeFromConfig(b.shape),
        mass: b.mass,
        density: b.density,
        friction: b.friction,
        restitution: b.restitution,
        linearDamping: b.linearDamping,
        angularDamping: b.angularDamping,
        gravityScale: b.gravityScale,
        color: parseColor(b.color),
        position: [...b.position],
        quaternion: quatFromEulerDeg(b.euler),
        shapeQuaternion: quatFromEulerDeg(b.shapeEuler),
        linearVelocity: [...b.linearVelocity],
        angularVelocity: [...b.angularVelocity],
        collide: b.collide,
        visible: b.visible,
        lockRotations: [...b.lockRotations],
        lockTranslations: [...b.lockTranslations],
        ccd: b.ccd,
      });
    }
  }
  return out;
}

/** Sample one episode's world: base description, then the randomisation terms, all from `seed`. */
export function describeWorld(cfg: EnvConfig, seed: number): WorldDescription {
  const bodies = baseBodies(cfg);
  const index = new Map(bodies.map((b, i) => [b.name, i]));
  // Joints are defined at the configured pose, before randomisation moves anything.
  const joints: JointDesc[] = cfg.joints.map((j) => {
    const parent = j.parent === 'world' ? -1 : (index.get(j.parent) ?? -1);
    const child = index.get(j.child);
    if (child === undefined) throw new TrajforgeError('E_INTERNAL', `joint ${j.name}: unknown child ${j.child}`);
    const cb = bodies[child]!;
    const pb = parent >= 0 ? bodies[parent]! : undefined;
    const toLocal = (b: BodyDesc | undefined, p: Vec3): Vec3 => (b ? conjRotate(b.quaternion, sub(p, b.position)) : p);
    return {
      name: j.name,
      type: j.type,
      parent,
      child,
      anchorParent: toLocal(pb, j.anchor),
      anchorChild: toLocal(cb, j.anchor),
      axisLocal: normalize(pb ? conjRotate(pb.quaternion, j.axis) : j.axis),
      limits: j.limits ? [j.limits[0], j.limits[1]] : undefined,
      motor: j.motor ? { ...j.motor } : undefined,
    };
  });
  const cameras: CameraDesc[] = cfg.cameras.map((c) => ({
    name: c.name,
    width: c.resolution[0],
    height: c.resolution[1],
    fovY: c.fovY,
    position: [...c.position],
    lookAt: [...c.lookAt],
    up: [...c.up],
    channels: [...c.channels],
    attach: c.attach === undefined ? -1 : (index.get(c.attach) ?? -1),
    depthMax: c.depthMax,
  }));
  const world: WorldDescription = {
    seed,
    gravity: [...cfg.world.gravity],
    timestep: cfg.world.timestep,
    substeps: cfg.world.substeps,
    bodies,
    joints,
    cameras,
    light: { direction: normalize(cfg.light.direction), intensity: cfg.light.intensity, ambient: cfg.light.ambient, shadows: cfg.light.shadows },
    background: parseColor(cfg.background),
  };
  applyRandomization(world, cfg, new Rng(seed));
  return world;
}
