import { z } from 'zod';

/**
 * A tiny declarative expression language for experts, rewards and conditions: JSON trees, never
 * strings to evaluate. Vectors name body positions, scalars combine them, conditions compare scalars.
 *   vector:    "cube" | [x, y, z] | {add: [v, ...]} | {sub: [v, v]} | {scale: [v, s]} | {unit: v}
 *              | {planar: v} | {perp: v} | {point: {body, offset}} | {velocity: "body"}
 *   scalar:    1.5 | {dot: [v, v]} | {norm: v} | {distance: [v, v]} | {x|y|z: v} | {obs: "name"}
 *              | {sum: [s, ...]} | {mul: [s, ...]} | {sign: s} | {clamp: [s, low, high]}
 *   condition: {lt: [s, s]} | {gt: [s, s]} | {and: [c, ...]} | {or: [c, ...]} | {not: c}
 *              | {success: true} | {gripping: "actuator"} | {after: steps}
 */
/** Bounded like the rest of the schema (see MAX_MAGNITUDE in schema.ts): larger constants overflow float32. */
const finite = z.number().min(-1e6).max(1e6);

export type VecExpr =
  | string
  | [number, number, number]
  | { add: VecExpr[] }
  | { sub: [VecExpr, VecExpr] }
  | { scale: [VecExpr, ScalarExpr] }
  | { unit: VecExpr }
  | { planar: VecExpr }
  | { perp: VecExpr }
  | { point: { body: string; offset: [number, number, number] } }
  | { velocity: string };

export type ScalarExpr =
  | number
  | { dot: [VecExpr, VecExpr] }
  | { norm: VecExpr }
  | { distance: [VecExpr, VecExpr] }
  | { x: VecExpr }
  | { y: VecExpr }
  | { z: VecExpr }
  | { obs: string }
  | { sum: ScalarExpr[] }
  | { mul: ScalarExpr[] }
  | { sign: ScalarExpr }
  | { clamp: [ScalarExpr, number, number] };

export type CondExpr =
  | { lt: [ScalarExpr, ScalarExpr] }
  | { gt: [ScalarExpr, ScalarExpr] }
  | { and: CondExpr[] }
  | { or: CondExpr[] }
  | { not: CondExpr }
  | { success: true }
  | { gripping: string }
  | { after: number };

export const bodyRef = z.string().min(1).describe('name of a body');
const vec3Const = z.tuple([finite, finite, finite]);

export const VecExprSchema: z.ZodType<VecExpr> = z.lazy(() =>
  z.union([
    bodyRef,
    vec3Const,
    z.strictObject({ add: z.array(VecExprSchema).min(1) }),
    z.strictObject({ sub: z.tuple([VecExprSchema, VecExprSchema]) }),
    z.strictObject({ scale: z.tuple([VecExprSchema, ScalarExprSchema]) }),
    z.strictObject({ unit: VecExprSchema }),
    z.strictObject({ planar: VecExprSchema }),
    z.strictObject({ perp: VecExprSchema }),
    z.strictObject({ point: z.strictObject({ body: bodyRef, offset: vec3Const.default([0, 0, 0]) }) }),
    z.strictObject({ velocity: bodyRef }),
  ]),
) as z.ZodType<VecExpr>;

export const ScalarExprSchema: z.ZodType<ScalarExpr> = z.lazy(() =>
  z.union([
    finite,
    z.strictObject({ dot: z.tuple([VecExprSchema, VecExprSchema]) }),
    z.strictObject({ norm: VecExprSchema }),
    z.strictObject({ distance: z.tuple([VecExprSchema, VecExprSchema]) }),
    z.strictObject({ x: VecExprSchema }),
    z.strictObject({ y: VecExprSchema }),
    z.strictObject({ z: VecExprSchema }),
    z.strictObject({ obs: z.string().min(1) }),
    z.strictObject({ sum: z.array(ScalarExprSchema).min(1) }),
    z.strictObject({ mul: z.array(ScalarExprSchema).min(1) }),
    z.strictObject({ sign: ScalarExprSchema }),
    z.strictObject({ clamp: z.tuple([ScalarExprSchema, finite, finite]) }),
  ]),
) as z.ZodType<ScalarExpr>;

export const CondExprSchema: z.ZodType<CondExpr> = z.lazy(() =>
  z.union([
    z.strictObject({ lt: z.tuple([ScalarExprSchema, ScalarExprSchema]) }),
    z.strictObject({ gt: z.tuple([ScalarExprSchema, ScalarExprSchema]) }),
    z.strictObject({ and: z.array(CondExprSchema).min(1) }),
    z.strictObject({ or: z.array(CondExprSchema).min(1) }),
    z.strictObject({ not: CondExprSchema }),
    z.strictObject({ success: z.literal(true) }),
    z.strictObject({ gripping: z.string().min(1) }),
    z.strictObject({ after: z.number().int().min(0) }),
  ]),
) as z.ZodType<CondExpr>;

/** Every body name an expression mentions (for reference checking), with its path inside the expression. */
export function exprBodyRefs(expr: unknown, path: (string | number)[] = []): { name: string; path: (string | number)[] }[] {
  if (typeof expr === 'string') return [{ name: expr, path }];
  if (Array.isArray(expr)) return expr.flatMap((e, i) => (typeof e === 'number' ? [] : exprBodyRefs(e, [...path, i])));
  if (expr === null || typeof expr !== 'object') return [];
  const out: { name: string; path: (string | number)[] }[] = [];
  for (const [key, value] of Object.entries(expr)) {
    if (key === 'obs' || key === 'gripping' || key === 'success' || key === 'after') continue;
    if (key === 'point' && value && typeof value === 'object') out.push({ name: (value as { body: string }).body, path: [...path, key, 'body'] });
    else out.push(...exprBodyRefs(value, [...path, key]));
  }
  return out;
}
