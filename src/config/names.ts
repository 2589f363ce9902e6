import type { EnvConfig, ObservationTerm } from './schema.js';

/** Dimension names of one observation term, e.g. `cube.x`, `shoulder.sin`, `cube_to_goal.y`. */
export function termNames(t: ObservationTerm, goal: string | undefined): string[] {
  const ax = (prefix: string, axes: string) => [...axes].map((a) => `${prefix}${a}`);
  switch (t.term) {
    case 'position':
      return ax(`${t.body}.`, t.axes);
    case 'orientation':
      return ['qw', 'qx', 'qy', 'qz'].map((q) => `${t.body}.${q}`);
    case 'linear_velocity':
      return ax(`${t.body}.v`, t.axes);
    case 'angular_velocity':
      return ax(`${t.body}.w`, t.axes);
    case 'joint_angle':
      return t.encoding === 'sincos' ? [`${t.joint}.sin`, `${t.joint}.cos`] : [`${t.joint}.angle`];
    case 'joint_velocity':
      return [`${t.joint}.velocity`];
    case 'relative_position':
      return ax(`${t.from}_to_${t.to}.`, t.axes);
    case 'goal':
      return ax(`goal${goal ? '' : ''}.`, t.axes);
    case 'grip':
      return [`${t.actuator}.attached`];
  }
}

/** Observation terms with repeated-body base names expanded into one term per copy. */
export function expandedObservationTerms(cfg: Pick<EnvConfig, 'observation' | 'bodies'>): ObservationTerm[] {
  const repeats = new Map(cfg.bodies.filter((b) => b.repeat > 1).map((b) => [b.name, b.repeat]));
  return cfg.observation.flatMap((t) => {
    const n = 'body' in t ? repeats.get(t.body) : undefined;
    return n === undefined ? [t] : Array.from({ length: n }, (_, i) => ({ ...t, body: `${(t as { body: string }).body}_${i}` }) as ObservationTerm);
  });
}

export function observationNames(cfg: Pick<EnvConfig, 'observation' | 'task' | 'bodies'>): string[] {
  return expandedObservationTerms(cfg).flatMap((t) => termNames(t, cfg.task.goal));
}
