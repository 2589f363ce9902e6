import type { ColorConfig } from '../config/schema.js';
import type { Vec3 } from '../core/math.js';

/** "#rrggbb" or [r, g, b] in [0, 1] -> [r, g, b] in [0, 1]. */
export function parseColor(c: ColorConfig): Vec3 {
  if (typeof c !== 'string') return [c[0], c[1], c[2]];
  const n = Number.parseInt(c.slice(1), 16);
  return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

/** HSV with hue in degrees. */
export function hsvToRgb(h: number, s: number, v: number): Vec3 {
  const hh = (((h % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const table: Vec3[] = [
    [c, x, 0],
    [x, c, 0],
    [0, c, x],
    [0, x, c],
    [x, 0, c],
    [c, 0, x],
  ];
  const [r, g, b] = table[Math.min(5, Math.floor(hh))] as Vec3;
  return [r + m, g + m, b + m];
}
