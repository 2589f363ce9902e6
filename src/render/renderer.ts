import { TrajforgeError } from '../core/errors.js';
import type { CameraSnapshot, SceneSnapshot } from '../core/scene.js';
import { cameraModel, type CameraModel } from './camera.js';
import { BOX, CAPSULE, CYLINDER, PLANE, SPHERE, capsuleHit, cylinderHit, intersectLocal, localNormal } from './intersect.js';
import { MAX_POLYGON_VERTICES, maskPolygon, rasterPolygon, type ZTarget } from './raster.js';

export const CHANNELS = ['rgb', 'depth', 'segmentation', 'flow', 'normals'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * One camera's frames. Arrays are row-major, top row first.
 * - rgb: uint8 HxWx3
 * - depth: float32 HxW, z-depth in metres along the optical axis; +Infinity where nothing is hit
 * - segmentation: uint16 HxW body ids (the episode's body ids; 0 = background)
 * - flow: float32 HxWx2 forward optical flow (du, dv) in pixels to the next step; 0 without a next snapshot
 * - normals: float32 HxWx3 world-space unit normals; 0 on background
 * The arrays belong to the renderer and are overwritten by its next render() call: copy what you keep.
 */
export interface FrameSet {
  width: number;
  height: number;
  rgb?: Uint8Array;
  depth?: Float32Array;
  segmentation?: Uint16Array;
  flow?: Float32Array;
  normals?: Float32Array;
}

export interface RendererOptions {
  /** Supersampling factor for rgb anti-aliasing (1 = off). Costs about factor^2 in rgb time. */
  supersample?: number;
}

const NEAR = 1e-3;
/** Shadow grid resolution (cells per side) for culling shadow casters. */
const GRID = 24;

/**
 * A CPU ray-casting renderer for scenes of analytic primitives. Visibility is computed per
 * primitive over its projected screen bounding box (so cost follows covered area, not pixels x
 * primitives); hard shadows are exact shadow rays, culled through a grid in the light's frame.
 * Each instance owns its buffers and holds no global state, so one renderer per worker thread.
 */
export class Renderer {
  private readonly supersample: number;
  // Packed primitives of the current scene.
  private n = 0;
  private kind = new Int8Array(0);
  private pos = new Float64Array(0);
  private rot = new Float64Array(0);
  private size = new Float64Array(0);
  private color = new Float64Array(0);
  private radius = new Float64Array(0);
  private ids = new Uint16Array(0);
  // Per-pixel visibility.
  /** z-depth per pixel (+Infinity where nothing is hit): also the depth channel's storage. */
  private tBuf = new Float32Array(0);
  private primBuf = new Int16Array(0);
  /** Which face of a box (axis * 2 + (positive ? 1 : 0)) or plane (0) a pixel sees; -1 for curved shapes. */
  private faceBuf = new Int8Array(0);
  private readonly scratch = new Float64Array(5 * MAX_POLYGON_VERTICES);
  private readonly polyX = new Float64Array(4);
  private readonly polyY = new Float64Array(4);
  private readonly polyZ = new Float64Array(4);
  private readonly axesCam = new Float64Array(12);
  // Outputs.
  private rgb = new Uint8Array(0);
  private rgbHi = new Uint8Array(0);
  private seg = new Uint16Array(0);
  private flow = new Float32Array(0);
  private normals = new Float32Array(0);
  // Shadow grid.
  private gridStart = new Int32Array(GRID * GRID + 1);
  private gridItems = new Int32Array(0);
  private casterBox = new Float64Array(0);
  private readonly rayBuf = new Float64Array(8);
  private lastCaster = -1;
  private readonly hitBuf = new Float64Array(6);
  private faceN = new Float64Array(0);
  /** Ground pixels in the shadow of a box, found by rasterising the shadow outline (see planeShadows). */
  private shadowMask = new Uint8Array(0);
  /** Casters whose shadow on `maskReceiver` is already in shadowMask. */
  private masked = new Uint8Array(0);
  private maskReceiver = -1;
  /** Per-face colour table of shadeFlat: 6 faces x 2 checker tones x (lit rgb, shadowed rgb, lit?). */
  private readonly faceLut = new Uint8Array(6 * 24);
  private gridMin = [0, 0];
  private gridCell = [1, 1];
  private readonly e1 = new Float64Array(3);
  private readonly e2 = new Float64Array(3);
  private readonly tmpN = new Float64Array(3);
  /** Per camera view (name and resolution): what stays still between its frames (see StillCache). */
  private readonly stills = new Map<string, StillCache>();
  /** The view being rendered, set by visibility(). */
  private still: StillCache | null = null;
  private readonly planeKey = new Float64Array(PLANE_KEY);
  /** This frame's key: the camera, then each primitive (CAMERA_KEY + PRIM_KEY * n numbers). */
  private frameKey = new Float64Array(0);

  constructor(opts: RendererOptions = {}) {
    const s = opts.supersample ?? 1;
    if (!Number.isInteger(s) || s < 1 || s > 4) throw new TrajforgeError('E_USAGE', `supersample must be 1, 2, 3 or 4, got ${s}`);
    this.supersample = s;
  }

  /**
   * Renders the requested channels of `camera` (a name or a camera snapshot) in `scene`. `next` is
   * the scene one step later, needed for flow.
   */
  render(scene: SceneSnapshot, camera: string | CameraSnapshot, channels: readonly Channel[], next?: SceneSnapshot): FrameSet {
    const cam = typeof camera === 'string' ? findCamera(scene, camera) : camera;
    for (const c of channels) if (!CHANNELS.includes(c)) throw new TrajforgeError('E_USAGE', `unknown channel '${String(c)}' (known: ${CHANNELS.join(', ')})`);
    const { width: W, height: H } = cam;
    if (!(W >= 1 && H >= 1 && W <= 8192 && H <= 8192)) throw new TrajforgeError('E_USAGE', `camera ${cam.name}: bad resolution ${W}x${H}`);
    this.pack(scene);
    const light = scene.light;
    const wantRgb = channels.includes('rgb');
    const wantDepth = channels.includes('depth');
    const wantSeg = channels.includes('segmentation');
    const wantFlow = channels.includes('flow');
    const wantNormals = channels.includes('normals');
    // Every key present from the start: one object shape whatever the channels (keeps V8 monomorphic).
    const out: FrameSet = { width: W, height: H, rgb: undefined, depth: undefined, segmentation: undefined, flow: undefined, normals: undefined };
    const s = this.supersample;
    const needsBase = wantDepth || wantSeg || wantFlow || wantNormals || (wantRgb && s === 1);
    if (wantRgb && s > 1) {
      const hi: CameraSnapshot = { ...cam, width: W * s, height: H * s };
      const m = cameraModel(hi);
      this.visibility(m, cam.name);
      this.rgbHi = ensure(this.rgbHi, W * s * H * s * 3, Uint8Array);
      this.shade(m, scene, light.direction, this.rgbHi);
      this.rgb = ensure(this.rgb, W * H * 3, Uint8Array);
      downsample(this.rgbHi, this.rgb, W, H, s);
      out.rgb = new Uint8Array(this.rgb.buffer, 0, W * H * 3);
    }
    if (!needsBase) return out;
    const m = cameraModel(cam);
    this.visibility(m, cam.name);
    const n = W * H;
    if (wantRgb && s === 1) {
      this.rgb = ensure(this.rgb, n * 3, Uint8Array);
      this.shade(m, scene, light.direction, this.rgb);
      out.rgb = new Uint8Array(this.rgb.buffer, 0, n * 3);
    }
    if (wantDepth) out.depth = this.tBuf.subarray(0, n);
    if (wantSeg) out.segmentation = this.writeSegmentation(n);
    if (wantNormals) {
      this.normals = ensure(this.normals, n * 3, Float32Array);
      this.writeNormals(m);
      out.normals = this.normals.subarray(0, n * 3);
    }
    if (wantFlow) {
      this.flow = ensure(this.flow, n * 2, Float32Array);
      this.writeFlow(m, scene, cam.name, next);
      out.flow = this.flow.subarray(0, n * 2);
    }
    return out;
  }

  private writeSegmentation(n: number): Uint16Array {
    this.seg = ensure(this.seg, n, Uint16Array);
    const seg = this.seg;
    const primBuf = this.primBuf;
    const ids = this.ids;
    for (let i = 0; i < n; i++) {
      const k = primBuf[i]!;
      seg[i] = k >= 0 ? ids[k]! : 0;
    }
    return seg.subarray(0, n);
  }

  // ---- scene packing ---------------------------------------------------------------------

  private pack(scene: SceneSnapshot): void {
    const n = scene.primitives.length;
    if (n > 32767) throw new TrajforgeError('E_USAGE', `too many primitives (${n})`);
    if (this.kind.length < n) {
      this.kind = new Int8Array(n);
      this.pos = new Float64Array(3 * n);
      this.rot = new Float64Array(9 * n);
      this.size = new Float64Array(3 * n);
      this.color = new Float64Array(3 * n);
      this.radius = new Float64Array(n);
      this.ids = new Uint16Array(n);
    }
    this.n = n;
    for (let k = 0; k < n; k++) {
      const p = scene.primitives[k]!;
      const sh = p.shape;
      let kind: number;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let r: number;
      switch (sh.type) {
        case 'sphere':
          kind = SPHERE;
          s0 = sh.radius;
          r = sh.radius;
          break;
        case 'box':
          kind = BOX;
          [s0, s1, s2] = sh.halfExtents;
          r = Math.hypot(s0, s1, s2);
          break;
        case 'capsule':
          kind = CAPSULE;
          s0 = sh.radius;
          s1 = sh.halfHeight;
          r = sh.radius + sh.halfHeight;
          break;
        case 'cylinder':
          kind = CYLINDER;
          s0 = sh.radius;
          s1 = sh.halfHeight;
          r = Math.hypot(sh.radius, sh.halfHeight);
          break;
        case 'plane':
          kind = PLANE;
          [s0, s1] = sh.halfExtents;
          s2 = sh.checker;
          r = Math.hypot(s0, s1);
          break;
      }
      this.kind[k] = kind;
      this.size[3 * k] = s0;
      this.size[3 * k + 1] = s1;
      this.size[3 * k + 2] = s2;
      this.radius[k] = r;
      this.ids[k] = p.id;
      this.pos.set(p.position, 3 * k);
      this.color.set(p.color, 3 * k);
      quatToMatrix(p.quaternion, this.rot, 9 * k);
    }
  }

  // ---- visibility ------------------------------------------------------------------------

  /** Nearest hit per pixel: tBuf (z-depth) and primBuf (primitive index, -1 = none). */
  private visibility(m: CameraModel, view: string): void {
    const W = m.width;
    const n = W * m.height;
    this.tBuf = ensure(this.tBuf, n, Float32Array);
    this.primBuf = ensure(this.primBuf, n, Int16Array);
    this.faceBuf = ensure(this.faceBuf, n, Int8Array);
    const tBuf = this.tBuf;
    const primBuf = this.primBuf;
    const key = this.writeFrameKey(m);
    const still = this.stillFor(m, view);
    // Primitives drawn on an empty frame always give the same buffers: when the first ones (the
    // ground, a table) and the camera are as in the saved prefix, its buffers are copied instead.
    let start = 0;
    if (still.count > 0 && still.count <= this.n && sameNumbers(key, still.key, 0, CAMERA_KEY + PRIM_KEY * still.count)) {
      tBuf.set(still.t);
      primBuf.set(still.prim);
      this.faceBuf.set(still.face);
      start = still.count;
    } else {
      tBuf.fill(Infinity, 0, n);
      primBuf.fill(-1, 0, n);
    }
    // Otherwise the leading primitives that have not moved since this view's previous frame are
    // saved as the new prefix, once they are drawn.
    let unmoved = 0;
    if (start === 0 && sameNumbers(key, still.prev, 0, CAMERA_KEY)) {
      while (unmoved < this.n && unmoved < still.prevCount && sameNumbers(key, still.prev, CAMERA_KEY + PRIM_KEY * unmoved, CAMERA_KEY + PRIM_KEY * (unmoved + 1))) unmoved++;
    }
    const saveAt = unmoved > 0 ? unmoved : -1;
    still.prev = copyNumbers(key, still.prev, CAMERA_KEY + PRIM_KEY * this.n);
    still.prevCount = this.n;
    const target: ZTarget = { width: W, height: m.height, fx: m.fx, fy: m.fy, cx: m.cx, cy: m.cy, tBuf, primBuf, faceBuf: this.faceBuf, scratch: this.scratch };
    const [cx0, cy0, cz0] = m.position;
    const [fx, fy, fz] = m.forward;
    const [rx, ry, rz] = m.right;
    const [ux, uy, uz] = m.up;
    const rot = this.rot;
    const size = this.size;
    const invFx = 1 / m.fx;
    const invFy = 1 / m.fy;
    for (let k = start; k < this.n; k++) {
      if (k === saveAt) this.savePrefix(still, k, n);
      const kind = this.kind[k]!;
      const px = this.pos[3 * k]!;
      const py = this.pos[3 * k + 1]!;
      const pz = this.pos[3 * k + 2]!;
      if (kind === PLANE || kind === BOX) {
        this.rasterize(m, target, k);
        continue;
      }
      const b = bbox(m, px, py, pz, this.radius[k]!);
      if (b === null) continue;
      const i0 = b[0], i1 = b[1], j0 = b[2], j1 = b[3];
      const o = 9 * k;
      // Local frame: columns of R are the local axes; local = R^T * world.
      const a0 = rot[o]!, a1 = rot[o + 3]!, a2 = rot[o + 6]!;
      const b0 = rot[o + 1]!, b1 = rot[o + 4]!, b2 = rot[o + 7]!;
      const c0 = rot[o + 2]!, c1 = rot[o + 5]!, c2 = rot[o + 8]!;
      const dx0 = cx0 - px, dy0 = cy0 - py, dz0 = cz0 - pz;
      const ox = a0 * dx0 + a1 * dy0 + a2 * dz0;
      const oy = b0 * dx0 + b1 * dy0 + b2 * dz0;
      const oz = c0 * dx0 + c1 * dy0 + c2 * dz0;
      const fLx = a0 * fx + a1 * fy + a2 * fz, fLy = b0 * fx + b1 * fy + b2 * fz, fLz = c0 * fx + c1 * fy + c2 * fz;
      const rLx = a0 * rx + a1 * ry + a2 * rz, rLy = b0 * rx + b1 * ry + b2 * rz, rLz = c0 * rx + c1 * ry + c2 * rz;
      const uLx = a0 * ux + a1 * uy + a2 * uz, uLy = b0 * ux + b1 * uy + b2 * uz, uLz = c0 * ux + c1 * uy + c2 * uz;
      const s0 = size[3 * k]!, s1 = size[3 * k + 1]!, s2 = size[3 * k + 2]!;
      const aStart = (i0 + 0.5 - m.cx) * invFx;
      for (let j = j0; j <= j1; j++) {
        const bj = (j + 0.5 - m.cy) * invFy;
        // Ray direction of pixel (i, j) in the local frame: row + ai * rL, linear in ai.
        const rowX = fLx - bj * uLx, rowY = fLy - bj * uLy, rowZ = fLz - bj * uLz;
        let idx = j * W + i0;
        let ai = aStart;
        if (kind === SPHERE) {
          const r2 = s0 * s0;
          const c = ox * ox + oy * oy + oz * oz - r2;
          for (let i = i0; i <= i1; i++, idx++, ai += invFx) {
            const dx = rowX + ai * rLx, dy = rowY + ai * rLy, dz = rowZ + ai * rLz;
            const a = dx * dx + dy * dy + dz * dz;
            const bb = ox * dx + oy * dy + oz * dz;
            const disc = bb * bb - a * c;
            if (disc < 0) continue;
            const t = (-bb - Math.sqrt(disc)) / a;
            if (t > NEAR && t < tBuf[idx]!) {
              tBuf[idx] = t;
              primBuf[idx] = k;
            }
          }
        } else if (kind === CYLINDER) {
          for (let i = i0; i <= i1; i++, idx++, ai += invFx) {
            const t = cylinderHit(s0, s1, ox, oy, oz, rowX + ai * rLx, rowY + ai * rLy, rowZ + ai * rLz, NEAR);
            if (t < tBuf[idx]!) {
              tBuf[idx] = t;
              primBuf[idx] = k;
            }
          }
        } else if (kind === CAPSULE) {
          for (let i = i0; i <= i1; i++, idx++, ai += invFx) {
            const t = capsuleHit(s0, s1, ox, oy, oz, rowX + ai * rLx, rowY + ai * rLy, rowZ + ai * rLz, NEAR);
            if (t < tBuf[idx]!) {
              tBuf[idx] = t;
              primBuf[idx] = k;
            }
          }
        } else {
          for (let i = i0; i <= i1; i++, idx++, ai += invFx) {
            const t = intersectLocal(kind, s0, s1, s2, ox, oy, oz, rowX + ai * rLx, rowY + ai * rLy, rowZ + ai * rLz, NEAR);
            if (t < tBuf[idx]!) {
              tBuf[idx] = t;
              primBuf[idx] = k;
            }
          }
        }
      }
    }
    if (saveAt === this.n) this.savePrefix(still, this.n, n);
  }

  /** This view's cache, made on its first frame; it becomes the one shading uses. */
  private stillFor(m: CameraModel, view: string): StillCache {
    const name = `${m.width}x${m.height} ${view}`;
    let still = this.stills.get(name);
    if (!still) {
      // A renderer shown ever new cameras keeps the views of the last few only.
      if (this.stills.size >= MAX_VIEWS) this.stills.clear();
      still = { prev: new Float64Array(0), prevCount: 0, count: 0, key: new Float64Array(0), t: new Float32Array(0), prim: new Int16Array(0), face: new Int8Array(0), planes: new Map() };
      this.stills.set(name, still);
    }
    this.still = still;
    return still;
  }

  /** Keeps the buffers as they are now, after the first `count` primitives, as the view's prefix. */
  private savePrefix(still: StillCache, count: number, pixels: number): void {
    still.count = count;
    still.key = copyNumbers(this.frameKey, still.key, CAMERA_KEY + PRIM_KEY * count);
    still.t = this.tBuf.slice(0, pixels);
    still.prim = this.primBuf.slice(0, pixels);
    still.face = this.faceBuf.slice(0, pixels);
  }

  /** The numbers that decide what each pixel sees: the camera's pose and intrinsics, each primitive's kind, pose and size. */
  private writeFrameKey(m: CameraModel): Float64Array {
    const key = (this.frameKey = ensure(this.frameKey, CAMERA_KEY + PRIM_KEY * this.n, Float64Array));
    key.set(m.position, 0);
    key.set(m.right, 3);
    key.set(m.up, 6);
    key.set(m.forward, 9);
    key[12] = m.fx;
    key[13] = m.fy;
    key[14] = m.cx;
    key[15] = m.cy;
    for (let k = 0; k < this.n; k++) {
      const o = CAMERA_KEY + PRIM_KEY * k;
      key[o] = this.kind[k]!;
      key.set(this.pos.subarray(3 * k, 3 * k + 3), o + 1);
      key.set(this.rot.subarray(9 * k, 9 * k + 9), o + 4);
      key.set(this.size.subarray(3 * k, 3 * k + 3), o + 13);
      key[o + 16] = this.radius[k]!;
    }
    return key;
  }

  /** Scan-converts the camera-facing faces of box k (or the quad of plane k). */
  private rasterize(m: CameraModel, target: ZTarget, k: number): void {
    const rot = this.rot;
    const o = 9 * k;
    const k3 = 3 * k;
    const px = this.pos[k3]! - m.position[0], py = this.pos[k3 + 1]! - m.position[1], pz = this.pos[k3 + 2]! - m.position[2];
    // Primitive centre and local axes, in camera space (x right, y up, z forward).
    const [rx, ry, rz] = m.right;
    const [ux, uy, uz] = m.up;
    const [fx, fy, fz] = m.forward;
    const toCam = (x: number, y: number, z: number, out: Float64Array, i: number) => {
      out[i] = x * rx + y * ry + z * rz;
      out[i + 1] = x * ux + y * uy + z * uz;
      out[i + 2] = x * fx + y * fy + z * fz;
    };
    const axes = this.axesCam;
    toCam(px, py, pz, axes, 9);
    for (let a = 0; a < 3; a++) toCam(rot[o + a]!, rot[o + 3 + a]!, rot[o + 6 + a]!, axes, 3 * a);
    const cxc = axes[9]!, cyc = axes[10]!, czc = axes[11]!;
    const kind = this.kind[k]!;
    const faces = kind === PLANE ? 1 : 6;
    const X = this.polyX, Y = this.polyY, Z = this.polyZ;
    for (let f = 0; f < faces; f++) {
      // Face f: normal axis a with sign; the two other axes span it.
      const a = kind === PLANE ? 2 : f >> 1;
      const sgn = kind === PLANE ? 1 : f & 1 ? 1 : -1;
      const b = (a + 1) % 3;
      const c = (a + 2) % 3;
      const ha = kind === PLANE ? 0 : this.size[k3 + a]!;
      const hb = this.size[k3 + b]!;
      const hc = this.size[k3 + c]!;
      const nx = sgn * axes[3 * a]!, ny = sgn * axes[3 * a + 1]!, nz = sgn * axes[3 * a + 2]!;
      const fcx = cxc + nx * ha, fcy = cyc + ny * ha, fcz = czc + nz * ha;
      const d = nx * fcx + ny * fcy + nz * fcz;
      // Back faces of a box are hidden by its front faces; planes are two-sided.
      if (kind === BOX && d >= 0) continue;
      const bx = axes[3 * b]! * hb, by = axes[3 * b + 1]! * hb, bz = axes[3 * b + 2]! * hb;
      const qx = axes[3 * c]! * hc, qy = axes[3 * c + 1]! * hc, qz = axes[3 * c + 2]! * hc;
      X[0] = fcx - bx - qx; Y[0] = fcy - by - qy; Z[0] = fcz - bz - qz;
      X[1] = fcx + bx - qx; Y[1] = fcy + by - qy; Z[1] = fcz + bz - qz;
      X[2] = fcx + bx + qx; Y[2] = fcy + by + qy; Z[2] = fcz + bz + qz;
      X[3] = fcx - bx + qx; Y[3] = fcy - by + qy; Z[3] = fcz - bz + qz;
      rasterPolygon(target, X, Y, Z, 4, nx, ny, nz, d, NEAR, k, kind === PLANE ? 0 : f);
    }
  }

  // ---- shading -----------------------------------------------------------------------------

  /**
   * Lambert + ambient shading with hard shadows. Runs per primitive over its screen box so that
   * the primitive's pose, colour and face normals sit in locals rather than being re-read per pixel.
   */
  private shade(m: CameraModel, scene: SceneSnapshot, lightDir: readonly number[], rgb: Uint8Array): void {
    const W = m.width;
    const H = m.height;
    const light = scene.light;
    let lx = lightDir[0]!, ly = lightDir[1]!, lz = lightDir[2]!;
    const ln = Math.hypot(lx, ly, lz) || 1;
    lx /= ln;
    ly /= ln;
    lz /= ln;
    const shadows = light.shadows;
    if (shadows) this.buildShadowGrid(lx, ly, lz);
    else this.gridCell = [Infinity, Infinity];
    this.lastCaster = -1;
    const ray = this.rayBuf;
    ray[3] = lx;
    ray[4] = ly;
    ray[5] = lz;
    const ambient = light.ambient;
    const intensity = light.intensity;
    const primBuf = this.primBuf;
    const bg0 = to8(scene.background[0] * 255), bg1 = to8(scene.background[1] * 255), bg2 = to8(scene.background[2] * 255);
    for (let idx = 0, n = W * H; idx < n; idx++) {
      if (primBuf[idx]! < 0) {
        rgb[3 * idx] = bg0;
        rgb[3 * idx + 1] = bg1;
        rgb[3 * idx + 2] = bg2;
      }
    }
    const faceN = this.faceNormals(m);
    const e1x = this.e1[0]!, e1y = this.e1[1]!, e1z = this.e1[2]!;
    const e2x = this.e2[0]!, e2y = this.e2[1]!, e2z = this.e2[2]!;
    const gMinA = this.gridMin[0]!, gMinB = this.gridMin[1]!;
    const gInvA = 1 / this.gridCell[0]!, gInvB = 1 / this.gridCell[1]!;
    const grid: ShadowGridView = { e1x, e1y, e1z, e2x, e2y, e2z, gMinA, gMinB, gInvA, gInvB, shadows };
    this.maskReceiver = -1;
    if (shadows) this.planeShadows(m, lx, ly, lz);
    const light3 = { lx, ly, lz, ambient, intensity };
    for (let k = 0; k < this.n; k++) {
      const kind = this.kind[k]!;
      const b = kind === PLANE ? ([0, W - 1, 0, H - 1] as const) : bbox(m, this.pos[3 * k]!, this.pos[3 * k + 1]!, this.pos[3 * k + 2]!, this.radius[k]!);
      if (b === null) continue;
      if (kind === BOX || kind === PLANE) this.shadeFlat(m, k, b, faceN, grid, light3, rgb);
      else this.shadeRound(m, k, b, grid, light3, rgb);
    }
  }

  /**
   * Shadows of boxes on the ground, exactly and without shadow rays: a convex box casts, on a
   * plane, the convex hull of its corners projected along the light. Each outline is
   * scan-converted into shadowMask over the ground's pixels; the ground then skips those casters
   * in its shadow queries. Boxes that dip below the plane keep the ray test.
   */
  private planeShadows(m: CameraModel, lx: number, ly: number, lz: number): void {
    const plane = this.kind.indexOf(PLANE);
    if (plane < 0 || plane >= this.n) return;
    const W = m.width;
    const n = W * m.height;
    const rot = this.rot;
    const o = 9 * plane;
    const nx = rot[o + 2]!, ny = rot[o + 5]!, nz = rot[o + 8]!;
    const ex = [rot[o]!, rot[o + 3]!, rot[o + 6]!];
    const ey = [rot[o + 1]!, rot[o + 4]!, rot[o + 7]!];
    const p0 = [this.pos[3 * plane]!, this.pos[3 * plane + 1]!, this.pos[3 * plane + 2]!];
    const ln = lx * nx + ly * ny + lz * nz;
    if (ln <= 1e-6) return; // light at or below the horizon of the plane: it is unlit anyway
    this.shadowMask = ensure(this.shadowMask, n, Uint8Array);
    this.shadowMask.fill(0, 0, n);
    this.masked = ensure(this.masked, this.n, Uint8Array);
    this.masked.fill(0, 0, this.n);
    const target: ZTarget = { width: W, height: m.height, fx: m.fx, fy: m.fy, cx: m.cx, cy: m.cy, tBuf: this.tBuf, primBuf: this.primBuf, faceBuf: this.faceBuf, scratch: this.scratch };
    const pts: [number, number][] = [];
    const X = new Float64Array(8), Y = new Float64Array(8), Z = new Float64Array(8);
    for (let c = 0; c < this.n; c++) {
      if (this.kind[c] !== BOX) continue;
      // Small boxes shadow few pixels: their rays are cheaper than an outline.
      const dx = this.pos[3 * c]! - m.position[0], dy = this.pos[3 * c + 1]! - m.position[1], dz = this.pos[3 * c + 2]! - m.position[2];
      if ((this.radius[c]! * m.fy) / Math.max(1e-6, Math.hypot(dx, dy, dz)) < 6) continue;
      const oc = 9 * c;
      pts.length = 0;
      let below = false;
      for (let corner = 0; corner < 8; corner++) {
        const sx = corner & 1 ? 1 : -1, sy = corner & 2 ? 1 : -1, sz = corner & 4 ? 1 : -1;
        const hx = sx * this.size[3 * c]!, hy = sy * this.size[3 * c + 1]!, hz = sz * this.size[3 * c + 2]!;
        const wx = this.pos[3 * c]! + rot[oc]! * hx + rot[oc + 1]! * hy + rot[oc + 2]! * hz - p0[0]!;
        const wy = this.pos[3 * c + 1]! + rot[oc + 3]! * hx + rot[oc + 4]! * hy + rot[oc + 5]! * hz - p0[1]!;
        const wz = this.pos[3 * c + 2]! + rot[oc + 6]! * hx + rot[oc + 7]! * hy + rot[oc + 8]! * hz - p0[2]!;
        const h = wx * nx + wy * ny + wz * nz;
        if (h < -1e-4) {
          below = true;
          break;
        }
        // Slide the corner along the light onto the plane, in plane coordinates.
        const s = h / ln;
        const qx = wx - lx * s, qy = wy - ly * s, qz = wz - lz * s;
        pts.push([qx * ex[0]! + qy * ex[1]! + qz * ex[2]!, qx * ey[0]! + qy * ey[1]! + qz * ey[2]!]);
      }
      if (below) continue;
      const hull = convexHull(pts);
      if (hull.length < 3) continue;
      hull.forEach(([u, v], i) => {
        const wx = p0[0]! + u * ex[0]! + v * ey[0]! - m.position[0];
        const wy = p0[1]! + u * ex[1]! + v * ey[1]! - m.position[1];
        const wz = p0[2]! + u * ex[2]! + v * ey[2]! - m.position[2];
        X[i] = wx * m.right[0] + wy * m.right[1] + wz * m.right[2];
        Y[i] = wx * m.up[0] + wy * m.up[1] + wz * m.up[2];
        Z[i] = wx * m.forward[0] + wy * m.forward[1] + wz * m.forward[2];
      });
      maskPolygon(target, X, Y, Z, hull.length, NEAR, plane, this.shadowMask);
      this.masked[c] = 1;
    }
    this.maskReceiver = plane;
  }

  /**
   * Box faces and the ground: the normal and the lit / unlit colours are constant per face (two
   * checker tones on the ground), so a pixel costs its world position, the shadow test and three
   * byte stores.
   */
  private shadeFlat(m: CameraModel, k: number, b: readonly [number, number, number, number], faceN: Float64Array, g: ShadowGridView, L: { lx: number; ly: number; lz: number; ambient: number; intensity: number }, rgb: Uint8Array): void {
    const W = m.width;
    const primBuf = this.primBuf;
    const faceBuf = this.faceBuf;
    const tBuf = this.tBuf;
    const ray = this.rayBuf;
    const rot = this.rot;
    const k3 = 3 * k;
    const o = 9 * k;
    const plane = this.kind[k] === PLANE;
    const useMask = this.maskReceiver === k;
    const mask = this.shadowMask;
    const px = this.pos[k3]!, py = this.pos[k3 + 1]!, pz = this.pos[k3 + 2]!;
    // Per face (6) and checker tone (2): lit and shadowed colours as bytes.
    const lut = this.faceLut;
    for (let f = 0; f < (plane ? 1 : 6); f++) {
      const nx = faceN[18 * k + 3 * f]!, ny = faceN[18 * k + 3 * f + 1]!, nz = faceN[18 * k + 3 * f + 2]!;
      const diffuse = nx * L.lx + ny * L.ly + nz * L.lz;
      for (let tone = 0; tone < 2; tone++) {
        const albedo = tone ? 0.78 : 1;
        const lit = albedo * (L.ambient + L.intensity * (diffuse > 0 ? diffuse : 0));
        const dark = albedo * L.ambient;
        for (let c = 0; c < 3; c++) {
          lut[24 * f + 12 * tone + c] = to8(255 * this.color[k3 + c]! * lit);
          lut[24 * f + 12 * tone + 3 + c] = to8(255 * this.color[k3 + c]! * dark);
        }
        lut[24 * f + 12 * tone + 6] = diffuse > 0 ? 1 : 0;
      }
    }
    const invC = plane ? 1 / this.size[k3 + 2]! : 0;
    const ax = rot[o]!, ay = rot[o + 3]!, az = rot[o + 6]!; // local x axis (world)
    const bx = rot[o + 1]!, by = rot[o + 4]!, bz = rot[o + 7]!; // local y axis (world)
    const cx0 = m.position[0], cy0 = m.position[1], cz0 = m.position[2];
    const fx = m.forward[0], fy = m.forward[1], fz = m.forward[2];
    const rx = m.right[0], ry = m.right[1], rz = m.right[2];
    const ux = m.up[0], uy = m.up[1], uz = m.up[2];
    const invFx = 1 / m.fx;
    const invFy = 1 / m.fy;
    const { e1x, e1y, e1z, e2x, e2y, e2z, gMinA, gMinB, gInvA, gInvB, shadows } = g;
    const gStart = this.gridStart;
    const gItems = this.gridItems;
    const bi0 = b[0], bi1 = b[1], bj0 = b[2], bj1 = b[3];
    // A plane's pixels keep their checker tone and light-plane coordinates while the camera, the
    // plane and the light stay (PlaneCache): a pixel costs them once, not every frame.
    const cache = plane ? this.planeCache(k, m.width * m.height, L, shadows) : NO_PLANE_CACHE;
    const { known, tone: toneOf, pa: paOf, pb: pbOf } = cache;
    const nPx = faceN[18 * k]!, nPy = faceN[18 * k + 1]!, nPz = faceN[18 * k + 2]!;
    for (let j = bj0; j <= bj1; j++) {
      const bj = (j + 0.5 - m.cy) * invFy;
      const rowX = fx - bj * ux, rowY = fy - bj * uy, rowZ = fz - bj * uz;
      let ai = (bi0 + 0.5 - m.cx) * invFx;
      for (let i = bi0, idx = j * W + bi0; i <= bi1; i++, idx++, ai += invFx) {
        if (primBuf[idx] !== k) continue;
        const f = faceBuf[idx]!;
        let tone = 0;
        let pa = 0;
        let pb = 0;
        if (plane) {
          if (known[idx] === 1) {
            tone = toneOf[idx]!;
            pa = paOf[idx]!;
            pb = pbOf[idx]!;
          } else {
            const t = tBuf[idx]!;
            const wx = cx0 + t * (rowX + ai * rx), wy = cy0 + t * (rowY + ai * ry), wz = cz0 + t * (rowZ + ai * rz);
            const qx = wx - px, qy = wy - py, qz = wz - pz;
            // Checker parity of floor(x) + floor(y) with integer ops: the even offset 2^28 makes
            // truncation equal floor for any ground coordinate in range.
            tone = ((((ax * qx + ay * qy + az * qz) * invC + 268435456) | 0) + (((bx * qx + by * qy + bz * qz) * invC + 268435456) | 0)) & 1;
            const sx = wx + nPx * 1e-4, sy = wy + nPy * 1e-4, sz = wz + nPz * 1e-4;
            pa = e1x * sx + e1y * sy + e1z * sz;
            pb = e2x * sx + e2y * sy + e2z * sz;
            known[idx] = 1;
            toneOf[idx] = tone;
            paOf[idx] = pa;
            pbOf[idx] = pb;
          }
        }
        let l = 24 * f + 12 * tone;
        if (lut[l + 6] === 1 && useMask && mask[idx] === 1) l += 3;
        else if (lut[l + 6] === 1 && shadows) {
          const nb = 18 * k + 3 * f;
          const t = tBuf[idx]!;
          const wx = cx0 + t * (rowX + ai * rx), wy = cy0 + t * (rowY + ai * ry), wz = cz0 + t * (rowZ + ai * rz);
          const sx = wx + faceN[nb]! * 1e-4, sy = wy + faceN[nb + 1]! * 1e-4, sz = wz + faceN[nb + 2]! * 1e-4;
          if (!plane) {
            pa = e1x * sx + e1y * sy + e1z * sz;
            pb = e2x * sx + e2y * sy + e2z * sz;
          }
          const ga = (pa - gMinA) * gInvA;
          const gb = (pb - gMinB) * gInvB;
          if (ga >= 0 && ga < GRID && gb >= 0 && gb < GRID) {
            ray[0] = sx;
            ray[1] = sy;
            ray[2] = sz;
            ray[6] = pa;
            ray[7] = pb;
            const cell = (gb | 0) * GRID + (ga | 0);
            const q0 = gStart[cell]!;
            const q1 = gStart[cell + 1]!;
            // Cells that hold no caster but this primitive cannot shadow it: skip the call.
            if (q1 > q0 + 1 || (q1 === q0 + 1 && gItems[q0] !== k)) {
              if (this.inShadow(k, cell)) l += 3;
            }
          }
        }
        const o3 = 3 * idx;
        rgb[o3] = lut[l]!;
        rgb[o3 + 1] = lut[l + 1]!;
        rgb[o3 + 2] = lut[l + 2]!;
      }
    }
  }

  /** Plane k's per-pixel cache in the current view, emptied when the camera, the plane or the light differ from its key. */
  private planeCache(k: number, pixels: number, L: { lx: number; ly: number; lz: number }, shadows: boolean): PlaneCache {
    const still = this.still!;
    let cache = still.planes.get(k);
    if (!cache) {
      // Scenes have a plane or two; a plane whose index keeps changing must not leave a cache at each.
      if (still.planes.size >= MAX_PLANES_PER_VIEW) still.planes.clear();
      cache = { key: new Float64Array(PLANE_KEY), known: new Uint8Array(pixels), tone: new Uint8Array(pixels), pa: new Float64Array(pixels), pb: new Float64Array(pixels) };
      cache.key[0] = NaN; // matches no frame
      still.planes.set(k, cache);
    }
    const key = this.planeKey;
    key.set(this.frameKey.subarray(0, CAMERA_KEY), 0);
    key.set(this.frameKey.subarray(CAMERA_KEY + PRIM_KEY * k, CAMERA_KEY + PRIM_KEY * (k + 1)), CAMERA_KEY);
    key[CAMERA_KEY + PRIM_KEY] = L.lx;
    key[CAMERA_KEY + PRIM_KEY + 1] = L.ly;
    key[CAMERA_KEY + PRIM_KEY + 2] = L.lz;
    key[CAMERA_KEY + PRIM_KEY + 3] = shadows ? 1 : 0;
    if (!sameNumbers(key, cache.key, 0, PLANE_KEY)) {
      cache.key.set(key);
      cache.known.fill(0);
    }
    return cache;
  }

  /** Spheres, capsules and cylinders: per-pixel normals (their screen areas are small). */
  private shadeRound(m: CameraModel, k: number, b: readonly [number, number, number, number], g: ShadowGridView, L: { lx: number; ly: number; lz: number; ambient: number; intensity: number }, rgb: Uint8Array): void {
    const W = m.width;
    const primBuf = this.primBuf;
    const tBuf = this.tBuf;
    const ray = this.rayBuf;
    const rot = this.rot;
    const kind = this.kind[k]!;
    const k3 = 3 * k;
    const o = 9 * k;
    const px = this.pos[k3]!, py = this.pos[k3 + 1]!, pz = this.pos[k3 + 2]!;
    const r00 = rot[o]!, r01 = rot[o + 1]!, r02 = rot[o + 2]!;
    const r10 = rot[o + 3]!, r11 = rot[o + 4]!, r12 = rot[o + 5]!;
    const r20 = rot[o + 6]!, r21 = rot[o + 7]!, r22 = rot[o + 8]!;
    const c0 = 255 * this.color[k3]!, c1 = 255 * this.color[k3 + 1]!, c2 = 255 * this.color[k3 + 2]!;
    const s0 = this.size[k3]!, s1 = this.size[k3 + 1]!;
    const { lx, ly, lz, ambient, intensity } = L;
    const cx0 = m.position[0], cy0 = m.position[1], cz0 = m.position[2];
    const fx = m.forward[0], fy = m.forward[1], fz = m.forward[2];
    const rx = m.right[0], ry = m.right[1], rz = m.right[2];
    const ux = m.up[0], uy = m.up[1], uz = m.up[2];
    const invFx = 1 / m.fx;
    const invFy = 1 / m.fy;
    const { e1x, e1y, e1z, e2x, e2y, e2z, gMinA, gMinB, gInvA, gInvB, shadows } = g;
    const gStart = this.gridStart;
    const gItems = this.gridItems;
    const bi0 = b[0], bi1 = b[1], bj0 = b[2], bj1 = b[3];
    for (let j = bj0; j <= bj1; j++) {
      const bj = (j + 0.5 - m.cy) * invFy;
      const rowX = fx - bj * ux, rowY = fy - bj * uy, rowZ = fz - bj * uz;
      let ai = (bi0 + 0.5 - m.cx) * invFx;
      for (let i = bi0, idx = j * W + bi0; i <= bi1; i++, idx++, ai += invFx) {
        if (primBuf[idx] !== k) continue;
        const t = tBuf[idx]!;
        const wx = cx0 + t * (rowX + ai * rx), wy = cy0 + t * (rowY + ai * ry), wz = cz0 + t * (rowZ + ai * rz);
        const qx = wx - px, qy = wy - py, qz = wz - pz;
        let nx: number, ny: number, nz: number;
        if (kind === SPHERE) {
          const inv = 1 / s0;
          nx = qx * inv;
          ny = qy * inv;
          nz = qz * inv;
        } else {
          // Capsule or cylinder (axis = local z).
          const lxp = r00 * qx + r10 * qy + r20 * qz;
          const lyp = r01 * qx + r11 * qy + r21 * qz;
          const lzp = r02 * qx + r12 * qy + r22 * qz;
          let n0: number, n1: number, n2: number;
          if (kind === CAPSULE) {
            n0 = lxp;
            n1 = lyp;
            n2 = lzp > s1 ? lzp - s1 : lzp < -s1 ? lzp + s1 : 0;
          } else if (s1 - Math.abs(lzp) < s0 - Math.sqrt(lxp * lxp + lyp * lyp)) {
            n0 = 0;
            n1 = 0;
            n2 = lzp < 0 ? -1 : 1;
          } else {
            n0 = lxp;
            n1 = lyp;
            n2 = 0;
          }
          const inv = 1 / (Math.sqrt(n0 * n0 + n1 * n1 + n2 * n2) || 1);
          n0 *= inv;
          n1 *= inv;
          n2 *= inv;
          nx = r00 * n0 + r01 * n1 + r02 * n2;
          ny = r10 * n0 + r11 * n1 + r12 * n2;
          nz = r20 * n0 + r21 * n1 + r22 * n2;
        }
        let diffuse = nx * lx + ny * ly + nz * lz;
        if (diffuse > 0 && shadows) {
          const sx = wx + nx * 1e-4, sy = wy + ny * 1e-4, sz = wz + nz * 1e-4;
          const pa = e1x * sx + e1y * sy + e1z * sz;
          const pb = e2x * sx + e2y * sy + e2z * sz;
          const ga = (pa - gMinA) * gInvA;
          const gb = (pb - gMinB) * gInvB;
          if (ga >= 0 && ga < GRID && gb >= 0 && gb < GRID) {
            ray[0] = sx;
            ray[1] = sy;
            ray[2] = sz;
            ray[6] = pa;
            ray[7] = pb;
            const cell = (gb | 0) * GRID + (ga | 0);
            const q0 = gStart[cell]!;
            const q1 = gStart[cell + 1]!;
            // Cells that hold no caster but this primitive cannot shadow it: skip the call.
            if (q1 > q0 + 1 || (q1 === q0 + 1 && gItems[q0] !== k)) {
              if (this.inShadow(k, cell)) diffuse = 0;
            }
          }
        }
        const shade = ambient + intensity * (diffuse > 0 ? diffuse : 0);
        const o3 = 3 * idx;
        // Values are >= 0: round half up and clamp with integer ops (cheaper than a clamped array).
        const r = c0 * shade + 0.5, gg = c1 * shade + 0.5, bl = c2 * shade + 0.5;
        rgb[o3] = r >= 255 ? 255 : r | 0;
        rgb[o3 + 1] = gg >= 255 ? 255 : gg | 0;
        rgb[o3 + 2] = bl >= 255 ? 255 : bl | 0;
      }
    }
  }

  /**
   * Is the point rayBuf[0..2] (light-plane coordinates rayBuf[6..7], grid cell `cell`) shadowed,
   * towards rayBuf[3..5], by any caster other than `self`? The caster that shadowed the previous
   * pixel is tried first: neighbouring pixels are usually shadowed by the same one.
   */
  private inShadow(self: number, cell: number): boolean {
    const ray = this.rayBuf;
    const end = this.gridStart[cell + 1]!;
    let q = this.gridStart[cell]!;
    if (q === end) return false;
    const pa = ray[6]!;
    const pb = ray[7]!;
    const h = ray[0]! * ray[3]! + ray[1]! * ray[4]! + ray[2]! * ray[5]!;
    const cb = this.casterBox;
    const last = this.lastCaster;
    if (last >= 0 && last !== self && !(self === this.maskReceiver && this.masked[last] === 1)) {
      const c5 = 5 * last;
      if (cb[c5 + 4]! > h && pa >= cb[c5]! && pa <= cb[c5 + 1]! && pb >= cb[c5 + 2]! && pb <= cb[c5 + 3]! && this.shadowHit(last)) return true;
    }
    const items = this.gridItems;
    for (; q < end; q++) {
      const c = items[q]!;
      const c5 = 5 * c;
      // Skip casters not towards the light from the point, or whose shadow rectangle misses it.
      if (c === self || c === last || cb[c5 + 4]! <= h || pa < cb[c5]! || pa > cb[c5 + 1]! || pb < cb[c5 + 2]! || pb > cb[c5 + 3]!) continue;
      if (self === this.maskReceiver && this.masked[c] === 1) continue;
      if (this.shadowHit(c)) {
        this.lastCaster = c;
        return true;
      }
    }
    return false;
  }

  /**
   * Buckets every shadow caster (all but planes) by the bounding rectangle of its projection along
   * the light, and records how far towards the light it reaches (hMax), for cheap rejection.
   */
  private buildShadowGrid(lx: number, ly: number, lz: number): void {
    // An orthonormal basis (e1, e2) perpendicular to the light direction.
    const e1 = this.e1;
    const e2 = this.e2;
    if (Math.abs(lz) < 0.9) {
      e1[0] = -ly;
      e1[1] = lx;
      e1[2] = 0;
    } else {
      e1[0] = 0;
      e1[1] = -lz;
      e1[2] = ly;
    }
    const n1 = Math.hypot(e1[0]!, e1[1]!, e1[2]!);
    e1[0]! /= n1;
    e1[1]! /= n1;
    e1[2]! /= n1;
    e2[0] = ly * e1[2]! - lz * e1[1]!;
    e2[1] = lz * e1[0]! - lx * e1[2]!;
    e2[2] = lx * e1[1]! - ly * e1[0]!;
    if (this.casterBox.length < 5 * this.n) this.casterBox = new Float64Array(5 * this.n);
    const cb = this.casterBox; // per caster: aMin, aMax, bMin, bMax, hMax
    let minA = Infinity, minB = Infinity, maxA = -Infinity, maxB = -Infinity;
    const rot = this.rot;
    for (let k = 0; k < this.n; k++) {
      const kind = this.kind[k]!;
      if (kind === PLANE) continue;
      const a = this.proj(e1, k);
      const b = this.proj(e2, k);
      const h = this.pos[3 * k]! * lx + this.pos[3 * k + 1]! * ly + this.pos[3 * k + 2]! * lz;
      let ra: number, rb: number, rh: number;
      if (kind === BOX) {
        // Half-width of a box's projection on direction e: sum over axes of |e . axis| * half extent.
        const o = 9 * k;
        ra = rb = rh = 0;
        for (let ax = 0; ax < 3; ax++) {
          const hx = this.size[3 * k + ax]!;
          const c0 = rot[o + ax]!, c1 = rot[o + 3 + ax]!, c2 = rot[o + 6 + ax]!;
          ra += Math.abs(c0 * e1[0]! + c1 * e1[1]! + c2 * e1[2]!) * hx;
          rb += Math.abs(c0 * e2[0]! + c1 * e2[1]! + c2 * e2[2]!) * hx;
          rh += Math.abs(c0 * lx + c1 * ly + c2 * lz) * hx;
        }
      } else {
        ra = rb = rh = this.radius[k]!;
      }
      cb[5 * k] = a - ra;
      cb[5 * k + 1] = a + ra;
      cb[5 * k + 2] = b - rb;
      cb[5 * k + 3] = b + rb;
      cb[5 * k + 4] = h + rh;
      minA = Math.min(minA, a - ra);
      maxA = Math.max(maxA, a + ra);
      minB = Math.min(minB, b - rb);
      maxB = Math.max(maxB, b + rb);
    }
    const start = this.gridStart;
    start.fill(0);
    if (!(minA < maxA)) {
      this.gridMin = [0, 0];
      this.gridCell = [Infinity, Infinity];
      return;
    }
    const ca = (maxA - minA) / GRID || 1;
    const cbw = (maxB - minB) / GRID || 1;
    this.gridMin = [minA, minB];
    this.gridCell = [ca, cbw];
    // Two passes: count per cell, then fill (counting sort into one flat array).
    let total = 0;
    for (let pass = 0; pass < 2; pass++) {
      const fill = pass === 1 ? start.slice(0, GRID * GRID) : null;
      if (pass === 1) {
        if (this.gridItems.length < total) this.gridItems = new Int32Array(total * 2);
      }
      for (let k = 0; k < this.n; k++) {
        if (this.kind[k] === PLANE) continue;
        const ia0 = clampCell(Math.floor((cb[5 * k]! - minA) / ca)), ia1 = clampCell(Math.floor((cb[5 * k + 1]! - minA) / ca));
        const ib0 = clampCell(Math.floor((cb[5 * k + 2]! - minB) / cbw)), ib1 = clampCell(Math.floor((cb[5 * k + 3]! - minB) / cbw));
        for (let ib = ib0; ib <= ib1; ib++) {
          for (let ia = ia0; ia <= ia1; ia++) {
            const c = ib * GRID + ia;
            if (fill) this.gridItems[fill[c]!++] = k;
            else {
              start[c + 1]!++;
              total++;
            }
          }
        }
      }
      if (pass === 0) for (let c = 0; c < GRID * GRID; c++) start[c + 1]! += start[c]!;
    }
  }

  private proj(e: Float64Array, k: number): number {
    return e[0]! * this.pos[3 * k]! + e[1]! * this.pos[3 * k + 1]! + e[2]! * this.pos[3 * k + 2]!;
  }

  /** World normals of every box face (6 per primitive) and plane (face 0, turned towards the camera). */
  private faceNormals(m: CameraModel): Float64Array {
    if (this.faceN.length < 18 * this.n) this.faceN = new Float64Array(18 * this.n);
    const out = this.faceN;
    const rot = this.rot;
    for (let k = 0; k < this.n; k++) {
      const kind = this.kind[k]!;
      const o = 9 * k;
      if (kind === PLANE) {
        const toCam = (m.position[0] - this.pos[3 * k]!) * rot[o + 2]! + (m.position[1] - this.pos[3 * k + 1]!) * rot[o + 5]! + (m.position[2] - this.pos[3 * k + 2]!) * rot[o + 8]!;
        const sgn = toCam >= 0 ? 1 : -1;
        out[18 * k] = sgn * rot[o + 2]!;
        out[18 * k + 1] = sgn * rot[o + 5]!;
        out[18 * k + 2] = sgn * rot[o + 8]!;
      } else if (kind === BOX) {
        for (let f = 0; f < 6; f++) {
          const a = f >> 1;
          const sgn = f & 1 ? 1 : -1;
          out[18 * k + 3 * f] = sgn * rot[o + a]!;
          out[18 * k + 3 * f + 1] = sgn * rot[o + 3 + a]!;
          out[18 * k + 3 * f + 2] = sgn * rot[o + 6 + a]!;
        }
      }
    }
    return out;
  }

  /**
   * Does the ray from rayBuf[0..2] towards the light rayBuf[3..5] hit caster k? Arguments travel
   * through rayBuf so the call boxes no doubles; boxes (the common large casters) are inlined.
   */
  private shadowHit(k: number): boolean {
    const ray = this.rayBuf;
    const rot = this.rot;
    const lx = ray[3]!, ly = ray[4]!, lz = ray[5]!;
    const k3 = 3 * k;
    const qx = this.pos[k3]! - ray[0]!, qy = this.pos[k3 + 1]! - ray[1]!, qz = this.pos[k3 + 2]! - ray[2]!;
    const o = 9 * k;
    // Ray origin relative to the primitive, in its local frame.
    const ox = -(rot[o]! * qx + rot[o + 3]! * qy + rot[o + 6]! * qz);
    const oy = -(rot[o + 1]! * qx + rot[o + 4]! * qy + rot[o + 7]! * qz);
    const oz = -(rot[o + 2]! * qx + rot[o + 5]! * qy + rot[o + 8]! * qz);
    const dx = rot[o]! * lx + rot[o + 3]! * ly + rot[o + 6]! * lz;
    const dy = rot[o + 1]! * lx + rot[o + 4]! * ly + rot[o + 7]! * lz;
    const dz = rot[o + 2]! * lx + rot[o + 5]! * ly + rot[o + 8]! * lz;
    const kind = this.kind[k]!;
    const s0 = this.size[k3]!, s1 = this.size[k3 + 1]!, s2 = this.size[k3 + 2]!;
    if (kind === BOX) {
      let tNear = 1e-6;
      let tFar = Infinity;
      if (dx !== 0) {
        const t1 = (-s0 - ox) / dx, t2 = (s0 - ox) / dx;
        tNear = Math.max(tNear, Math.min(t1, t2));
        tFar = Math.min(tFar, Math.max(t1, t2));
      } else if (ox < -s0 || ox > s0) return false;
      if (dy !== 0) {
        const t1 = (-s1 - oy) / dy, t2 = (s1 - oy) / dy;
        tNear = Math.max(tNear, Math.min(t1, t2));
        tFar = Math.min(tFar, Math.max(t1, t2));
      } else if (oy < -s1 || oy > s1) return false;
      if (dz !== 0) {
        const t1 = (-s2 - oz) / dz, t2 = (s2 - oz) / dz;
        tNear = Math.max(tNear, Math.min(t1, t2));
        tFar = Math.min(tFar, Math.max(t1, t2));
      } else if (oz < -s2 || oz > s2) return false;
      return tNear <= tFar;
    }
    if (kind === SPHERE) {
      const b = ox * dx + oy * dy + oz * dz;
      const c = ox * ox + oy * oy + oz * oz - s0 * s0;
      // Unit direction: a = 1. A hit in front needs a real root with t > 0.
      return b * b - c >= 0 && (c < 0 || b < 0);
    }
    return intersectLocal(kind, s0, s1, s2, ox, oy, oz, dx, dy, dz, 1e-6) < Infinity;
  }

  // ---- normals and flow --------------------------------------------------------------------

  private writeNormals(m: CameraModel): void {
    const { width: W, height: H } = m;
    const out = this.normals;
    const nrm = this.tmpN;
    const rot = this.rot;
    for (let j = 0; j < H; j++) {
      for (let i = 0; i < W; i++) {
        const idx = j * W + i;
        const k = this.primBuf[idx]!;
        if (k < 0) {
          out[3 * idx] = 0;
          out[3 * idx + 1] = 0;
          out[3 * idx + 2] = 0;
          continue;
        }
        this.localHit(m, i, j, k);
        const hb = this.hitBuf;
        const dx = hb[3]!, dy = hb[4]!, dz = hb[5]!;
        const o = 9 * k;
        localNormal(this.kind[k]!, this.size[3 * k]!, this.size[3 * k + 1]!, this.size[3 * k + 2]!, hb[0]!, hb[1]!, hb[2]!, nrm);
        let nx = rot[o]! * nrm[0]! + rot[o + 1]! * nrm[1]! + rot[o + 2]! * nrm[2]!;
        let ny = rot[o + 3]! * nrm[0]! + rot[o + 4]! * nrm[1]! + rot[o + 5]! * nrm[2]!;
        let nz = rot[o + 6]! * nrm[0]! + rot[o + 7]! * nrm[1]! + rot[o + 8]! * nrm[2]!;
        if (this.kind[k] === PLANE && nx * dx + ny * dy + nz * dz > 0) {
          nx = -nx;
          ny = -ny;
          nz = -nz;
        }
        out[3 * idx] = nx;
        out[3 * idx + 1] = ny;
        out[3 * idx + 2] = nz;
      }
    }
  }

  /** Local hit point of pixel (i, j) on primitive k -> hitBuf[0..2], world ray direction -> hitBuf[3..5]. */
  private localHit(m: CameraModel, i: number, j: number, k: number): void {
    const ai = (i + 0.5 - m.cx) / m.fx;
    const bj = (j + 0.5 - m.cy) / m.fy;
    const t = this.tBuf[j * m.width + i]!;
    const dx = m.forward[0] + ai * m.right[0] - bj * m.up[0];
    const dy = m.forward[1] + ai * m.right[1] - bj * m.up[1];
    const dz = m.forward[2] + ai * m.right[2] - bj * m.up[2];
    const qx = m.position[0] + t * dx - this.pos[3 * k]!;
    const qy = m.position[1] + t * dy - this.pos[3 * k + 1]!;
    const qz = m.position[2] + t * dz - this.pos[3 * k + 2]!;
    const o = 9 * k;
    const rot = this.rot;
    const h = this.hitBuf;
    h[0] = rot[o]! * qx + rot[o + 3]! * qy + rot[o + 6]! * qz;
    h[1] = rot[o + 1]! * qx + rot[o + 4]! * qy + rot[o + 7]! * qz;
    h[2] = rot[o + 2]! * qx + rot[o + 5]! * qy + rot[o + 8]! * qz;
    h[3] = dx;
    h[4] = dy;
    h[5] = dz;
  }

  /**
   * Forward flow: each visible surface point is carried by its body's rigid motion to the next
   * snapshot and projected with the next camera pose; the background moves with camera rotation
   * only (points at infinity). Without a next snapshot, flow is zero.
   */
  private writeFlow(m: CameraModel, scene: SceneSnapshot, cameraName: string, next: SceneSnapshot | undefined): void {
    const W = m.width;
    const H = m.height;
    const out = this.flow;
    if (!next) {
      out.fill(0, 0, W * H * 2);
      return;
    }
    const nextCamSnap = findCamera(next, cameraName);
    const nc = cameraModel(nextCamSnap);
    const invFx = 1 / m.fx;
    const invFy = 1 / m.fy;
    const thisCam = findCamera(scene, cameraName);
    // A still camera sees zero flow on still bodies and on the background: fill, then only work
    // where something moved (exact, and most pixels of a typical scene are static ground).
    const cameraStill = sameVec(thisCam.position, nextCamSnap.position) && sameVec(thisCam.quaternion, nextCamSnap.quaternion);
    out.fill(0, 0, W * H * 2);
    // Background: points at infinity move only with the camera's rotation.
    for (let j = 0; j < H && !cameraStill; j++) {
      const bj = (j + 0.5 - m.cy) * invFy;
      for (let i = 0; i < W; i++) {
        const idx = j * W + i;
        out[2 * idx] = 0;
        out[2 * idx + 1] = 0;
        if (this.primBuf[idx]! >= 0) continue;
        const ai = (i + 0.5 - m.cx) * invFx;
        const d0 = m.forward[0] + ai * m.right[0] - bj * m.up[0];
        const d1 = m.forward[1] + ai * m.right[1] - bj * m.up[1];
        const d2 = m.forward[2] + ai * m.right[2] - bj * m.up[2];
        const z = d0 * nc.forward[0] + d1 * nc.forward[1] + d2 * nc.forward[2];
        if (z > 0) {
          out[2 * idx] = nc.cx + (nc.fx * (d0 * nc.right[0] + d1 * nc.right[1] + d2 * nc.right[2])) / z - (i + 0.5);
          out[2 * idx + 1] = nc.cy - (nc.fy * (d0 * nc.up[0] + d1 * nc.up[1] + d2 * nc.up[2])) / z - (j + 0.5);
        }
      }
    }
    // Surfaces: each point rides its body's rigid motion, P' = p' + R' R^T (P - p), then is
    // projected by the next camera.
    const nextIndex = new Map(next.primitives.map((p, i) => [p.id, i]));
    const nextRot = new Float64Array(9);
    const rot = this.rot;
    const tBuf = this.tBuf;
    const primBuf = this.primBuf;
    const [cx0, cy0, cz0] = m.position;
    const [fx, fy, fz] = m.forward;
    const [rx, ry, rz] = m.right;
    const [ux, uy, uz] = m.up;
    const [ncx, ncy, ncz] = nc.position;
    const [nfx, nfy, nfz] = nc.forward;
    const [nrx, nry, nrz] = nc.right;
    const [nux, nuy, nuz] = nc.up;
    for (let k = 0; k < this.n; k++) {
      const q = nextIndex.get(scene.primitives[k]!.id);
      if (q === undefined) continue;
      const np = next.primitives[q]!;
      const sp = scene.primitives[k]!;
      if (cameraStill && sameVec(sp.position, np.position) && sameVec(sp.quaternion, np.quaternion)) continue;
      quatToMatrix(np.quaternion, nextRot, 0);
      const o = 9 * k;
      // M = R' R^T
      const M = new Float64Array(9);
      for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) M[3 * r + c] = nextRot[3 * r]! * rot[o + 3 * c]! + nextRot[3 * r + 1]! * rot[o + 3 * c + 1]! + nextRot[3 * r + 2]! * rot[o + 3 * c + 2]!;
      const m00 = M[0]!, m01 = M[1]!, m02 = M[2]!, m10 = M[3]!, m11 = M[4]!, m12 = M[5]!, m20 = M[6]!, m21 = M[7]!, m22 = M[8]!;
      const px = this.pos[3 * k]!, py = this.pos[3 * k + 1]!, pz = this.pos[3 * k + 2]!;
      const qx0 = np.position[0], qy0 = np.position[1], qz0 = np.position[2];
      const b = this.kind[k] === PLANE ? ([0, W - 1, 0, H - 1] as const) : bbox(m, px, py, pz, this.radius[k]!);
      if (b === null) continue;
      const bi0 = b[0], bi1 = b[1], bj0 = b[2], bj1 = b[3];
      for (let j = bj0; j <= bj1; j++) {
        const bj = (j + 0.5 - m.cy) * invFy;
        const rowX = fx - bj * ux, rowY = fy - bj * uy, rowZ = fz - bj * uz;
        let ai = (bi0 + 0.5 - m.cx) * invFx;
        for (let i = bi0, idx = j * W + bi0; i <= bi1; i++, idx++, ai += invFx) {
          if (primBuf[idx] !== k) continue;
          const t = tBuf[idx]!;
          const sx = cx0 + t * (rowX + ai * rx) - px, sy = cy0 + t * (rowY + ai * ry) - py, sz = cz0 + t * (rowZ + ai * rz) - pz;
          const wx = qx0 + m00 * sx + m01 * sy + m02 * sz - ncx;
          const wy = qy0 + m10 * sx + m11 * sy + m12 * sz - ncy;
          const wz = qz0 + m20 * sx + m21 * sy + m22 * sz - ncz;
          const z = wx * nfx + wy * nfy + wz * nfz;
          if (!(z > NEAR)) continue;
          out[2 * idx] = nc.cx + (nc.fx * (wx * nrx + wy * nry + wz * nrz)) / z - (i + 0.5);
          out[2 * idx + 1] = nc.cy - (nc.fy * (wx * nux + wy * nuy + wz * nuz)) / z - (j + 0.5);
        }
      }
    }
  }
}

interface ShadowGridView {
  e1x: number;
  e1y: number;
  e1z: number;
  e2x: number;
  e2y: number;
  e2z: number;
  gMinA: number;
  gMinB: number;
  gInvA: number;
  gInvB: number;
  shadows: boolean;
}

export function findCamera(scene: SceneSnapshot, name: string): CameraSnapshot {
  const cam = scene.cameras.find((c) => c.name === name);
  if (!cam) throw new TrajforgeError('E_USAGE', `no camera '${name}' (cameras: ${scene.cameras.map((c) => c.name).join(', ') || 'none'})`);
  return cam;
}

/** Screen bounding box [i0, i1, j0, j1] of a sphere, or null when off screen. */
function bbox(m: CameraModel, px: number, py: number, pz: number, r: number): [number, number, number, number] | null {
  const dx = px - m.position[0], dy = py - m.position[1], dz = pz - m.position[2];
  const z = dx * m.forward[0] + dy * m.forward[1] + dz * m.forward[2];
  if (z + r <= NEAR) return null;
  const W = m.width;
  const H = m.height;
  if (z - r <= NEAR) return [0, W - 1, 0, H - 1];
  const x = dx * m.right[0] + dy * m.right[1] + dz * m.right[2];
  const y = dx * m.up[0] + dy * m.up[1] + dz * m.up[2];
  const zn = z - r;
  const zf = z + r;
  // Extremes of (x +- r) / z' over z' in [z - r, z + r].
  const xMin = (x - r) / (x - r < 0 ? zn : zf);
  const xMax = (x + r) / (x + r > 0 ? zn : zf);
  const yMin = (y - r) / (y - r < 0 ? zn : zf);
  const yMax = (y + r) / (y + r > 0 ? zn : zf);
  const i0 = Math.max(0, Math.floor(m.cx + m.fx * xMin - 0.5));
  const i1 = Math.min(W - 1, Math.ceil(m.cx + m.fx * xMax - 0.5));
  const j0 = Math.max(0, Math.floor(m.cy - m.fy * yMax - 0.5));
  const j1 = Math.min(H - 1, Math.ceil(m.cy - m.fy * yMin - 0.5));
  if (i0 > i1 || j0 > j1) return null;
  return [i0, i1, j0, j1];
}

function quatToMatrix(q: readonly number[], out: Float64Array, o: number): void {
  const [w, x, y, z] = q as [number, number, number, number];
  out[o] = 1 - 2 * (y * y + z * z);
  out[o + 1] = 2 * (x * y - w * z);
  out[o + 2] = 2 * (x * z + w * y);
  out[o + 3] = 2 * (x * y + w * z);
  out[o + 4] = 1 - 2 * (x * x + z * z);
  out[o + 5] = 2 * (y * z - w * x);
  out[o + 6] = 2 * (x * z - w * y);
  out[o + 7] = 2 * (y * z + w * x);
  out[o + 8] = 1 - 2 * (x * x + y * y);
}

function to8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}

/** Convex hull of 2-D points (Andrew's monotone chain), counter-clockwise, no repeated end point. */
function convexHull(points: [number, number][]): [number, number][] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: [number, number][] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: [number, number][] = [];
  for (const q of p.reverse()) {
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

function sameVec(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function clampCell(c: number): number {
  return c < 0 ? 0 : c >= GRID ? GRID - 1 : c;
}

type TypedArrayCtor<T> = { new (n: number): T };
/** Numbers of a frame key per camera (position, right, up, forward, fx, fy, cx, cy) and per primitive (kind, position, rotation, size, radius). */
const CAMERA_KEY = 16;
const PRIM_KEY = 17;
/** A plane cache's key: the camera, the plane, the light's direction and whether it casts shadows. */
const PLANE_KEY = CAMERA_KEY + PRIM_KEY + 4;
const NO_PLANE_CACHE: PlaneCache = { key: new Float64Array(0), known: new Uint8Array(0), tone: new Uint8Array(0), pa: new Float64Array(0), pb: new Float64Array(0) };
/** Views whose still parts a renderer keeps (cameras of a scene; a few resolutions of each), and plane caches per view: 7 and 18 bytes a pixel. */
const MAX_VIEWS = 8;
const MAX_PLANES_PER_VIEW = 2;

/**
 * What stays still in one camera view between frames, and what it saves to know it: the ground
 * and other primitives that do not move are drawn, and the ground's pixels placed on its checker
 * and in the shadow grid, once rather than every frame. Every saved value is exactly what the
 * frame would compute again, so the images are the same bytes with or without it.
 */
interface StillCache {
  /** The view's previous frame key and its primitive count. */
  prev: Float64Array;
  prevCount: number;
  /** Visibility buffers after drawing the first `count` primitives (as `key` describes them) on an empty frame. */
  count: number;
  key: Float64Array;
  t: Float32Array;
  prim: Int16Array;
  face: Int8Array;
  /** Per plane primitive: its pixels' checker tone and light-plane coordinates. */
  planes: Map<number, PlaneCache>;
}

/** A plane's per-pixel facts for one `key` (camera, plane, light): `known[idx]` = 1 once pixel idx is filled in. */
interface PlaneCache {
  key: Float64Array;
  known: Uint8Array;
  tone: Uint8Array;
  pa: Float64Array;
  pb: Float64Array;
}

/** Whether a[from..to) and b[from..to) hold the same numbers (b may be shorter: then not). */
function sameNumbers(a: Float64Array, b: Float64Array, from: number, to: number): boolean {
  if (b.length < to) return false;
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** a[0..n) copied into `into` (grown when too short). */
function copyNumbers(a: Float64Array, into: Float64Array, n: number): Float64Array {
  const out = into.length >= n ? into : new Float64Array(n);
  out.set(a.subarray(0, n));
  return out;
}

function ensure<T extends { length: number }>(buf: T, n: number, ctor: TypedArrayCtor<T>): T {
  return buf.length >= n ? buf : new ctor(n);
}

function downsample(hi: Uint8Array, lo: Uint8Array, W: number, H: number, s: number): void {
  const Wh = W * s;
  const inv = 1 / (s * s);
  for (let j = 0; j < H; j++) {
    for (let i = 0; i < W; i++) {
      let r = 0, g = 0, b = 0;
      for (let dj = 0; dj < s; dj++) {
        let q = 3 * ((j * s + dj) * Wh + i * s);
        for (let di = 0; di < s; di++, q += 3) {
          r += hi[q]!;
          g += hi[q + 1]!;
          b += hi[q + 2]!;
        }
      }
      const o = 3 * (j * W + i);
      lo[o] = Math.round(r * inv);
      lo[o + 1] = Math.round(g * inv);
      lo[o + 2] = Math.round(b * inv);
    }
  }
}
