import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rotate, type Quat, type Vec3 } from '../../core/math.js';
import type { PrimitiveShape } from '../../core/scene.js';
import type { ChannelFrames, EpisodeData } from '../../dataset/episode.js';
import { pngBytes as encodePng } from '../png.js';
import { TrajforgeError, asIoError } from '../../core/errors.js';
import { removeMatching } from '../../dataset/journal.js';
import { JournaledSink, dirBytes, type Intact, type JournalEntry } from '../../dataset/sink.js';
import type { DatasetMeta } from '../../dataset/meta.js';
import { encodeFloatTiff } from './tiff.js';
import { removeOwn } from '../../output/remove.js';

/**
 * Kubric-style per-frame annotation folders: DIR/episode_NNNNNN/ with, for frame t of the T + 1
 * observations, `rgba_ttttt.png` (RGBA8), `segmentation_ttttt.png` (body ids; 8-bit when every id
 * fits, else 16-bit), `depth_ttttt.tiff` (float32 distance to the camera centre, as Kubric —
 * converted from our z-depth), `forward_flow_ttttt.png` (RGB16: (Δrow, Δcol, 0) min-max scaled per
 * episode, ranges in data_ranges.json), `normal_ttttt.png` (RGB16, (n + 1) / 2), plus
 * metadata.json (scene, camera per frame, per-object tracks: positions, wxyz quaternions,
 * velocities, image positions, visibility, 2-D and 3-D boxes) and events.json. The first camera
 * with rgb is written at the top level; further cameras in a sub-folder named after them, each
 * with its own metadata.json.
 * Extra features (`EpisodeData.extras`, e.g. latents) and provenance are not written: Kubric's
 * layout is image layers plus scene metadata, with no place for per-step vectors.
 */
const PROGRESS = '.trajforge-frames';
const EPISODE_DIR = /^episode_(\d{6})(\.tmp)?$/;

/** One file of an episode folder: its path inside the folder and its bytes. */
interface EpisodeFile {
  path: string;
  data: Uint8Array;
}

const TEXT = new TextEncoder();

export class FramesSink extends JournaledSink<EpisodeFile[]> {
  protected readonly progress = PROGRESS;

  entries(): string[] {
    // Per episode: the first camera's files, further cameras' in a folder each.
    return ['episode_\\d+(\\.tmp)?/([^/]+/)?((rgba|segmentation|normal|forward_flow)_\\d+\\.png|depth_\\d+\\.tiff|(metadata|events|data_ranges)\\.json)'];
  }

  /** Its folders are per-frame images of a camera: an environment without one has nothing to write here. */
  check(meta: DatasetMeta): void {
    if (meta.cameras.length === 0) throw new TrajforgeError('E_USAGE', `${meta.envId} has no camera, and the frames format holds per-frame images of one: add a camera to the environment or leave frames out of --format`);
  }

  encode(ep: EpisodeData, meta: DatasetMeta): EpisodeFile[] {
    const files: EpisodeFile[] = [];
    const put = (path: string, data: Uint8Array | string) => files.push({ path, data: typeof data === 'string' ? TEXT.encode(data) : data });
    const cams = meta.cameras;
    const ranges: Record<string, { min: number; max: number }> = {};
    const segBits = meta.bodyNames.length < 256 ? 8 : 16;
    for (const [ci, cam] of cams.entries()) {
      const at = (file: string) => (ci === 0 ? file : `${cam.name}/${file}`);
      const frame = (channel: string, t: number): ChannelFrames & { view: Uint8Array | Float32Array | Uint16Array } | null => {
        const f = ep.frames.find((x) => x.camera === cam.name && x.channel === channel);
        const last = ep.finalFrames.find((x) => x.camera === cam.name && x.channel === channel);
        if (!f || !last) return null;
        const per = last.data.length;
        return { ...f, view: t < ep.length ? f.data.subarray(t * per, (t + 1) * per) : last.data };
      };
      const { width: W, height: H } = cam;
      // Episodes from video (trajforge label) carry no camera track: no intrinsics, and no depth to convert.
      const K = ep.cameras.find((c) => c.name === cam.name)?.K;
      const flowAll = ep.frames.find((x) => x.camera === cam.name && x.channel === 'flow');
      let fmin = 0;
      let fmax = 0;
      if (flowAll) {
        fmin = Infinity;
        fmax = -Infinity;
        for (const v of flowAll.data as Float32Array) {
          if (v < fmin) fmin = v;
          if (v > fmax) fmax = v;
        }
        fmin = Math.min(fmin, 0);
        fmax = Math.max(fmax, 0);
        ranges[ci === 0 ? 'forward_flow' : `${cam.name}/forward_flow`] = { min: fmin, max: fmax };
      }
      let dmin = Infinity;
      let dmax = -Infinity;
      for (let t = 0; t <= ep.length; t++) {
        const id = String(t).padStart(5, '0');
        const rgb = frame('rgb', t);
        if (rgb) {
          const rgba = new Uint8Array(W * H * 4);
          for (let i = 0; i < W * H; i++) {
            rgba[4 * i] = rgb.view[3 * i]!;
            rgba[4 * i + 1] = rgb.view[3 * i + 1]!;
            rgba[4 * i + 2] = rgb.view[3 * i + 2]!;
            rgba[4 * i + 3] = 255;
          }
          put(at(`rgba_${id}.png`), encodePng(W, H, rgba, 4));
        }
        const seg = frame('segmentation', t);
        if (seg) {
          const ids = seg.view as Uint16Array;
          put(at(`segmentation_${id}.png`), segBits === 8 ? encodePng(W, H, Uint8Array.from(ids), 1) : encodePng(W, H, ids, 1));
        }
        const depth = frame('depth', t);
        if (depth && K) {
          const z = depth.view as Float32Array;
          const dist = new Float32Array(W * H);
          for (let v = 0; v < H; v++) {
            for (let u = 0; u < W; u++) {
              const a = (u + 0.5 - K[0]![2]!) / K[0]![0]!;
              const b = (v + 0.5 - K[1]![2]!) / K[1]![1]!;
              const d = z[v * W + u]! * Math.sqrt(1 + a * a + b * b);
              dist[v * W + u] = d;
              if (Number.isFinite(d)) {
                if (d < dmin) dmin = d;
                if (d > dmax) dmax = d;
              }
            }
          }
          put(at(`depth_${id}.tiff`), encodeFloatTiff(W, H, dist));
        }
        const flow = frame('flow', t);
        if (flow) {
          const f = flow.view as Float32Array;
          const px = new Uint16Array(W * H * 3);
          const span = fmax - fmin || 1;
          for (let i = 0; i < W * H; i++) {
            px[3 * i] = Math.round(((f[2 * i + 1]! - fmin) / span) * 65535); // Δrow
            px[3 * i + 1] = Math.round(((f[2 * i]! - fmin) / span) * 65535); // Δcol
          }
          put(at(`forward_flow_${id}.png`), encodePng(W, H, px, 3));
        }
        const normals = frame('normals', t);
        if (normals) {
          const n = normals.view as Float32Array;
          put(at(`normal_${id}.png`), encodePng(W, H, Uint16Array.from(n, (x) => Math.round(((x + 1) / 2) * 65535)), 3));
        }
      }
      if (Number.isFinite(dmin)) ranges[ci === 0 ? 'depth' : `${cam.name}/depth`] = { min: dmin, max: dmax };
      // Each camera's folder has its own: Kubric's metadata describes one camera (intrinsics, poses, image positions, boxes).
      put(at('metadata.json'), `${JSON.stringify(metadataJson(ep, meta, cam, segBits), null, 1)}\n`);
    }
    put('data_ranges.json', `${JSON.stringify(ranges, null, 2)}\n`);
    put('events.json', `${JSON.stringify({ collisions: collisionEvents(ep, meta) }, null, 1)}\n`);
    return files;
  }

  /** The folder is written as episode_N.tmp and renamed into place: it is there whole or not at all. */
  protected commit(files: EpisodeFile[], _ep: EpisodeData, position: number): { files: Record<string, number> } {
    const name = episodeName(position);
    const tmp = join(this.dir, `${name}.tmp`);
    removeOwn(tmp);
    const sizes: Record<string, number> = {};
    // Plain writes: the folder is renamed into place whole, so no file needs a rename of its own.
    for (const folder of new Set(files.map((f) => dirname(join(tmp, f.path))))) mkdirSync(folder, { recursive: true });
    for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      const file = join(tmp, f.path);
      try {
        writeFileSync(file, f.data);
      } catch (e) {
        throw asIoError(e, file);
      }
      sizes[`${name}/${f.path}`] = f.data.byteLength;
    }
    renameSync(tmp, join(this.dir, name));
    return { files: sizes };
  }

  protected override intact(lines: readonly (JournalEntry & { files: Record<string, number> })[], damage: string | null): Intact {
    const missing = lines.findIndex((_, i) => !existsSync(join(this.dir, episodeName(i))));
    const checked = super.intact(missing >= 0 ? lines.slice(0, missing) : lines, damage);
    return checked.problem === undefined && missing >= 0 ? { count: missing, problem: `${episodeName(missing)} missing` } : checked;
  }

  protected override unitName(position: number): string {
    return episodeName(position);
  }

  /** Folders the kept lines do not vouch for (unfinished, discarded, or renamed but never journaled) go. */
  protected override start(kept: readonly JournalEntry[]): void {
    removeMatching(this.dir, (name) => {
      const m = EPISODE_DIR.exec(name);
      return m !== null && (m[2] !== undefined || Number(m[1]) >= kept.length);
    });
  }

  protected finish(): number {
    return dirBytes(this.dir);
  }
}

const episodeName = (i: number) => `episode_${String(i).padStart(6, '0')}`;


function metadataJson(ep: EpisodeData, meta: DatasetMeta, cam: DatasetMeta['cameras'][number], segBits: number) {
  const N = ep.length + 1;
  const { width: W, height: H } = cam;
  const flags = { source: 'trajforge', env_id: meta.envId, config_hash: meta.configHash, seed: ep.seed, episode: ep.episode, segmentation_bits: segBits };
  const metadata = { resolution: [W, H], frame_rate: meta.fps, step_rate: meta.config ? Math.round(1 / meta.config.world.timestep) : meta.fps, ...(meta.config ? { gravity: meta.config.world.gravity } : {}), num_frames: N, num_instances: ep.bodies.length, success: ep.success[ep.length - 1] === 1 };
  const track = ep.cameras.find((c) => c.name === cam.name);
  // Frames from video (trajforge label): no camera pose or intrinsics, no simulated bodies.
  if (!track) return { flags, metadata, instances: [] };
  const K = track.K;
  const fx = K[0]![0]!;
  const SENSOR_MM = 32;
  const poses = Array.from({ length: N }, (_, t) => ({
    p: track.positions.slice(3 * t, 3 * t + 3) as Vec3,
    q: track.quaternions.slice(4 * t, 4 * t + 4) as Quat,
  }));
  const seg = ep.frames.find((x) => x.camera === cam.name && x.channel === 'segmentation');
  const segFinal = ep.finalFrames.find((x) => x.camera === cam.name && x.channel === 'segmentation');
  const segAt = (t: number) => (seg && segFinal ? (t < ep.length ? seg.data.subarray(t * W * H, (t + 1) * W * H) : segFinal.data) : null);
  const project = (x: Vec3, t: number): [number, number] => {
    const { p, q } = poses[t]!;
    const d: Vec3 = [x[0] - p[0], x[1] - p[1], x[2] - p[2]];
    const r = rotate(q, [1, 0, 0]);
    const u = rotate(q, [0, 1, 0]);
    const f = rotate(q, [0, 0, -1]);
    const z = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
    return [(K[0]![2]! + (fx * (d[0] * r[0] + d[1] * r[1] + d[2] * r[2])) / z) / W, (K[1]![2]! - (K[1]![1]! * (d[0] * u[0] + d[1] * u[1] + d[2] * u[2])) / z) / H];
  };
  const instances = ep.bodies.map((b) => {
    const visibility: number[] = [];
    const bboxes: number[][] = [];
    const bboxFrames: number[] = [];
    for (let t = 0; t < N; t++) {
      const s = segAt(t);
      if (!s) continue;
      let count = 0;
      let y0 = Infinity, x0 = Infinity, y1 = -Infinity, x1 = -Infinity;
      for (let i = 0; i < s.length; i++) {
        if (s[i] !== b.id) continue;
        count++;
        const y = Math.floor(i / W);
        const x = i % W;
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y + 1);
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x + 1);
      }
      visibility.push(count);
      if (count > 0) {
        bboxes.push([y0 / H, x0 / W, y1 / H, x1 / W]);
        bboxFrames.push(t);
      }
    }
    const half = halfExtents(b.shape);
    const corners: Vec3[] = [];
    for (let c = 0; c < 8; c++) corners.push([c & 1 ? half[0] : -half[0], c & 2 ? half[1] : -half[1], c & 4 ? half[2] : -half[2]]);
    return {
      asset_id: b.shape.type,
      id: b.id,
      name: b.name,
      mass: b.mass,
      friction: b.friction,
      restitution: b.restitution,
      positions: chunk(b.positions, 3),
      quaternions: chunk(b.quaternions, 4),
      velocities: chunk(b.velocities, 3),
      angular_velocities: chunk(b.angularVelocities, 3),
      image_positions: Array.from({ length: N }, (_, t) => project(b.positions.slice(3 * t, 3 * t + 3) as Vec3, t)),
      bboxes_3d: Array.from({ length: N }, (_, t) => {
        const p = b.positions.slice(3 * t, 3 * t + 3) as Vec3;
        const q = b.quaternions.slice(4 * t, 4 * t + 4) as Quat;
        return corners.map((c) => {
          const w = rotate(q, c);
          return [w[0] + p[0], w[1] + p[1], w[2] + p[2]];
        });
      }),
      visibility: seg ? visibility : null,
      bboxes,
      bbox_frames: bboxFrames,
    };
  });
  return {
    flags,
    metadata,
    camera: {
      focal_length: (fx / W) * SENSOR_MM,
      sensor_width: SENSOR_MM,
      field_of_view: 2 * Math.atan(W / 2 / fx),
      positions: chunk(track.positions, 3),
      quaternions: chunk(track.quaternions, 4),
      // Intrinsics normalised to a 1 x 1 image (principal point at 0.5, 0.5); pixel K alongside.
      K: [
        [fx / W, 0, K[0]![2]! / W],
        [0, K[1]![1]! / H, K[1]![2]! / H],
        [0, 0, 1],
      ],
      K_pixels: K,
      R: poses.map(({ p, q }) => {
        const r = rotate(q, [1, 0, 0]);
        const u = rotate(q, [0, 1, 0]);
        const b = rotate(q, [0, 0, 1]);
        return [
          [r[0], u[0], b[0], p[0]],
          [r[1], u[1], b[1], p[1]],
          [r[2], u[2], b[2], p[2]],
          [0, 0, 0, 1],
        ];
      }),
    },
    instances,
  };
}

/** Kubric's events.json collisions: instances (body ids), frame, position, normal, force, image position. */
function collisionEvents(ep: EpisodeData, meta: DatasetMeta) {
  const cam = meta.cameras[0];
  const track = cam ? ep.cameras.find((c) => c.name === cam.name) : undefined;
  const dt = 1 / meta.fps;
  return ep.collisions.map((c) => {
    let image_position: [number, number] | null = null;
    if (track && cam && c.position) {
      const t = c.frame;
      const p = track.positions.slice(3 * t, 3 * t + 3) as Vec3;
      const q = track.quaternions.slice(4 * t, 4 * t + 4) as Quat;
      const d: Vec3 = [c.position[0] - p[0], c.position[1] - p[1], c.position[2] - p[2]];
      const r = rotate(q, [1, 0, 0]);
      const u = rotate(q, [0, 1, 0]);
      const f = rotate(q, [0, 0, -1]);
      const z = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
      if (z > 0) {
        const K = track.K;
        image_position = [(K[0]![2]! + (K[0]![0]! * (d[0] * r[0] + d[1] * r[1] + d[2] * r[2])) / z) / cam.width, (K[1]![2]! - (K[1]![1]! * (d[0] * u[0] + d[1] * u[1] + d[2] * u[2])) / z) / cam.height];
      }
    }
    return { instances: c.instances, frame: c.frame, position: c.position, contact_normal: c.normal, force: c.impulse / dt, image_position };
  });
}

function chunk(xs: number[], n: number): number[][] {
  return Array.from({ length: xs.length / n }, (_, i) => xs.slice(i * n, i * n + n));
}

function halfExtents(s: PrimitiveShape): Vec3 {
  switch (s.type) {
    case 'box':
      return s.halfExtents;
    case 'sphere':
      return [s.radius, s.radius, s.radius];
    case 'capsule':
      return [s.radius, s.radius, s.halfHeight + s.radius];
    case 'cylinder':
      return [s.radius, s.radius, s.halfHeight];
    case 'plane':
      return [s.halfExtents[0], s.halfExtents[1], 0];
  }
}


