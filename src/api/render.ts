/**
 * Rendering helpers over the Renderer (pure TypeScript, no WASM): every camera of a snapshot in
 * one call, and PNG encoding (fast-png, imported on first use).
 */
import { TrajforgeError } from '../core/errors.js';
import type { SceneSnapshot } from '../core/scene.js';
import { CHANNELS, Renderer, type Channel, type FrameSet } from '../render/renderer.js';

export interface RenderSnapshotOptions {
  /** Camera names (default: every camera of the scene). */
  cameras?: readonly string[];
  /** Channels (default: what each camera declares). */
  channels?: readonly Channel[];
  /** The scene one step later: needed for optical flow (zero without it). */
  next?: SceneSnapshot;
  /** A renderer to reuse (it keeps its buffers between calls); default: a new one. */
  renderer?: Renderer;
  /** rgb supersampling factor 1 to 4 when no renderer is given. Default 1. */
  supersample?: number;
}

/**
 * Renders the cameras of a scene snapshot (`env.snapshot()`), keyed by camera name. Unlike
 * `Renderer.render`, whose arrays are views it overwrites on the next call, the frames returned
 * here are copies the caller owns.
 */
export function renderSnapshot(scene: SceneSnapshot, options: RenderSnapshotOptions = {}): Record<string, FrameSet> {
  const renderer = options.renderer ?? new Renderer(options.supersample === undefined ? {} : { supersample: options.supersample });
  const names = options.cameras ?? scene.cameras.map((c) => c.name);
  const out: Record<string, FrameSet> = {};
  for (const name of names) {
    const cam = scene.cameras.find((c) => c.name === name);
    if (!cam) throw new TrajforgeError('E_USAGE', `renderSnapshot: no camera '${name}' (cameras: ${scene.cameras.map((c) => c.name).join(', ') || 'none'})`);
    const channels = options.channels ?? (cam.channels.filter((c) => (CHANNELS as readonly string[]).includes(c)) as Channel[]);
    const f = renderer.render(scene, cam, channels, options.next);
    out[name] = {
      width: f.width,
      height: f.height,
      ...(f.rgb ? { rgb: f.rgb.slice() } : {}),
      ...(f.depth ? { depth: f.depth.slice() } : {}),
      ...(f.segmentation ? { segmentation: f.segmentation.slice() } : {}),
      ...(f.flow ? { flow: f.flow.slice() } : {}),
      ...(f.normals ? { normals: f.normals.slice() } : {}),
    };
  }
  return out;
}

/**
 * PNG bytes of an image: rgb (3 channels, the default), grey or rgba; uint8 or uint16 (16-bit
 * PNG, e.g. segmentation ids). Use depthToRgb & co. for false-colour pictures of other channels.
 */
export async function encodePng(width: number, height: number, data: Uint8Array | Uint16Array, channels: 1 | 3 | 4 = 3): Promise<Uint8Array> {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || data.length !== width * height * channels) {
    throw new TrajforgeError('E_USAGE', `encodePng: ${width}x${height}x${channels} needs ${width * height * channels} values, got ${data.length}`);
  }
  const png = await import('../render/png.js');
  return png.encodePng(width, height, data, channels);
}
