import { z } from 'zod';
import { CondExprSchema, ScalarExprSchema, VecExprSchema, bodyRef } from './expr.js';

/**
 * The environment definition language. Pure data, validated here; every field has a default
 * except those that define identity (id, a body's name and shape, a camera's resolution).
 * Units: metres, kilograms, seconds, degrees for user-facing angles. World frame: z up.
 */
/**
 * Every free number is bounded: beyond a million (metres, newtons, m/s^2, ...) a value is a typo,
 * and the float32 physics and observations overflow to Infinity/NaN long before 1e308.
 */
export const MAX_MAGNITUDE = 1e6;
const finite = z.number().min(-MAX_MAGNITUDE).max(MAX_MAGNITUDE);
/** Lengths are positive and bounded: a 10 km box is a typo, not a scene. */
const length = z.number().positive().max(1000);
const vec3 = z.tuple([finite, finite, finite]);
const sizeVec3 = z.tuple([length, length, length]);
const unit = z.number().min(0).max(1);
const nonNegative = z.number().min(0);
const range = z.tuple([finite, finite]).refine(([lo, hi]) => lo <= hi, { message: 'expected [low, high] with low <= high' });
const positiveRange = z.tuple([z.number().positive(), z.number().positive()]).refine(([lo, hi]) => lo <= hi, { message: 'expected [low, high] with low <= high' });

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const name = z.string().regex(NAME_PATTERN, 'a name of letters, digits and underscores, starting with a letter');
const axes = z.string().regex(/^(?!.*(.).*\1)[xyz]{1,3}$/, 'a subset of "xyz" such as "xy"').default('xyz');

export const ColorSchema = z.union([
  z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour "#rrggbb"'),
  z.tuple([unit, unit, unit]),
]);

export const ShapeSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('box'), halfExtents: sizeVec3 }),
  z.strictObject({ type: z.literal('sphere'), radius: length }),
  z.strictObject({ type: z.literal('capsule'), radius: length, halfHeight: length }),
  z.strictObject({ type: z.literal('cylinder'), radius: length, halfHeight: length }),
  z.strictObject({
    type: z.literal('plane'),
    halfExtents: z.tuple([length, length]).default([20, 20]),
    checker: length.default(0.25).describe('edge of a ground checker square, metres'),
  }),
]);

export const BodySchema = z.strictObject({
  name,
  shape: ShapeSchema,
  type: z.enum(['dynamic', 'fixed', 'kinematic']).default('dynamic').describe('kinematic bodies are velocity-driven'),
  mass: z.number().positive().max(1e6).optional().describe('kg; overrides density'),
  density: z.number().positive().max(1e6).default(1000).describe('kg/m^3, used when mass is not given'),
  friction: z.number().min(0).max(10).default(0.7),
  restitution: unit.default(0),
  linearDamping: nonNegative.max(1e3).default(0),
  angularDamping: nonNegative.max(1e3).default(0),
  gravityScale: finite.default(1),
  color: ColorSchema.default('#b3b3b3'),
  position: vec3.default([0, 0, 0]),
  euler: vec3.default([0, 0, 0]).describe('initial orientation: roll, pitch, yaw in degrees (applied x, then y, then z)'),
  shapeEuler: vec3.default([0, 0, 0]).describe('orientation of the shape inside the body frame, degrees (e.g. [0, 90, 0] lays a capsule along x)'),
  linearVelocity: vec3.default([0, 0, 0]),
  angularVelocity: vec3.default([0, 0, 0]),
  collide: z.boolean().default(true).describe('false: visual only (e.g. a goal marker)'),
  visible: z.boolean().default(true),
  lockRotations: z.tuple([z.boolean(), z.boolean(), z.boolean()]).default([false, false, false]),
  lockTranslations: z.tuple([z.boolean(), z.boolean(), z.boolean()]).default([false, false, false]),
  ccd: z.boolean().default(false).describe('continuous collision detection for fast bodies'),
  repeat: z.number().int().min(1).max(64).default(1).describe('n > 1 expands into bodies name_0 .. name_{n-1}'),
});

const motor = z.strictObject({
  mode: z.enum(['position', 'velocity']).default('position'),
  target: finite.default(0),
  stiffness: nonNegative.default(0),
  damping: nonNegative.default(0),
});

export const JointSchema = z.strictObject({
  name,
  type: z.enum(['revolute', 'prismatic', 'fixed', 'spherical']),
  parent: z.string().default('world').describe('a body name or "world"'),
  child: bodyRef,
  anchor: vec3.default([0, 0, 0]).describe('joint origin in world coordinates at the configured (unrandomised) pose'),
  axis: vec3.default([0, 0, 1]).describe('joint axis in world coordinates at the configured pose'),
  limits: range.optional().describe('radians (revolute) or metres (prismatic)'),
  motor: motor.optional(),
});

const actuatorCommon = {
  name,
  low: finite.default(-1),
  high: finite.default(1),
};

export const ActuatorSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('force'), ...actuatorCommon, body: bodyRef, axis: vec3, scale: finite.default(1).describe('newtons per action unit') }),
  z.strictObject({ type: z.literal('torque'), ...actuatorCommon, body: bodyRef, axis: vec3, scale: finite.default(1).describe('newton-metres per action unit') }),
  z.strictObject({
    type: z.literal('kinematic_velocity'),
    ...actuatorCommon,
    body: bodyRef,
    axis: vec3,
    scale: finite.default(1).describe('metres per second per action unit'),
  }),
  z.strictObject({
    type: z.literal('motor_position'),
    ...actuatorCommon,
    joint: z.string().min(1),
    scale: finite.default(1).describe('radians (or metres) per action unit'),
    stiffness: nonNegative.default(100),
    damping: nonNegative.default(10),
  }),
  z.strictObject({
    type: z.literal('motor_velocity'),
    ...actuatorCommon,
    joint: z.string().min(1),
    scale: finite.default(1).describe('radians (or metres) per second per action unit'),
    damping: nonNegative.default(200).describe('motor gain towards the target velocity (Rapier motor damping)'),
  }),
  z.strictObject({
    type: z.literal('grip'),
    name,
    low: finite.default(0),
    high: finite.default(1),
    body: bodyRef,
    range: length.default(0.05).describe('a body whose centre is this close to the gripper point is attached'),
    offset: vec3.default([0, 0, 0]).describe('gripper point in the gripper body frame'),
  }),
]);

export const ActionsSchema = z.strictObject({
  actuators: z.array(ActuatorSchema).default([]),
  discrete: z
    .array(z.strictObject({ name, value: z.array(finite) }))
    .min(2)
    .optional()
    .describe('makes the action space Discrete: each choice is a named vector over the actuators'),
});

const bodyTerm = { body: bodyRef, axes };
export const ObservationTermSchema = z.discriminatedUnion('term', [
  z.strictObject({ term: z.literal('position'), ...bodyTerm }),
  z.strictObject({ term: z.literal('orientation'), body: bodyRef }),
  z.strictObject({ term: z.literal('linear_velocity'), ...bodyTerm }),
  z.strictObject({ term: z.literal('angular_velocity'), ...bodyTerm }),
  z.strictObject({ term: z.literal('joint_angle'), joint: z.string().min(1), encoding: z.enum(['raw', 'sincos']).default('raw') }),
  z.strictObject({ term: z.literal('joint_velocity'), joint: z.string().min(1) }),
  z.strictObject({ term: z.literal('relative_position'), from: bodyRef, to: bodyRef, axes }),
  z.strictObject({ term: z.literal('goal'), axes }),
  z.strictObject({ term: z.literal('grip'), actuator: z.string().min(1) }),
]);

export const CameraSchema = z.strictObject({
  name,
  resolution: z.tuple([z.number().int().min(8).max(4096), z.number().int().min(8).max(4096)]).describe('[width, height] in pixels'),
  position: vec3.default([0, -1.5, 1.5]),
  lookAt: vec3.default([0, 0, 0]),
  up: vec3.default([0, 0, 1]),
  fovY: z.number().gt(0).lt(180).default(45).describe('vertical field of view, degrees'),
  channels: z
    .array(z.enum(['rgb', 'depth', 'segmentation', 'flow', 'normals']))
    .min(1)
    .default(['rgb'])
    .refine((c) => new Set(c).size === c.length, { message: 'channels listed twice' }),
  attach: bodyRef.optional().describe('position and lookAt are then in this body frame'),
  depthMax: length.default(20).describe('metres; background depth is stored as this value'),
});

export const LightSchema = z.strictObject({
  direction: vec3.default([0.4, -0.3, 1]).refine((v) => Math.hypot(...v) > 1e-6, { message: 'a non-zero direction' }).describe('towards the light'),
  intensity: nonNegative.max(10).default(0.8),
  ambient: unit.default(0.3),
  shadows: z.boolean().default(true),
});

const within = z.strictObject({ term: z.literal('within'), a: VecExprSchema, b: VecExprSchema, radius: length, axes });
export const ConditionTermSchema = z.discriminatedUnion('term', [
  within,
  z.strictObject({ term: z.literal('out_of_bounds'), body: bodyRef, low: vec3, high: vec3 }),
  z.strictObject({ term: z.literal('fallen'), body: bodyRef, maxTilt: z.number().gt(0).max(180).describe('degrees between the body z axis and world z') }),
  z.strictObject({ term: z.literal('joint_outside'), joint: z.string().min(1), low: finite, high: finite }),
  z.strictObject({ term: z.literal('resting'), body: bodyRef, maxSpeed: nonNegative.default(0.05) }),
  z.strictObject({ term: z.literal('condition'), when: CondExprSchema }),
  z.strictObject({ term: z.literal('survive').describe('holds when the time limit is reached without failure') }),
]);

const weight = finite.default(1);
export const RewardTermSchema = z.discriminatedUnion('term', [
  z.strictObject({ term: z.literal('distance'), a: VecExprSchema, b: VecExprSchema, axes, weight: finite.default(-1) }),
  z.strictObject({ term: z.literal('progress'), a: VecExprSchema, b: VecExprSchema, axes, weight: finite.default(1).describe('reward for reducing the distance') }),
  z.strictObject({ term: z.literal('success'), weight }),
  z.strictObject({ term: z.literal('failure'), weight: finite.default(-1) }),
  z.strictObject({ term: z.literal('alive'), weight }),
  z.strictObject({ term: z.literal('action_l2'), weight: finite.default(-0.01) }),
  z.strictObject({ term: z.literal('upright'), body: bodyRef, weight }),
  z.strictObject({ term: z.literal('height'), body: bodyRef, weight }),
  z.strictObject({ term: z.literal('expr'), value: ScalarExprSchema, weight }),
]);

export const TaskSchema = z.strictObject({
  instruction: z.string().default('').describe('natural-language task string stored in datasets'),
  goal: bodyRef.optional().describe('a marker body whose position is the goal'),
  reward: z.array(RewardTermSchema).default([]),
  success: z.array(ConditionTermSchema).default([]).describe('all must hold'),
  successHoldSteps: z.number().int().min(1).max(10000).default(1),
  terminateOnSuccess: z.boolean().default(true),
  failure: z.array(ConditionTermSchema).default([]).describe('any ends the episode (terminated, not successful)'),
  timeLimit: z.number().int().min(1).max(1_000_000).default(200).describe('steps; reaching it sets truncated'),
});

const bodyRandom = { body: bodyRef.describe('a body, or the base name of a repeated body (applies to every copy)') };
export const RandomizeTermSchema = z.discriminatedUnion('term', [
  z.strictObject({
    term: z.literal('position'),
    ...bodyRandom,
    low: vec3,
    high: vec3,
    awayFrom: z.array(z.strictObject({ body: bodyRef, distance: length })).default([]).describe('rejection-sample until this far (in xy) from these bodies'),
  }),
  z.strictObject({
    term: z.literal('polar'),
    ...bodyRandom,
    center: vec3.default([0, 0, 0]),
    radius: z.tuple([nonNegative, nonNegative]).refine(([lo, hi]) => lo <= hi, { message: 'expected [low, high] with low <= high' }).describe('metres, uniform over the annulus area'),
    angle: range.default([0, 360]).describe('degrees around z from +x'),
  }).describe('xy position on an annulus around center (z = center z)'),
  z.strictObject({ term: z.literal('yaw'), ...bodyRandom, range: range.default([-180, 180]) }),
  z.strictObject({ term: z.literal('rotation'), ...bodyRandom }),
  z.strictObject({ term: z.literal('mass'), ...bodyRandom, scale: positiveRange }),
  z.strictObject({ term: z.literal('friction'), ...bodyRandom, range: z.tuple([nonNegative, nonNegative]) }),
  z.strictObject({ term: z.literal('size'), ...bodyRandom, scale: positiveRange }),
  z.strictObject({ term: z.literal('color'), ...bodyRandom, choices: z.array(ColorSchema).min(1).optional(), hue: range.optional() }),
  z.strictObject({ term: z.literal('shape'), ...bodyRandom, choices: z.array(ShapeSchema).min(1) }),
  z.strictObject({ term: z.literal('velocity'), ...bodyRandom, low: vec3, high: vec3 }),
  z.strictObject({ term: z.literal('angular_velocity'), ...bodyRandom, low: vec3, high: vec3 }),
  z.strictObject({ term: z.literal('light'), azimuth: range.default([0, 360]), elevation: range.default([30, 75]) }),
  z.strictObject({ term: z.literal('camera'), camera: z.string().min(1), position: vec3.default([0, 0, 0]), lookAt: vec3.default([0, 0, 0]).describe('uniform jitter half-widths, metres') }),
  z.strictObject({ term: z.literal('count'), body: bodyRef.describe('base name of a repeated body'), min: z.number().int().min(0), max: z.number().int().min(0) }),
]);

export const ExpertRuleSchema = z.strictObject({
  name: z.string().default(''),
  when: CondExprSchema.optional().describe('the first rule whose condition holds acts'),
  drive: z
    .strictObject({
      body: bodyRef.describe('the controlled body (an end effector)'),
      offset: vec3.default([0, 0, 0]).describe('controlled point in the body frame'),
      target: VecExprSchema,
      gain: z.number().positive().default(5).describe('1/s: commanded speed per metre of error'),
      maxSpeed: z.number().positive().optional(),
      axes,
    })
    .optional(),
  feedback: z
    .array(z.strictObject({ actuator: z.string().min(1), gains: z.record(z.string(), finite), bias: finite.default(0) }))
    .optional()
    .describe('linear state feedback: action = bias + sum(gain * observation[name])'),
  set: z.record(z.string(), finite).optional().describe('fixed values for named actuators'),
});

export const ExpertSchema = z.strictObject({
  rules: z.array(ExpertRuleSchema).min(1),
});

export const WorldSchema = z.strictObject({
  gravity: vec3.default([0, 0, -9.81]),
  timestep: z.number().positive().max(0.1).default(0.01).describe('physics step, seconds'),
  substeps: z.number().int().min(1).max(100).default(5).describe('physics steps per environment step'),
});

export const EnvConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  id: z.string().regex(/^[A-Z][A-Za-z0-9]*(-[A-Za-z0-9]+)*-v[0-9]+$/, 'an id of the form Name-vN, e.g. PushCube-v1'),
  extends: z.string().optional().describe('id or relative path of the environment this one overrides'),
  description: z.string().default(''),
  world: WorldSchema.default(WorldSchema.parse({})),
  bodies: z.array(BodySchema).min(1),
  joints: z.array(JointSchema).default([]),
  actions: ActionsSchema.default({ actuators: [] }),
  observation: z.array(ObservationTermSchema).default([]),
  cameras: z.array(CameraSchema).default([]),
  light: LightSchema.default(LightSchema.parse({})),
  background: ColorSchema.default('#8fb3d9'),
  task: TaskSchema.default(TaskSchema.parse({})),
  randomize: z.array(RandomizeTermSchema).default([]),
  expert: ExpertSchema.optional(),
});

export type EnvConfig = z.output<typeof EnvConfigSchema>;
export type EnvConfigInput = z.input<typeof EnvConfigSchema>;
export type BodyConfig = z.output<typeof BodySchema>;
export type ShapeConfig = z.output<typeof ShapeSchema>;
export type JointConfig = z.output<typeof JointSchema>;
export type ActuatorConfig = z.output<typeof ActuatorSchema>;
export type ObservationTerm = z.output<typeof ObservationTermSchema>;
export type CameraConfig = z.output<typeof CameraSchema>;
export type ConditionTerm = z.output<typeof ConditionTermSchema>;
export type RewardTerm = z.output<typeof RewardTermSchema>;
export type RandomizeTerm = z.output<typeof RandomizeTermSchema>;
export type ExpertRule = z.output<typeof ExpertRuleSchema>;
export type ColorConfig = z.output<typeof ColorSchema>;
