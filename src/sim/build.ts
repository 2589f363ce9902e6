import type RAPIER_NS from '@dimforge/rapier3d-compat';
import { quatFromAxisAngle, quatConj, quatMul, type Quat, type Vec3 } from '../core/math.js';
import type { BodyDesc, WorldDescription } from './description.js';
import type { Rapier } from './rapier.js';

type World = RAPIER_NS.World;
type RigidBody = RAPIER_NS.RigidBody;
type ImpulseJoint = RAPIER_NS.ImpulseJoint;

export interface BuiltWorld {
  world: World;
  /** One entry per description body; null where the body is absent this episode. */
  bodies: (RigidBody | null)[];
  /** One entry per description joint; null where a jointed body is absent. */
  joints: (ImpulseJoint | null)[];
  /** A fixed body at the origin that world-anchored joints attach to. */
  anchor: RigidBody;
  /** Collider handle -> description body index (for contact events). */
  colliderBody: Map<number, number>;
}

export const toR = (v: Vec3) => ({ x: v[0], y: v[1], z: v[2] });
export const toRQ = (q: Quat) => ({ w: q[0], x: q[1], y: q[2], z: q[3] });

/** Rapier's capsules and cylinders run along local y; ours along local z. */
const Y_TO_Z = quatFromAxisAngle([1, 0, 0], Math.PI / 2);

/** Description -> Rapier world. Deterministic: same description, same creation order, same world. */
export function buildWorld(R: Rapier, d: WorldDescription): BuiltWorld {
  const world = new R.World(toR(d.gravity));
  world.timestep = d.timestep;
  const anchor = world.createRigidBody(R.RigidBodyDesc.fixed());
  const colliderBody = new Map<number, number>();
  const bodies = d.bodies.map((b, i) => (b.present ? createBody(R, world, b, (handle) => colliderBody.set(handle, i)) : null));
  const joints = d.joints.map((j) => {
    const child = bodies[j.child];
    const parent = j.parent >= 0 ? bodies[j.parent] : anchor;
    if (!child || !parent) return null;
    const a1 = toR(j.anchorParent);
    const a2 = toR(j.anchorChild);
    const axis = toR(j.axisLocal);
    let data: RAPIER_NS.JointData;
    switch (j.type) {
      case 'revolute':
        data = R.JointData.revolute(a1, a2, axis);
        break;
      case 'prismatic':
        data = R.JointData.prismatic(a1, a2, axis);
        break;
      case 'spherical':
        data = R.JointData.spherical(a1, a2);
        break;
      case 'fixed': {
        // Keep the configured relative orientation: frame1 * child = parent orientation.
        const qp = j.parent >= 0 ? d.bodies[j.parent]!.quaternion : ([1, 0, 0, 0] as Quat);
        const qc = d.bodies[j.child]!.quaternion;
        data = R.JointData.fixed(a1, toRQ(quatMul(quatConj(qp), qc)), a2, { w: 1, x: 0, y: 0, z: 0 });
        break;
      }
    }
    if (j.limits && (j.type === 'revolute' || j.type === 'prismatic')) {
      data.limitsEnabled = true;
      data.limits = [j.limits[0], j.limits[1]];
    }
    const joint = world.createImpulseJoint(data, parent, child, true);
    joint.setContactsEnabled(false);
    if (j.motor && (j.type === 'revolute' || j.type === 'prismatic')) {
      const unit = joint as RAPIER_NS.UnitImpulseJoint;
      if (j.motor.mode === 'position') unit.configureMotorPosition(j.motor.target, j.motor.stiffness, j.motor.damping);
      else unit.configureMotorVelocity(j.motor.target, j.motor.damping);
    }
    return joint;
  });
  return { world, bodies, joints, anchor, colliderBody };
}

function createBody(R: Rapier, world: World, b: BodyDesc, onCollider: (handle: number) => void): RigidBody {
  const desc =
    b.type === 'dynamic' ? R.RigidBodyDesc.dynamic() : b.type === 'fixed' ? R.RigidBodyDesc.fixed() : R.RigidBodyDesc.kinematicVelocityBased();
  desc
    .setTranslation(b.position[0], b.position[1], b.position[2])
    .setRotation(toRQ(b.quaternion))
    .setLinearDamping(b.linearDamping)
    .setAngularDamping(b.angularDamping)
    .setGravityScale(b.gravityScale)
    .setCcdEnabled(b.ccd)
    .enabledRotations(!b.lockRotations[0], !b.lockRotations[1], !b.lockRotations[2])
    .enabledTranslations(!b.lockTranslations[0], !b.lockTranslations[1], !b.lockTranslations[2]);
  if (b.type !== 'fixed') {
    desc.setLinvel(b.linearVelocity[0], b.linearVelocity[1], b.linearVelocity[2]).setAngvel(toR(b.angularVelocity));
  }
  const body = world.createRigidBody(desc);
  const collider = colliderDesc(R, b);
  // Contact start events feed the collision records of the annotation exporters.
  if (collider) onCollider(world.createCollider(collider.setActiveEvents(R.ActiveEvents.COLLISION_EVENTS), body).handle);
  return body;
}

function colliderDesc(R: Rapier, b: BodyDesc): RAPIER_NS.ColliderDesc | null {
  const s = b.shape;
  let c: RAPIER_NS.ColliderDesc;
  switch (s.type) {
    case 'box':
      c = R.ColliderDesc.cuboid(s.halfExtents[0], s.halfExtents[1], s.halfExtents[2]).setRotation(toRQ(b.shapeQuaternion));
      break;
    case 'sphere':
      c = R.ColliderDesc.ball(s.radius);
      break;
    case 'capsule':
      c = R.ColliderDesc.capsule(s.halfHeight, s.radius).setRotation(toRQ(quatMul(b.shapeQuaternion, Y_TO_Z)));
      break;
    case 'cylinder':
      c = R.ColliderDesc.cylinder(s.halfHeight, s.radius).setRotation(toRQ(quatMul(b.shapeQuaternion, Y_TO_Z)));
      break;
    case 'plane':
      // A thick slab whose top face is the plane z = 0 of the body frame.
      c = R.ColliderDesc.cuboid(s.halfExtents[0], s.halfExtents[1], 0.5).setTranslation(0, 0, -0.5);
      break;
  }
  if (!b.collide) {
    if (b.type === 'fixed') return null; // a pure marker needs no collider
    c.setSensor(true);
  }
  if (b.mass !== undefined) c.setMass(b.mass);
  else c.setDensity(b.density);
  return c.setFriction(b.friction).setRestitution(b.restitution);
}
