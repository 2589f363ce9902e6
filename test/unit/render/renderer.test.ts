import { describe, expect, it } from 'vitest';
import type { CameraSnapshot, Primitive, SceneSnapshot } from '../../../src/core/scene.js';
import { quatFromAxisAngle, quatMul, rotate, type Quat, type Vec3 } from '../../../src/core/math.js';
import { calibration } from '../../../src/render/camera.js';
import { Renderer, type Channel } from '../../../src/render/renderer.js';
import { lookAtQuaternion } from '../../../src/sim/env.js';
import { loadEnv } from '../../../src/config/load.js';
import { createEnv } from '../../../src/sim/env.js';

function camera(position: Vec3, target: Vec3, size = 65, fovY = 40): CameraSnapshot {
  return { name: 'cam', position, quaternion: lookAtQuaternion(position, target, [0, 0, 1]), fovY, width: size, height: size, channels: ['rgb'] };
}

function prim(id: number, shape: Primitive['shape'], position: Vec3, quaternion: Quat = [1, 0, 0, 0]): Primitive {
  return { id, name: `p${id}`, shape, position, quaternion, linearVelocity: [0, 0, 0], angularVelocity: [0, 0, 0], color: [0.8, 0.3, 0.2] };
}

function scene(primitives: Primitive[], cam: CameraSnapshot, shadows = true): SceneSnapshot {
  return { step: 0, time: 0, primitives, cameras: [cam], light: { direction: [0.3, -0.2, 0.93], intensity: 0.8, ambient: 0.3, shadows }, background: [0.5, 0.6, 0.8] };
}

const ALL: Channel[] = ['rgb', 'depth', 'segmentation', 'flow', 'normals'];

describe('geometry', () => {
  it('a sphere of known radius and distance has the expected projected size and depth', () => {
    const r = 0.5;
    const D = 5;
    const cam = camera([0, -D, 0], [0, 0, 0], 129, 30);
    const f = new Renderer().render(scene([prim(7, { type: 'sphere', radius: r }, [0, 0, 0])], cam), 'cam', ['depth', 'segmentation']);
    const K = calibration(cam).K;
    const fpx = K[0]![0]!;
    // Silhouette of a sphere seen from distance D: angular radius asin(r / D).
    const radiusPx = fpx * Math.tan(Math.asin(r / D));
    const area = f.segmentation!.reduce((n, id) => n + (id === 7 ? 1 : 0), 0);
    expect(area).toBeGreaterThan(Math.PI * (radiusPx - 1) ** 2);
    expect(area).toBeLessThan(Math.PI * (radiusPx + 1) ** 2);
    // Centre pixel (64, 64) of a 129 px image lies on the optical axis: z-depth D - r.
    expect(f.depth![64 * 129 + 64]).toBeCloseTo(D - r, 5);
    expect(f.depth![0]).toBe(Infinity);
    expect(f.segmentation![0]).toBe(0);
    // Depth is z-depth: at an off-axis pixel on the sphere, depth = z of the hit point.
    const i = 64 + Math.floor(radiusPx / 2);
    const z = f.depth![64 * 129 + i]!;
    const x = ((i + 0.5 - K[0]![2]!) / fpx) * z;
    expect(Math.hypot(x, z - D)).toBeCloseTo(r, 3); // the back-projected point lies on the sphere
  });

  it('segmentation ids sit at the projection of every body centre', () => {
    const prims = [
      prim(3, { type: 'sphere', radius: 0.2 }, [-1, 0, 0]),
      prim(4, { type: 'box', halfExtents: [0.2, 0.2, 0.2] }, [0, 0.5, 0], quatFromAxisAngle([0, 0, 1], 0.5)),
      prim(5, { type: 'capsule', radius: 0.15, halfHeight: 0.2 }, [1, 0, 0.3], quatFromAxisAngle([1, 0, 0], 1)),
      prim(6, { type: 'cylinder', radius: 0.2, halfHeight: 0.15 }, [0.3, -0.8, -0.4]),
      prim(1, { type: 'plane', halfExtents: [5, 5], checker: 0.5 }, [0, 0, -0.8]),
    ];
    const cam = camera([0.5, -4, 2.5], [0, 0, 0], 97);
    const f = new Renderer().render(scene(prims, cam), 'cam', ['segmentation']);
    const cal = calibration(cam);
    for (const p of prims.filter((q) => q.shape.type !== 'plane')) {
      const w = cal.worldToCamera;
      const X = w[0]![0]! * p.position[0] + w[0]![1]! * p.position[1] + w[0]![2]! * p.position[2] + w[0]![3]!;
      const Y = w[1]![0]! * p.position[0] + w[1]![1]! * p.position[1] + w[1]![2]! * p.position[2] + w[1]![3]!;
      const Z = w[2]![0]! * p.position[0] + w[2]![1]! * p.position[1] + w[2]![2]! * p.position[2] + w[2]![3]!;
      const u = Math.floor(cal.K[0]![0]! * (X / Z) + cal.K[0]![2]!);
      const v = Math.floor(cal.K[1]![1]! * (Y / Z) + cal.K[1]![2]!);
      expect(f.segmentation![v * 97 + u], `body ${p.id}`).toBe(p.id);
    }
    expect(new Set(f.segmentation)).toEqual(new Set([1, 3, 4, 5, 6, 0]));
  });

  it('normals are unit length, world-space, and face the camera on the ground', () => {
    const cam = camera([0, -3, 2], [0, 0, 0], 48);
    const f = new Renderer().render(scene([prim(1, { type: 'plane', halfExtents: [10, 10], checker: 0.5 }, [0, 0, 0]), prim(2, { type: 'sphere', radius: 0.5 }, [0, 0, 0.5])], cam), 'cam', ['normals', 'segmentation']);
    const n = f.normals!;
    for (let i = 0; i < 48 * 48; i++) {
      const len = Math.hypot(n[3 * i]!, n[3 * i + 1]!, n[3 * i + 2]!);
      if (f.segmentation![i] === 0) expect(len).toBe(0);
      else expect(len).toBeCloseTo(1, 5);
      if (f.segmentation![i] === 1) expect([n[3 * i], n[3 * i + 1], n[3 * i + 2]]).toEqual([0, 0, 1]);
    }
  });

  it('shadows darken the ground under an object and only there', () => {
    const cam = camera([0, -3, 3], [0, 0, 0], 64);
    const prims = [prim(1, { type: 'plane', halfExtents: [10, 10], checker: 100 }, [0, 0, 0]), prim(2, { type: 'box', halfExtents: [0.3, 0.3, 0.3] }, [0, 0, 1])];
    const lit = new Renderer().render(scene(prims, cam, false), 'cam', ['rgb', 'segmentation']);
    const litRgb = Uint8Array.from(lit.rgb!);
    const seg = Uint16Array.from(lit.segmentation!);
    const shadowed = new Renderer().render(scene(prims, cam, true), 'cam', ['rgb']).rgb!;
    let darker = 0;
    for (let i = 0; i < 64 * 64; i++) {
      if (seg[i] !== 1) continue;
      if (shadowed[3 * i]! < litRgb[3 * i]! - 20) darker++;
      expect(shadowed[3 * i]!).toBeLessThanOrEqual(litRgb[3 * i]!);
    }
    expect(darker).toBeGreaterThan(30);
    expect(darker).toBeLessThan(1000);
  });
});

describe('flow agrees with depth and poses', () => {
  it('back-project with depth, move rigidly, re-project: equals the flow within 0.5 px', async () => {
    const env = await createEnv(loadEnv('FallingObjects-v1'));
    env.reset({ seed: 4 });
    for (let t = 0; t < 6; t++) env.step(new Float32Array(0));
    const s0 = env.snapshot();
    env.step(new Float32Array(0));
    const s1 = env.snapshot();
    env.close();
    // A moving camera too, so both motions enter the flow.
    const moveCam = (s: SceneSnapshot, dx: number): SceneSnapshot => ({ ...s, cameras: s.cameras.map((c) => ({ ...c, width: 96, height: 96, position: [c.position[0] + dx, c.position[1], c.position[2]] as Vec3 })) });
    const a = moveCam(s0, 0);
    const b = moveCam(s1, 0.05);
    const f = new Renderer().render(a, 'main', ['depth', 'segmentation', 'flow'], b);
    const c0 = calibration(a.cameras[0]!);
    const c1 = calibration(b.cameras[0]!);
    const byId = (s: SceneSnapshot) => new Map(s.primitives.map((p) => [p.id, p]));
    const p0 = byId(s0);
    const p1 = byId(s1);
    let checked = 0;
    let worst = 0;
    for (let v = 0; v < 96; v++) {
      for (let u = 0; u < 96; u++) {
        const idx = v * 96 + u;
        const id = f.segmentation![idx]!;
        if (id === 0) continue;
        // Back-project with K and camera-to-world (OpenCV), then move with the body's rigid motion.
        const z = f.depth![idx]!;
        const K = c0.K;
        const cx = ((u + 0.5 - K[0]![2]!) / K[0]![0]!) * z;
        const cy = ((v + 0.5 - K[1]![2]!) / K[1]![1]!) * z;
        const M = c0.cameraToWorld;
        const P: Vec3 = [0, 1, 2].map((r) => M[r]![0]! * cx + M[r]![1]! * cy + M[r]![2]! * z + M[r]![3]!) as Vec3;
        const A = p0.get(id)!;
        const B = p1.get(id)!;
        const local = rotate([A.quaternion[0], -A.quaternion[1], -A.quaternion[2], -A.quaternion[3]], [P[0] - A.position[0], P[1] - A.position[1], P[2] - A.position[2]]);
        const moved = rotate(B.quaternion, local).map((x, k) => x + B.position[k]!) as Vec3;
        const W = c1.worldToCamera;
        const [X, Y, Z] = [0, 1, 2].map((r) => W[r]![0]! * moved[0] + W[r]![1]! * moved[1] + W[r]![2]! * moved[2] + W[r]![3]!) as Vec3;
        const u1 = c1.K[0]![0]! * (X / Z) + c1.K[0]![2]!;
        const v1 = c1.K[1]![1]! * (Y / Z) + c1.K[1]![2]!;
        const err = Math.hypot(u1 - (u + 0.5) - f.flow![2 * idx]!, v1 - (v + 0.5) - f.flow![2 * idx + 1]!);
        worst = Math.max(worst, err);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(2000);
    expect(worst).toBeLessThan(0.5);
    void quatMul;
  });

  it('flow is zero without a next snapshot, and zero for a static scene', () => {
    const cam = camera([0, -3, 2], [0, 0, 0], 32);
    const s = scene([prim(1, { type: 'plane', halfExtents: [5, 5], checker: 0.5 }, [0, 0, 0]), prim(2, { type: 'sphere', radius: 0.4 }, [0, 0, 0.4])], cam);
    const r = new Renderer();
    expect(r.render(s, 'cam', ['flow']).flow!.every((x) => x === 0)).toBe(true);
    expect(Math.max(...r.render(s, 'cam', ['flow'], s).flow!.map(Math.abs))).toBeLessThan(1e-4);
  });
});

describe('determinism and options', () => {
  it('same snapshot -> byte-identical output, with a fresh or a reused renderer', async () => {
    const env = await createEnv(loadEnv('StackCube-v1'));
    env.reset({ seed: 9 });
    env.step([0.3, 0.2, -0.1, 0]);
    const s0 = env.snapshot();
    env.step([0.3, 0.2, -0.1, 0]);
    const s1 = env.snapshot();
    env.close();
    const copy = (f: ReturnType<Renderer['render']>) => ALL.map((c) => Buffer.from((f[c] as ArrayBufferView).buffer.slice((f[c] as ArrayBufferView).byteOffset, (f[c] as ArrayBufferView).byteOffset + (f[c] as ArrayBufferView).byteLength)).toString('hex'));
    const reused = new Renderer();
    const a = copy(reused.render(s0, 'front', ALL, s1));
    reused.render(s1, 'front', ['rgb'], s0); // dirty its buffers
    const b = copy(reused.render(s0, 'front', ALL, s1));
    const c = copy(new Renderer().render(s0, 'front', ALL, s1));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('supersampling anti-aliases edges and leaves flat areas alone', () => {
    const cam = camera([0, -3, 2], [0, 0, 0], 48);
    const s = scene([prim(1, { type: 'plane', halfExtents: [10, 10], checker: 100 }, [0, 0, 0]), prim(2, { type: 'sphere', radius: 0.5 }, [0, 0, 0.5])], cam, false);
    const plain = Uint8Array.from(new Renderer().render(s, 'cam', ['rgb']).rgb!);
    const aa = new Renderer({ supersample: 3 }).render(s, 'cam', ['rgb']).rgb!;
    let changed = 0;
    let bigFlat = 0;
    for (let i = 0; i < plain.length; i++) {
      if (plain[i] !== aa[i]) changed++;
      if (Math.abs(plain[i]! - aa[i]!) > 60) bigFlat++;
    }
    expect(changed).toBeGreaterThan(20);
    expect(changed).toBeLessThan(plain.length / 4);
    expect(bigFlat).toBeLessThan(plain.length / 20);
    expect(() => new Renderer({ supersample: 5 })).toThrowError(/supersample/);
  });

  it('any resolution from 32x32 to 512x512, non-square too', () => {
    for (const [w, h] of [[32, 32], [100, 40], [512, 512]] as const) {
      const cam = { ...camera([0, -3, 2], [0, 0, 0]), width: w, height: h };
      const f = new Renderer().render(scene([prim(2, { type: 'sphere', radius: 0.5 }, [0, 0, 0])], cam), 'cam', ALL);
      expect(f.rgb!.length).toBe(w * h * 3);
      expect(f.depth!.length).toBe(w * h);
      expect(f.flow!.length).toBe(w * h * 2);
      // The sphere is centred in every image.
      expect(f.segmentation![Math.floor(h / 2) * w + Math.floor(w / 2)]).toBe(2);
    }
  });

  it('cameras attached to a body move with it', async () => {
    const doc = loadEnv('PushCube-v1').config;
    const { validateEnvConfig } = await import('../../../src/config/parse.js');
    const cfg = structuredClone(doc) as unknown as Record<string, unknown>;
    (cfg.cameras as unknown[]).push({ name: 'wrist', resolution: [32, 32], position: [0, 0, 0.2], lookAt: [0.1, 0, 0], attach: 'pusher' });
    const env = await createEnv(validateEnvConfig(cfg, 'inline'));
    env.reset({ seed: 1 });
    const before = env.snapshot().cameras[1]!;
    for (let t = 0; t < 5; t++) env.step([1, 0]);
    const after = env.snapshot().cameras[1]!;
    expect(after.position[0] - before.position[0]).toBeCloseTo(0.3 * 0.25, 3);
    expect(after.position[2]).toBeCloseTo(before.position[2], 6);
    env.close();
  });
});

describe('shadow outlines on the ground', () => {
  it('match brute-force shadow rays against the boxes, pixel by pixel', () => {
    const size = 96;
    const cam = camera([0.5, -3, 2.5], [0, 0, 0.3], size);
    const boxes = [
      prim(2, { type: 'box', halfExtents: [0.4, 0.3, 0.05] }, [0, 0, 0.6], quatFromAxisAngle([0, 0, 1], 0.4)),
      prim(3, { type: 'box', halfExtents: [0.15, 0.15, 0.15] }, [0.6, 0.4, 0.15], quatFromAxisAngle([1, 1, 0], 0.3)),
    ];
    const s = scene([prim(1, { type: 'plane', halfExtents: [10, 10], checker: 100 }, [0, 0, 0]), ...boxes], cam, true);
    const f = new Renderer().render(s, 'cam', ['rgb', 'depth', 'segmentation']);
    const L = s.light.direction;
    const ln = Math.hypot(...L);
    const l: Vec3 = [L[0] / ln, L[1] / ln, L[2] / ln];
    const cal = calibration(cam);
    // Independent slab test in each box's frame.
    const hits = (p: Vec3, b: Primitive) => {
      const q = b.quaternion;
      const inv: Quat = [q[0], -q[1], -q[2], -q[3]];
      const o = rotate(inv, [p[0] - b.position[0], p[1] - b.position[1], p[2] - b.position[2]]);
      const d = rotate(inv, l);
      const h = (b.shape as { halfExtents: Vec3 }).halfExtents;
      let t0 = 1e-6;
      let t1 = Infinity;
      for (let k = 0; k < 3; k++) {
        if (Math.abs(d[k]!) < 1e-12) {
          if (Math.abs(o[k]!) > h[k]!) return false;
          continue;
        }
        const a = (-h[k]! - o[k]!) / d[k]!;
        const c = (h[k]! - o[k]!) / d[k]!;
        t0 = Math.max(t0, Math.min(a, c));
        t1 = Math.min(t1, Math.max(a, c));
      }
      return t0 <= t1;
    };
    let ground = 0;
    let shadowed = 0;
    let mismatches = 0;
    // Lit ground is >= 0.78 * 204 * (0.3 + 0.8 * 0.93) ~ 166 in red, shadowed <= 204 * 0.3 ~ 61.
    for (let v = 0; v < size; v++) {
      for (let u = 0; u < size; u++) {
        const idx = v * size + u;
        if (f.segmentation![idx] !== 1) continue;
        ground++;
        const z = f.depth![idx]!;
        const X = ((u + 0.5 - cal.K[0]![2]!) / cal.K[0]![0]!) * z;
        const Y = ((v + 0.5 - cal.K[1]![2]!) / cal.K[1]![1]!) * z;
        const M = cal.cameraToWorld;
        const P = [0, 1, 2].map((r) => M[r]![0]! * X + M[r]![1]! * Y + M[r]![2]! * z + M[r]![3]!) as Vec3;
        const expectDark = boxes.some((b) => hits(P, b));
        const dark = f.rgb![3 * idx]! < 120;
        if (expectDark) shadowed++;
        if (dark !== expectDark) mismatches++;
      }
    }
    expect(ground).toBeGreaterThan(3000);
    expect(shadowed).toBeGreaterThan(200);
    expect(mismatches).toBeLessThanOrEqual(Math.ceil(shadowed * 0.01)); // edge pixels only
  });
});

describe('a renderer reused across frames', () => {
  // The renderer keeps what stays still between a view's frames (the ground's visibility, its
  // checker and shadow-grid coordinates); every frame must still be the bytes a fresh renderer makes.
  const ground = (z: number, checker = 0.5) => prim(1, { type: 'plane', halfExtents: [4, 4], checker }, [0, 0, z]);
  const table = prim(2, { type: 'box', halfExtents: [0.8, 0.5, 0.05] }, [0, 0, -0.45]);
  const ball = (x: number) => prim(3, { type: 'sphere', radius: 0.2 }, [x, 0.1, 0]);
  const cube = (x: number, angle: number) => prim(4, { type: 'box', halfExtents: [0.15, 0.15, 0.15] }, [0.2, x, 0.1], quatFromAxisAngle([0, 0, 1], angle));
  const front = camera([0.4, -3, 1.6], [0, 0, -0.2], 48);
  const side = { ...camera([3, 0.5, 1.2], [0, 0, -0.2], 40), name: 'side' };
  const lit = (s: SceneSnapshot, direction: Vec3, shadows = true): SceneSnapshot => ({ ...s, light: { ...s.light, direction, shadows } });
  const twoCameras = (prims: Primitive[], cam = front) => ({ ...scene(prims, cam), cameras: [cam, side] });
  const frames: SceneSnapshot[] = [
    twoCameras([ground(-0.5), table, ball(-0.5), cube(0, 0)]),
    twoCameras([ground(-0.5), table, ball(-0.5), cube(0, 0)]), // nothing moved
    twoCameras([ground(-0.5), table, ball(-0.3), cube(0.1, 0.3)]), // the objects move
    twoCameras([ground(-0.5), table, ball(-0.1), cube(0.2, 0.6)]),
    twoCameras([ground(-0.5), table, ball(0.1), cube(0.2, 0.6)]), // only the ball moves
    twoCameras([ground(-0.5), table, ball(0.1), cube(0.2, 0.6)], { ...front, position: [0.5, -3, 1.6] }), // the camera moves
    twoCameras([ground(-0.45), table, ball(0.1), cube(0.2, 0.6)]), // the ground moves
    twoCameras([ground(-0.45, 0.25), table, ball(0.1), cube(0.2, 0.6)]), // its checker changes
    lit(twoCameras([ground(-0.45, 0.25), table, ball(0.1), cube(0.2, 0.6)]), [-0.4, 0.2, 0.9]), // the light turns
    lit(twoCameras([ground(-0.45, 0.25), table, ball(0.1), cube(0.2, 0.6)]), [-0.4, 0.2, 0.9], false), // shadows off
    twoCameras([ground(-0.45, 0.25), table, ball(0.3)]), // a primitive fewer
    twoCameras([ground(-0.45, 0.25), table, ball(0.3), cube(0, 1), cube(0.4, 2)]), // more
  ];

  it.each([1, 2])('gives every frame the bytes of a fresh renderer, for any order of cameras (supersample %i)', (supersample) => {
    const reused = new Renderer({ supersample });
    let compared = 0;
    for (const [i, s] of frames.entries()) {
      // Alternate the order of the cameras, and show one of them twice in a row.
      const order = i % 2 === 0 ? ['cam', 'side'] : ['side', 'cam', 'cam'];
      for (const view of order) {
        const got = reused.render(s, view, ALL, frames[i + 1]);
        const want = new Renderer({ supersample }).render(s, view, ALL, frames[i + 1]);
        for (const c of ALL) {
          const a = got[c]!;
          const b = want[c]!;
          expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `frame ${i}, ${view}, ${c}`).toBe(true);
          compared++;
        }
      }
    }
    expect(compared).toBe(frames.length * 2.5 * ALL.length);
  });

  it('sees the scene change: a moved object is drawn where it now is', () => {
    const r = new Renderer();
    const at = (x: number) => r.render(scene([ground(-0.5), ball(x)], front), 'cam', ['segmentation']).segmentation!.slice();
    const left = at(-0.5);
    at(-0.5);
    const right = at(0.5);
    const column = (seg: Uint16Array) => {
      let sum = 0;
      let n = 0;
      seg.forEach((id, idx) => {
        if (id === 3) {
          sum += idx % 48;
          n++;
        }
      });
      return sum / n;
    };
    expect(column(right) - column(left)).toBeGreaterThan(8);
  });
});
