import type { FrameSet } from './renderer.js';

/**
 * False-colour views of non-rgb channels, for humans (the `render` command's strip and reports).
 * Data files store the raw channels, never these pictures.
 */
export function depthToRgb(depth: Float32Array, out = new Uint8Array(depth.length * 3)): Uint8Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of depth) {
    if (Number.isFinite(d)) {
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
  }
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < depth.length; i++) {
    const d = depth[i]!;
    // Near is bright; background (no hit) is black.
    const v = Number.isFinite(d) ? Math.round(255 * (1 - 0.85 * ((d - lo) / span))) : 0;
    out[3 * i] = v;
    out[3 * i + 1] = v;
    out[3 * i + 2] = v;
  }
  return out;
}

/** A fixed, well-separated colour per id (golden-ratio hues); 0 is black. */
export function segmentationToRgb(seg: Uint16Array, out = new Uint8Array(seg.length * 3)): Uint8Array {
  for (let i = 0; i < seg.length; i++) {
    const id = seg[i]!;
    if (id === 0) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = 0;
      continue;
    }
    const [r, g, b] = hsv(((id * 0.618033988749895) % 1) * 360, 0.65, 0.95);
    out[3 * i] = r;
    out[3 * i + 1] = g;
    out[3 * i + 2] = b;
  }
  return out;
}

/** Middlebury-style flow picture: hue = direction, saturation = magnitude (normalised to the max). */
export function flowToRgb(flow: Float32Array, out = new Uint8Array((flow.length / 2) * 3)): Uint8Array {
  let max = 1e-6;
  for (let i = 0; i < flow.length; i += 2) max = Math.max(max, Math.hypot(flow[i]!, flow[i + 1]!));
  for (let i = 0; i < flow.length / 2; i++) {
    const u = flow[2 * i]!;
    const v = flow[2 * i + 1]!;
    const angle = ((Math.atan2(-v, u) * 180) / Math.PI + 360) % 360;
    const [r, g, b] = hsv(angle, Math.min(1, Math.hypot(u, v) / max), 1);
    out[3 * i] = r;
    out[3 * i + 1] = g;
    out[3 * i + 2] = b;
  }
  return out;
}

export function normalsToRgb(n: Float32Array, out = new Uint8Array(n.length)): Uint8Array {
  for (let i = 0; i < n.length; i++) out[i] = Math.round(((n[i]! + 1) / 2) * 255);
  return out;
}

/** The rgb plus a false-colour tile for every other channel present, side by side. */
export function frameStrip(f: FrameSet): { width: number; height: number; rgb: Uint8Array } {
  const tiles: Uint8Array[] = [];
  if (f.rgb) tiles.push(f.rgb);
  if (f.depth) tiles.push(depthToRgb(f.depth));
  if (f.segmentation) tiles.push(segmentationToRgb(f.segmentation));
  if (f.flow) tiles.push(flowToRgb(f.flow));
  if (f.normals) tiles.push(normalsToRgb(f.normals));
  const W = f.width * tiles.length;
  const H = f.height;
  const rgb = new Uint8Array(W * H * 3);
  tiles.forEach((tile, t) => {
    for (let j = 0; j < H; j++) rgb.set(tile.subarray(j * f.width * 3, (j + 1) * f.width * 3), (j * W + t * f.width) * 3);
  });
  return { width: W, height: H, rgb };
}

function hsv(h: number, s: number, v: number): [number, number, number] {
  const c = v * s;
  const hh = h / 60;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const [r, g, b] = hh < 1 ? [c, x, 0] : hh < 2 ? [x, c, 0] : hh < 3 ? [0, c, x] : hh < 4 ? [0, x, c] : hh < 5 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
