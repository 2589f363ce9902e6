import type { Action } from '../core/spaces.js';
import { deriveSeed } from '../core/rng.js';
import { isPending, type AnyPolicy } from '../policy/policy.js';
import { calibration } from '../render/camera.js';
import { Renderer, type Channel } from '../render/renderer.js';
import type { PhysicsEnv } from '../sim/env.js';
import type { BodyTrack, CameraTrack, ChannelFrames, EpisodeData } from '../dataset/episode.js';

export interface CameraRequest {
  name: string;
  channels: Channel[];
}

/**
 * Rolls out one episode from `seed` and renders every requested camera channel at every step.
 * An action that is pending (an ONNX policy's) is awaited; a synchronous policy's step never
 * awaits, so the loop runs as a plain synchronous one and only the result is a promise.
 */
export async function simulateEpisode(env: PhysicsEnv, policy: AnyPolicy, renderer: Renderer, episode: number, seed: number, cameras: CameraRequest[]): Promise<EpisodeData> {
  const obsDim = env.observationSpace.shape[0];
  const discrete = env.actionSpace.type === 'discrete';
  const actionDim = env.actionSpace.type === 'box' ? env.actionSpace.shape[0] : 1;
  const obs: number[] = [];
  const actions: number[] = [];
  const rewards: number[] = [];
  const terminated: number[] = [];
  const truncated: number[] = [];
  const success: number[] = [];
  const chunks = new Map<string, ArrayBufferView[]>();
  const tracks: CameraTrack[] = [];
  const collisions: EpisodeData['collisions'] = [];
  const sizes = new Map<string, [number, number]>();
  let simTime = 0;
  let renderTime = 0;

  let t0 = performance.now();
  let o = env.reset({ seed }).obs;
  policy.reset(deriveSeed(seed, 'policy'));
  let scene = env.snapshot();
  const description = env.worldDescription();
  const bodies: BodyTrack[] = scene.primitives.map((p) => {
    const d = description.bodies.find((b) => b.id === p.id)!;
    return { id: p.id, name: p.name, shape: p.shape, mass: d.mass ?? NaN, friction: d.friction, restitution: d.restitution, positions: [], quaternions: [], velocities: [], angularVelocities: [] };
  });
  const recordBodies = () => {
    for (const [i, p] of scene.primitives.entries()) {
      const b = bodies[i]!;
      b.positions.push(...p.position);
      b.quaternions.push(...p.quaternion);
      b.velocities.push(...p.linearVelocity);
      b.angularVelocities.push(...p.angularVelocity);
    }
  };
  recordBodies();
  simTime += performance.now() - t0;
  for (;;) {
    t0 = performance.now();
    const acted = policy.act(o, env);
    const a: Action = isPending(acted) ? await acted : acted;
    const r = env.step(a);
    const next = env.snapshot();
    const t1 = performance.now();
    simTime += t1 - t0;
    for (const cam of cameras) {
      const snap = scene.cameras.find((c) => c.name === cam.name);
      if (snap) {
        let track = tracks.find((t) => t.name === cam.name);
        if (!track) {
          const cal = calibration(snap);
          track = { name: cam.name, K: cal.K, worldToCamera: cal.worldToCamera, positions: [], quaternions: [] };
          tracks.push(track);
        }
        track.positions.push(...snap.position);
        track.quaternions.push(...snap.quaternion);
      }
      if (cam.channels.length === 0) continue;
      const frames = renderer.render(scene, cam.name, cam.channels, next);
      for (const ch of cam.channels) {
        const key = `${cam.name}/${ch}`;
        const data = frames[ch]!;
        if (!chunks.has(key)) {
          chunks.set(key, []);
          sizes.set(key, [frames.width, frames.height]);
        }
        chunks.get(key)!.push(data.slice());
      }
    }
    renderTime += performance.now() - t1;
    for (let i = 0; i < obsDim; i++) obs.push(o[i]!);
    if (typeof a === 'number') actions.push(a);
    else for (let i = 0; i < actionDim; i++) actions.push(a[i]!);
    rewards.push(r.reward);
    terminated.push(r.terminated ? 1 : 0);
    truncated.push(r.truncated ? 1 : 0);
    success.push(r.info.success ? 1 : 0);
    o = r.obs;
    scene = next;
    recordBodies();
    for (const c of r.info.collisions) collisions.push({ ...c, frame: rewards.length });
    if (r.terminated || r.truncated) break;
  }
  const t2 = performance.now();
  const finalFrames: ChannelFrames[] = [];
  for (const cam of cameras) {
    const snap = scene.cameras.find((c) => c.name === cam.name);
    const track = tracks.find((t) => t.name === cam.name);
    if (snap && track) {
      track.positions.push(...snap.position);
      track.quaternions.push(...snap.quaternion);
    }
    if (cam.channels.length === 0) continue;
    const f = renderer.render(scene, cam.name, cam.channels);
    for (const ch of cam.channels) finalFrames.push({ camera: cam.name, channel: ch, width: f.width, height: f.height, data: f[ch]!.slice() });
  }
  renderTime += performance.now() - t2;
  const frames: ChannelFrames[] = [];
  for (const cam of cameras) {
    for (const ch of cam.channels) {
      const key = `${cam.name}/${ch}`;
      const parts = chunks.get(key)!;
      const [width, height] = sizes.get(key)!;
      frames.push({ camera: cam.name, channel: ch, width, height, data: concat(parts) });
    }
  }
  return {
    episode,
    seed,
    length: rewards.length,
    obsDim,
    actionDim,
    discrete,
    obs: Float32Array.from(obs),
    actions: Float32Array.from(actions),
    rewards: Float32Array.from(rewards),
    terminated: Uint8Array.from(terminated),
    truncated: Uint8Array.from(truncated),
    success: Uint8Array.from(success),
    frames,
    finalObs: Float32Array.from(o),
    finalFrames,
    cameras: tracks,
    bodies,
    collisions,
    simSeconds: simTime / 1000,
    renderSeconds: renderTime / 1000,
  };
}

function concat(parts: ArrayBufferView[]): Uint8Array | Float32Array | Uint16Array {
  const first = parts[0] as Uint8Array | Float32Array | Uint16Array;
  const n = parts.reduce((s, p) => s + (p as Uint8Array).length, 0);
  const out = new (first.constructor as { new (n: number): Uint8Array | Float32Array | Uint16Array })(n);
  let o = 0;
  for (const p of parts) {
    out.set(p as Uint8Array, o);
    o += (p as Uint8Array).length;
  }
  return out;
}
