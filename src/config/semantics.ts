import type { ConfigIssue } from '../core/errors.js';
import { exprBodyRefs } from './expr.js';
import type { BodyConfig, EnvConfig } from './schema.js';
import { observationNames } from './names.js';

/**
 * Checks that zod's structural validation cannot express: references between sections, unique
 * names, kinds that must agree (a force needs a dynamic body, a motor a revolute joint, ...).
 * Pure: returns issues with JSON paths, never throws.
 */
export function expandedBodyNames(body: BodyConfig): string[] {
  return body.repeat > 1 ? Array.from({ length: body.repeat }, (_, i) => `${body.name}_${i}`) : [body.name];
}

export function semanticIssues(cfg: EnvConfig, label: (path: (string | number)[]) => string = formatPath): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: (string | number)[], expected: string, found: unknown) =>
    issues.push({ path: label(path), expected, found: typeof found === 'string' ? found : JSON.stringify(found) });

  // Bodies
  const bodyKinds = new Map<string, BodyConfig>();
  const repeatedBases = new Map<string, BodyConfig>();
  cfg.bodies.forEach((b, i) => {
    for (const n of expandedBodyNames(b)) {
      if (bodyKinds.has(n) || n === 'world') add(['bodies', i, 'name'], 'a body name used only once (and not "world")', n);
      bodyKinds.set(n, b);
    }
    if (b.repeat > 1) repeatedBases.set(b.name, b);
    if (b.shape.type === 'plane' && b.type !== 'fixed') add(['bodies', i, 'type'], 'a plane (ground) body to be "fixed"', b.type);
    if (b.shape.type === 'plane' && b.repeat > 1) add(['bodies', i, 'repeat'], 'a single ground plane', b.repeat);
  });
  const isBody = (n: string) => bodyKinds.has(n);
  const checkBody = (path: (string | number)[], n: string) => {
    if (!isBody(n)) add(path, `a body name (${[...bodyKinds.keys()].slice(0, 12).join(', ')})`, n);
  };
  const checkExpr = (path: (string | number)[], expr: unknown) => {
    for (const ref of exprBodyRefs(expr)) checkBody([...path, ...ref.path], ref.name);
  };

  // Joints
  const joints = new Map<string, EnvConfig['joints'][number]>();
  cfg.joints.forEach((j, i) => {
    if (joints.has(j.name)) add(['joints', i, 'name'], 'a joint name used only once', j.name);
    joints.set(j.name, j);
    if (j.parent !== 'world') checkBody(['joints', i, 'parent'], j.parent);
    checkBody(['joints', i, 'child'], j.child);
    if (j.parent === j.child) add(['joints', i, 'child'], 'a child different from the parent', j.child);
    const child = bodyKinds.get(j.child);
    if (child && child.type !== 'dynamic') add(['joints', i, 'child'], 'a dynamic child body', `${j.child} (${child.type})`);
    const movable = j.type === 'revolute' || j.type === 'prismatic';
    if (j.motor && !movable) add(['joints', i, 'motor'], 'motors only on revolute or prismatic joints', j.type);
    if (j.limits && !movable) add(['joints', i, 'limits'], 'limits only on revolute or prismatic joints', j.type);
    if (movable && Math.hypot(...j.axis) < 1e-9) add(['joints', i, 'axis'], 'a non-zero axis', j.axis);
    // Rapier's revolute/prismatic joints share one local axis between both bodies.
    const parentEuler = j.parent === 'world' ? [0, 0, 0] : bodyKinds.get(j.parent)?.euler;
    if (movable && child && parentEuler && child.euler.some((v, k) => Math.abs(v - (parentEuler[k] as number)) > 1e-9)) {
      add(['joints', i, 'child'], `a child body with the same euler as its parent (${JSON.stringify(parentEuler)}); rotate the shape with shapeEuler instead`, `${j.child} euler ${JSON.stringify(child.euler)}`);
    }
  });
  const checkJoint = (path: (string | number)[], n: string, movable = false) => {
    const j = joints.get(n);
    if (!j) add(path, `a joint name (${[...joints.keys()].join(', ') || 'none declared'})`, n);
    else if (movable && j.type !== 'revolute' && j.type !== 'prismatic') add(path, 'a revolute or prismatic joint', `${n} (${j.type})`);
  };

  // Actuators
  const actuators = new Map<string, EnvConfig['actions']['actuators'][number]>();
  cfg.actions.actuators.forEach((a, i) => {
    const p = ['actions', 'actuators', i];
    if (actuators.has(a.name)) add([...p, 'name'], 'an actuator name used only once', a.name);
    actuators.set(a.name, a);
    if (!(a.low < a.high)) add([...p, 'high'], `high > low (${a.low})`, a.high);
    switch (a.type) {
      case 'force':
      case 'torque':
      case 'kinematic_velocity': {
        checkBody([...p, 'body'], a.body);
        const kind = bodyKinds.get(a.body)?.type;
        const wanted = a.type === 'kinematic_velocity' ? 'kinematic' : 'dynamic';
        if (kind && kind !== wanted) add([...p, 'body'], `a ${wanted} body for a ${a.type} actuator`, `${a.body} (${kind})`);
        if (Math.hypot(...a.axis) < 1e-9) add([...p, 'axis'], 'a non-zero axis', a.axis);
        break;
      }
      case 'motor_position':
      case 'motor_velocity':
        checkJoint([...p, 'joint'], a.joint, true);
        break;
      case 'grip':
        checkBody([...p, 'body'], a.body);
        break;
    }
  });
  if (cfg.actions.discrete) {
    const n = cfg.actions.actuators.length;
    cfg.actions.discrete.forEach((choice, i) => {
      if (choice.value.length !== n) add(['actions', 'discrete', i, 'value'], `${n} values, one per actuator`, choice.value);
      choice.value.forEach((v, k) => {
        const a = cfg.actions.actuators[k];
        if (a && (v < a.low || v > a.high)) add(['actions', 'discrete', i, 'value', k], `a value within [${a.low}, ${a.high}] of actuator ${a.name}`, v);
      });
    });
  }
  const checkActuator = (path: (string | number)[], n: string, grip = false) => {
    const a = actuators.get(n);
    if (!a) add(path, `an actuator name (${[...actuators.keys()].join(', ') || 'none declared'})`, n);
    else if (grip && a.type !== 'grip') add(path, 'a grip actuator', `${n} (${a.type})`);
  };

  // Task
  if (cfg.task.goal !== undefined) checkBody(['task', 'goal'], cfg.task.goal);
  const checkCondition = (path: (string | number)[], c: unknown) => {
    walkCond(c, path, (kind, value, p) => {
      if (kind === 'gripping') checkActuator(p, value as string, true);
    });
  };

  // Observations
  cfg.observation.forEach((t, i) => {
    const p = ['observation', i];
    switch (t.term) {
      case 'position':
      case 'orientation':
      case 'linear_velocity':
      case 'angular_velocity':
        if (!repeatedBases.has(t.body)) checkBody([...p, 'body'], t.body);
        break;
      case 'joint_angle':
      case 'joint_velocity':
        checkJoint([...p, 'joint'], t.joint, true);
        break;
      case 'relative_position':
        checkBody([...p, 'from'], t.from);
        checkBody([...p, 'to'], t.to);
        break;
      case 'goal':
        if (cfg.task.goal === undefined) add([...p, 'term'], 'task.goal to be set for a goal observation', 'no task.goal');
        break;
      case 'grip':
        checkActuator([...p, 'actuator'], t.actuator, true);
        break;
    }
  });
  const obsNames = new Set<string>();
  for (const n of observationNames(cfg)) {
    if (obsNames.has(n)) add(['observation'], 'each observation dimension once', `${n} twice`);
    obsNames.add(n);
  }
  const checkObsRefs = (path: (string | number)[], expr: unknown) => {
    walkCond(expr, path, (kind, value, p) => {
      if (kind === 'obs' && !obsNames.has(value as string)) add(p, `an observation name (${[...obsNames].slice(0, 12).join(', ')}${obsNames.size > 12 ? ', ...' : ''})`, value);
    });
  };

  const checkTerms = (section: 'success' | 'failure') =>
    cfg.task[section].forEach((t, i) => {
      const p = ['task', section, i];
      switch (t.term) {
        case 'within':
          checkExpr([...p, 'a'], t.a);
          checkExpr([...p, 'b'], t.b);
          break;
        case 'out_of_bounds':
          checkBody([...p, 'body'], t.body);
          if (t.low.some((v, k) => v >= (t.high[k] as number))) add([...p, 'high'], 'high above low on every axis', t.high);
          break;
        case 'fallen':
        case 'resting':
          checkBody([...p, 'body'], t.body);
          break;
        case 'joint_outside':
          checkJoint([...p, 'joint'], t.joint, true);
          break;
        case 'condition':
          checkExpr([...p, 'when'], t.when);
          checkCondition([...p, 'when'], t.when);
          checkObsRefs([...p, 'when'], t.when);
          break;
        case 'survive':
          if (section === 'failure') add([...p, 'term'], 'survive only as a success term', 'failure');
          break;
      }
    });
  checkTerms('success');
  checkTerms('failure');
  cfg.task.reward.forEach((r, i) => {
    const p = ['task', 'reward', i];
    if (r.term === 'distance' || r.term === 'progress') {
      checkExpr([...p, 'a'], r.a);
      checkExpr([...p, 'b'], r.b);
    } else if (r.term === 'upright' || r.term === 'height') checkBody([...p, 'body'], r.body);
    else if (r.term === 'expr') {
      checkExpr([...p, 'value'], r.value);
      checkObsRefs([...p, 'value'], r.value);
    }
  });

  // Cameras
  const cameras = new Set<string>();
  cfg.cameras.forEach((c, i) => {
    if (cameras.has(c.name)) add(['cameras', i, 'name'], 'a camera name used only once', c.name);
    cameras.add(c.name);
    if (c.attach !== undefined) checkBody(['cameras', i, 'attach'], c.attach);
    const forward = [c.lookAt[0] - c.position[0], c.lookAt[1] - c.position[1], c.lookAt[2] - c.position[2]] as const;
    if (Math.hypot(...forward) < 1e-9) add(['cameras', i, 'lookAt'], 'a point different from the camera position', c.lookAt);
  });

  // Randomisation
  cfg.randomize.forEach((r, i) => {
    const p = ['randomize', i];
    if ('body' in r) {
      if (r.term === 'count') {
        const base = repeatedBases.get(r.body);
        if (!base) add([...p, 'body'], `the base name of a repeated body (${[...repeatedBases.keys()].join(', ') || 'none declared'})`, r.body);
        else if (r.min > r.max || r.max > base.repeat) add([...p, 'max'], `min <= max <= repeat (${base.repeat})`, [r.min, r.max]);
      } else if (!isBody(r.body) && !repeatedBases.has(r.body)) checkBody([...p, 'body'], r.body);
      if (r.term === 'position') {
        if (r.low.some((v, k) => v > (r.high[k] as number))) add([...p, 'high'], 'high >= low on every axis', r.high);
        r.awayFrom.forEach((a, k) => checkBody([...p, 'awayFrom', k, 'body'], a.body));
      }
      if (r.term === 'color' && (r.choices === undefined) === (r.hue === undefined)) add([...p], 'exactly one of choices or hue', 'both or neither');
    }
    if (r.term === 'camera' && !cameras.has(r.camera)) add([...p, 'camera'], `a camera name (${[...cameras].join(', ') || 'none declared'})`, r.camera);
  });

  // Expert
  cfg.expert?.rules.forEach((rule, i) => {
    const p = ['expert', 'rules', i];
    if (rule.when) {
      checkExpr([...p, 'when'], rule.when);
      checkCondition([...p, 'when'], rule.when);
      checkObsRefs([...p, 'when'], rule.when);
    }
    if (rule.drive) {
      checkBody([...p, 'drive', 'body'], rule.drive.body);
      checkExpr([...p, 'drive', 'target'], rule.drive.target);
    }
    rule.feedback?.forEach((f, k) => {
      checkActuator([...p, 'feedback', k, 'actuator'], f.actuator);
      for (const obs of Object.keys(f.gains)) if (!obsNames.has(obs)) add([...p, 'feedback', k, 'gains', obs], 'an observation name', obs);
    });
    for (const a of Object.keys(rule.set ?? {})) checkActuator([...p, 'set', a], a);
    if (!rule.drive && !rule.feedback && !rule.set) add(p, 'at least one of drive, feedback or set', 'none');
  });
  if (cfg.expert && cfg.actions.discrete) add(['expert'], 'an expert only for continuous action spaces', 'discrete actions');

  // Control rate: datasets store an integer fps.
  const fps = 1 / (cfg.world.timestep * cfg.world.substeps);
  if (Math.abs(fps - Math.round(fps)) > 1e-6) add(['world', 'substeps'], 'timestep * substeps giving a whole number of steps per second', `${fps.toFixed(4)} steps/s`);
  return issues;
}

/** Visits `{obs: ...}`, `{gripping: ...}` leaves of an expression tree. */
function walkCond(expr: unknown, path: (string | number)[], visit: (kind: string, value: unknown, path: (string | number)[]) => void): void {
  if (Array.isArray(expr)) expr.forEach((e, i) => walkCond(e, [...path, i], visit));
  else if (expr !== null && typeof expr === 'object') {
    for (const [k, v] of Object.entries(expr)) {
      if (k === 'obs' || k === 'gripping') visit(k, v, [...path, k]);
      else walkCond(v, [...path, k], visit);
    }
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
